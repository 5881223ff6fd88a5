// Deno: fetches focal_loss.wasm beside this file (file: or https:) with top-level await at import,
// so the functions are ready once the import resolves — no `await init()` needed (it is a no-op).
import { asyncEntry } from '../loader.js';

export * from '../index.js';

export const { init, initSync } = asyncEntry(() => new URL('./focal_loss.wasm', import.meta.url));

await init();
