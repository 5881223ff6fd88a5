import { defineConfig, type Options } from 'tsup';

// One entry per runtime; each only obtains the WebAssembly.Module (ts/entries/). focal_loss.wasm is
// copied next to these files by scripts/build.mjs. The workerd / edge-light entries import the .wasm
// as a module: those imports stay relative imports of the built file (the host's bundler resolves them).
const keepWasmImports = {
  name: 'keep-wasm-imports',
  setup(build: { onResolve: (o: { filter: RegExp }, f: (a: { path: string }) => { path: string; external: boolean }) => void }) {
    build.onResolve({ filter: /\.wasm(\?module)?$/ }, (args) => ({ path: args.path, external: true }));
  },
};

const common: Options = {
  clean: false,
  splitting: false,
  target: 'es2022',
  outDir: 'dist',
  sourcemap: false,
  // Every entry bundles the whole facade: whitespace and syntax minified keep the files (and the
  // tarball, whose gzip window is 32 KiB) small; identifiers stay readable in stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
};

export default defineConfig([
  // Node: ESM and CJS, and the package's types (one API for every entry). No shims: the entry finds
  // its .wasm from __filename in CJS itself (ts/entries/node.ts).
  { ...common, entry: { node: 'ts/entries/node.ts' }, format: ['esm', 'cjs'], dts: true, shims: false,
    // import.meta is empty in the CJS build, on purpose: that branch is never taken there.
    esbuildOptions: (o) => void (o.logOverride = { 'empty-import-meta': 'silent' }) },
  // Browsers: ESM, and CJS for bundlers that meet `require('focal-loss')` (import.meta.url shimmed).
  { ...common, entry: { browser: 'ts/entries/browser.ts' }, format: ['esm', 'cjs'], dts: false, shims: true },
  // ESM-only entries selected by export conditions.
  {
    ...common,
    entry: {
      deno: 'ts/entries/deno.ts',
      workerd: 'ts/entries/workerd.ts',
      'edge-light': 'ts/entries/edge-light.ts',
    },
    format: ['esm'],
    dts: false,
    esbuildPlugins: [keepWasmImports],
  },
]);
