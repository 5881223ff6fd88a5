// Deno: focal_loss.wasm arrives as a compiled module through a source-phase import (deno-wasm.js),
// which Deno loads like any module, without --allow-read; instantiated at import, so the functions
// are ready once the import resolves — no `await init()` needed (it is a no-op).
import wasmModule from './deno-wasm.js';
import { syncEntry } from '../loader.js';

export * from '../index.js';

export const { init, initSync } = syncEntry(() => wasmModule);
