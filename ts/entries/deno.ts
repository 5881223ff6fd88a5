// Deno: fetches focal_loss.wasm beside this file (file: or https:) with top-level await at import,
// so the functions are ready once the import resolves — no `await init()` needed (it is a no-op).
import { initSyncWith, initWith, type InitInput, type InitSyncInput } from '../loader.js';

export * from '../index.js';

const wasmFile = new URL('./focal_loss.wasm', import.meta.url);

/** Already done at import; resolves at once (or loads `source` if given before any load). */
export function init(source?: InitInput): Promise<void> {
  return initWith(source, () => wasmFile);
}

/** Already done at import; or loads from a compiled module or the .wasm bytes. */
export function initSync(source?: InitSyncInput): void {
  if (source === undefined) throw new TypeError('focal-loss: initSync needs a WebAssembly.Module or the bytes of focal_loss.wasm; or use `await init()`');
  initSyncWith(source);
}

await init();
