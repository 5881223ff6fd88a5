// Node (ESM and CJS), and Bun: the module is compiled and instantiated synchronously at import,
// so no `await init()` is needed. focal_loss.scalar.wasm is the same build without SIMD128.
import { readFileSync } from 'node:fs';
import { simdSupported, syncEntry } from '../loader.js';

export * from '../index.js';

const wasmFile = simdSupported() ? new URL('./focal_loss.wasm', import.meta.url) : new URL('./focal_loss.scalar.wasm', import.meta.url);
export const { init, initSync } = syncEntry(() => readFileSync(wasmFile));
