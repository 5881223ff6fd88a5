// Vercel Edge (edge-light): like Workers, the Edge runtime refuses to compile WebAssembly from
// bytes; Vercel's bundler turns `import x from './y.wasm?module'` into a compiled
// WebAssembly.Module, instantiated here at module top level — no `await init()` needed.
import wasmModule from './focal_loss.wasm?module';
import { syncEntry } from '../loader.js';

export * from '../index.js';

export const { init, initSync } = syncEntry(() => wasmModule);
