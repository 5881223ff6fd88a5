// Node (ESM and CJS): the module is compiled and instantiated synchronously at import, so no
// `await init()` is needed. `init` / `initSync` exist for code shared with other runtimes.
import { readFileSync } from 'node:fs';
import { initSyncWith, initWith, simdSupported, type InitInput, type InitSyncInput } from '../loader.js';

export * from '../index.js';

// focal_loss.scalar.wasm is the same build without SIMD128, for runtimes that lack it.
const wasmFile = simdSupported() ? new URL('./focal_loss.wasm', import.meta.url) : new URL('./focal_loss.scalar.wasm', import.meta.url);
initSyncWith(readFileSync(wasmFile));

/** Already done at import in Node; resolves at once (or loads `source` if the import-time load was skipped). */
export function init(source?: InitInput): Promise<void> {
  return initWith(source, () => readFileSync(wasmFile));
}

/** Already done at import in Node. */
export function initSync(source?: InitSyncInput): void {
  initSyncWith(source ?? readFileSync(wasmFile));
}
