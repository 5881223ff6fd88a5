// Browsers and other fetch-capable runtimes: `await init()` fetches focal_loss.wasm next to this
// file (streaming compilation, with a fallback for servers that send the wrong MIME type).
import { initSyncWith, initWith, simdSupported, type InitInput, type InitSyncInput } from '../loader.js';

export * from '../index.js';

/** Loads the WebAssembly module (idempotent). With no argument, fetches `focal_loss.wasm` beside this file. */
export function init(source?: InitInput): Promise<void> {
  // focal_loss.scalar.wasm is the same build without SIMD128, for runtimes that lack it.
  return initWith(source, () => (simdSupported() ? new URL('./focal_loss.wasm', import.meta.url) : new URL('./focal_loss.scalar.wasm', import.meta.url)));
}

/** Loads from a compiled module or the .wasm bytes (Chromium refuses this for bytes on the main thread). */
export function initSync(source: InitSyncInput): void {
  if (source === undefined) {
    throw new TypeError('focal-loss: initSync needs a WebAssembly.Module or the bytes of focal_loss.wasm here; or use `await init()`');
  }
  initSyncWith(source);
}
