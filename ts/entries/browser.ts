// Browsers and other fetch-capable runtimes: `await init()` fetches focal_loss.wasm next to this
// file (streaming compilation, with a fallback for servers that send the wrong MIME type);
// focal_loss.scalar.wasm is the same build without SIMD128, for engines that lack it.
import { asyncEntry, simdSupported, type InitInput } from '../loader.js';

export * from '../index.js';

type Host = { process?: { getBuiltinModule?: (id: string) => unknown } };

/** Where this entry's module is, and how to get it: fetched, or read where the URL is a file. */
async function ownModule(): Promise<InitInput> {
  // Literal `new URL('./x.wasm', import.meta.url)` expressions, so bundlers find and copy both files.
  const url = simdSupported()
    ? new URL('./focal_loss.wasm', import.meta.url)
    : new URL('./focal_loss.scalar.wasm', import.meta.url);
  if (url.protocol === 'file:') {
    // A test runner that runs browser code in Node with a browser export condition (Jest's native
    // ESM with jsdom): no fetch, or one that does not read file: URLs; Node's fs is at hand through
    // process.getBuiltinModule (Node >= 20.16), which no bundler follows.
    const fs = (globalThis as Host).process?.getBuiltinModule?.('node:fs') as
      | { readFileSync(path: URL): Uint8Array }
      | undefined;
    if (fs) return fs.readFileSync(url);
  }
  if (typeof fetch !== 'function') {
    throw new Error(
      `focal-loss: this runtime has no fetch to load ${url.href}: import 'focal-loss/inline' (the module inside the JavaScript), or pass the .wasm bytes to init()`,
    );
  }
  const response = await fetch(url);
  // Vite 6 and 7 dev: dependency pre-bundling moves this code to <base>node_modules/.vite/deps/,
  // where the .wasm is not, and the dev server answers with index.html; the file is still served
  // from the package's own folder.
  // (No lookbehind in the pattern: Safari < 16.4, which the scalar build is for, cannot parse one.)
  const moved = /\/node_modules\/\.vite\/deps\/([^/]+)$/;
  if (moved.test(url.pathname) && /^text\/html\b/i.test(response.headers.get('Content-Type') ?? '')) {
    const retry = await fetch(new URL(url.pathname.replace(moved, '/node_modules/focal-loss/dist/$1'), url));
    return retry;
  }
  return response;
}

export const { init, initSync } = asyncEntry(ownModule);
