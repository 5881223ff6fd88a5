// Browsers and other fetch-capable runtimes: `await init()` fetches focal_loss.wasm next to this
// file (streaming compilation, with a fallback for servers that send the wrong MIME type);
// focal_loss.scalar.wasm is the same build without SIMD128, for engines that lack it.
import { asyncEntry, simdSupported } from '../loader.js';

export * from '../index.js';

// Literal `new URL('./x.wasm', import.meta.url)` expressions, so bundlers find and copy both files.
export const { init, initSync } = asyncEntry(() =>
  simdSupported() ? new URL('./focal_loss.wasm', import.meta.url) : new URL('./focal_loss.scalar.wasm', import.meta.url),
);
