// Vercel Edge (edge-light): like Workers, the Edge runtime refuses to compile WebAssembly from
// bytes; Vercel's bundler turns `import x from './y.wasm?module'` into a compiled
// WebAssembly.Module, instantiated here at module top level — no `await init()` needed.
import wasmModule from './focal_loss.wasm?module';
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
