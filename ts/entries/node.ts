// Node (ESM and CJS), and Bun: the module is compiled and instantiated synchronously at import,
// so no `await init()` is needed. focal_loss.scalar.wasm is the same build without SIMD128.
// (This file's declarations are the package's published types, for every entry.)
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { simdSupported, syncEntry, type InitInput, type InitSyncInput } from '../loader.js';

export * from '../index.js';

declare const __filename: string;
// This file's URL: the ESM build has import.meta.url; in the CJS build import.meta is empty (tsup
// leaves it so, unshimmed) and __filename is a path, which pathToFileURL escapes ('#' and '%' in a
// folder name are not URL syntax). import.meta.url is tested first: `node -e` and the REPL define a
// global __filename ('[eval]') that an ES module would otherwise see.
const here = import.meta.url ? new URL(import.meta.url) : pathToFileURL(__filename);
const wasmFile = new URL(simdSupported() ? './focal_loss.wasm' : './focal_loss.scalar.wasm', here);

function readOwnModule(): Uint8Array {
  try {
    return readFileSync(wasmFile);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error;
    // Typically a bundle (esbuild / webpack for Node): the code moved, the .wasm did not.
    throw new Error(
      `focal-loss: ${fileURLToPath(wasmFile)} not found: this code was bundled without the .wasm beside it. ` +
        "Import 'focal-loss/inline' (the module inside the JavaScript) in bundled code, or keep focal-loss external " +
        '(esbuild --packages=external), or copy node_modules/focal-loss/dist/*.wasm beside the bundle',
      { cause: error },
    );
  }
}

const entry = syncEntry(readOwnModule);

/**
 * Loads the WebAssembly module; idempotent: a no-op once a module is loaded, and concurrent calls
 * share one load. Every entry has it, with the same meaning:
 * - Node, Bun, Deno, Cloudflare Workers and Vercel Edge load the module at import, so there is
 *   nothing to await (calling it anyway is harmless);
 * - browsers (`import 'focal-loss'`) must `await init()` before the first call: it fetches
 *   focal_loss.wasm (or focal_loss.scalar.wasm on engines without SIMD128) beside the package's JS;
 * - `focal-loss/inline` loads at import where the runtime compiles synchronously, and in a browser
 *   page `await init()` compiles the module it carries (nothing is fetched).
 *
 * @param source Where else to get the module, for hosts that serve it themselves: a compiled
 *   `WebAssembly.Module`, the .wasm bytes, its URL (a `URL` or string, fetched), or a `Response`
 *   (or the promise of one, e.g. `fetch('/assets/focal_loss.wasm')`). Omitted: the entry's own.
 * @returns A promise that resolves once the functions can be called; it rejects (and a later call
 *   may retry) if the module cannot be fetched or compiled.
 */
export const init: (source?: InitInput) => Promise<void> = entry.init;

/**
 * Loads the WebAssembly module synchronously; a no-op once a module is loaded.
 *
 * @param source A compiled `WebAssembly.Module` or the .wasm bytes. Omitted: the entry's own module
 *   where the entry has it at hand (Node, Bun, Deno, Workers, Vercel Edge, `focal-loss/inline`); the
 *   browser entry has nothing to load synchronously and throws a TypeError asking for `source` or
 *   `await init()`. A browser's main thread refuses to compile modules over 4 KB synchronously:
 *   give it a compiled module, or use `await init()`.
 */
export const initSync: (source?: InitSyncInput) => void = entry.initSync;
