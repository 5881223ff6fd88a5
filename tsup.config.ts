import { defineConfig } from 'tsup';

// One entry per runtime; each only obtains the WebAssembly.Module. focal_loss.wasm is copied
// next to these files by scripts/build.mjs.
export default defineConfig({
  entry: { node: 'ts/entries/node.ts', browser: 'ts/entries/browser.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: false,
  splitting: false,
  shims: true,
  target: 'es2022',
  outDir: 'dist',
  sourcemap: false,
});
