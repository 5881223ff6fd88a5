// Cloudflare Workers (workerd): Workers refuse to compile WebAssembly from bytes, so the .wasm is
// imported as a module (wrangler / workerd turn `import x from './y.wasm'` into a compiled
// WebAssembly.Module) and instantiated at module top level — no `await init()` needed.
import wasmModule from './focal_loss.wasm';
import { syncEntry } from '../loader.js';

export * from '../index.js';

export const { init, initSync } = syncEntry(() => wasmModule);
