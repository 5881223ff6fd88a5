// focal-loss/inline (and `require('focal-loss')` under the `browser` condition): the SIMD128 build
// travels inside this file (deflated, base64), for bundlers that copy no .wasm (esbuild, Rollup,
// bun build, browserify), test runners without fetch (Jest + jsdom) and bundled server code (esbuild
// for Node, edge-runtime). Ready at import where the runtime compiles synchronously; in a browser
// page, `await init()` first. (`./focal_loss.wasm?inline` is made by tsup.config.ts at build time.)
import simdModule from './focal_loss.wasm?inline';
import { inlineEntry } from '../loader.js';

export * from '../index.js';

export const { init, initSync } = inlineEntry(simdModule);
