// Cloudflare Workers (workerd): Workers refuse to compile WebAssembly from bytes, so the .wasm is
// imported as a module (wrangler / workerd turn `import x from './y.wasm'` into a compiled
// WebAssembly.Module) and instantiated at module top level — no `await init()` needed.
import wasmModule from './focal_loss.wasm';
import { initSyncWith, initWith, type InitInput, type InitSyncInput } from '../loader.js';

export * from '../index.js';

initSyncWith(wasmModule);

/** Already done at import; resolves at once. */
export function init(source?: InitInput): Promise<void> {
  return initWith(source, () => wasmModule);
}

/** Already done at import. */
export function initSync(source?: InitSyncInput): void {
  initSyncWith(source ?? wasmModule);
}
