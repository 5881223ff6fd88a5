// Node (ESM and CJS), and Bun: the module is compiled and instantiated synchronously at import,
// so no `await init()` is needed. focal_loss.scalar.wasm is the same build without SIMD128.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { simdSupported, syncEntry } from '../loader.js';

export * from '../index.js';

declare const __filename: string | undefined;
// This file's URL: the CJS build has __filename, a path, which pathToFileURL escapes ('#' and '%'
// in a folder name are not URL syntax); the ESM build has import.meta.url. (A bundler's shim for
// import.meta.url in CJS would build the URL from the path by concatenation, and look for a
// browser's `document` first.)
const here = typeof __filename === 'string' ? pathToFileURL(__filename) : new URL(import.meta.url);
const wasmFile = new URL(simdSupported() ? './focal_loss.wasm' : './focal_loss.scalar.wasm', here);
export const { init, initSync } = syncEntry(() => readFileSync(wasmFile));
