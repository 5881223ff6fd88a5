import { copyFileSync, readFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { defineConfig, type Options } from 'tsup';

// One entry per runtime; each only obtains the WebAssembly.Module (ts/entries/). focal_loss.wasm is
// copied next to these files by scripts/build.mjs. The workerd / edge-light entries import the .wasm
// as a module: those imports stay relative imports of the built file (the host's bundler resolves them).
const keepWasmImports = {
  name: 'keep-wasm-imports',
  setup(build: {
    onResolve: (o: { filter: RegExp }, f: (a: { path: string }) => { path: string; external: boolean }) => void;
  }) {
    build.onResolve({ filter: /\.wasm(\?module)?$/ }, (args) => ({ path: args.path, external: true }));
  },
};

// focal-loss/inline: `import m from './focal_loss.wasm?inline'` becomes dist/focal_loss.wasm (the
// SIMD128 build, already optimised and copied there by scripts/build.mjs), raw-deflated at level 9
// and base64-encoded: { size, deflated }, inflated by ts/loader.ts at init.
const inlineWasm = {
  name: 'inline-wasm',
  setup(build: {
    onResolve: (o: { filter: RegExp }, f: (a: { path: string }) => { path: string; namespace: string }) => void;
    onLoad: (
      o: { filter: RegExp; namespace: string },
      f: (a: { path: string }) => { contents: string; loader: 'js' },
    ) => void;
  }) {
    build.onResolve({ filter: /^\.\/focal_loss\.wasm\?inline$/ }, () => ({
      path: 'dist/focal_loss.wasm',
      namespace: 'wasm-inline',
    }));
    build.onLoad({ filter: /.*/, namespace: 'wasm-inline' }, (args) => {
      const wasm = readFileSync(args.path);
      const deflated = deflateRawSync(wasm, { level: 9 }).toString('base64');
      return {
        contents: `export default { size: ${wasm.length}, deflated: ${JSON.stringify(deflated)} };`,
        loader: 'js',
      };
    });
  },
};

const common: Options = {
  clean: false,
  target: 'es2022',
  outDir: 'dist',
  sourcemap: false,
  // Whitespace and syntax minified keep the files (and the tarball, whose gzip window is 32 KiB)
  // small; identifiers stay readable in stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
};

const entries = {
  node: 'ts/entries/node.ts',
  browser: 'ts/entries/browser.ts',
  inline: 'ts/entries/inline.ts',
  deno: 'ts/entries/deno.ts',
  workerd: 'ts/entries/workerd.ts',
  'edge-light': 'ts/entries/edge-light.ts',
};

export default defineConfig([
  // Every ESM entry in one build, sharing one chunk: the facade, the loader and its module slot. So
  // the facade ships once, and an application that imports two entries (focal-loss and
  // focal-loss/inline, or the tfjs adapter beside either) loads one module, initialized once. The
  // package's types come from here (one API for every entry).
  {
    ...common,
    entry: entries,
    format: ['esm'],
    splitting: true,
    dts: { entry: { node: entries.node } },
    shims: false,
    esbuildPlugins: [keepWasmImports, inlineWasm],
    // deno.ts's `import source m from './focal_loss.wasm'` (ts/entries/deno-wasm.js), kept as written.
    esbuildOptions: (o) => void (o.supported = { ...o.supported, 'import-source': true }),
  },
  // CJS: Node's `require('focal-loss')`, and the inline module for `require` elsewhere (Jest, bundlers
  // under the browser condition). No shims: the Node entry finds its .wasm from __filename itself, and
  // import.meta is empty here on purpose (that branch is never taken in CJS).
  {
    ...common,
    entry: { node: entries.node, inline: entries.inline },
    format: ['cjs'],
    splitting: false,
    dts: { entry: { node: entries.node } },
    shims: false,
    esbuildPlugins: [inlineWasm],
    esbuildOptions: (o) => void (o.logOverride = { 'empty-import-meta': 'silent' }),
  },
  // focal-loss/tfjs: the TensorFlow.js adapter. It imports the loss functions from 'focal-loss' (the package
  // itself, resolved by the runtime's export conditions: the instance the application loaded and, in a
  // browser, initialized) and '@tensorflow/tfjs-core' (an optional peer dependency): both stay imports.
  // Its types are checked against ts/index.ts (dist/node.d.ts may not exist yet while tsup runs) and keep
  // `from 'focal-loss'` in dist/tfjs.d.ts.
  {
    ...common,
    entry: { tfjs: 'ts/tfjs.ts' },
    format: ['esm', 'cjs'],
    external: ['focal-loss', '@tensorflow/tfjs-core'],
    dts: { compilerOptions: { paths: { 'focal-loss': ['./ts/index.ts'] } } },
    shims: false,
    splitting: false,
    // The types of the two raw-module subpaths of the exports map (ts/entries/wasm-file.d.cts).
    onSuccess: async () => {
      for (const name of ['focal_loss', 'focal_loss.scalar'])
        copyFileSync('ts/entries/wasm-file.d.cts', `dist/${name}.wasm.d.cts`);
    },
  },
]);
