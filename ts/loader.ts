// The module slot shared by every entry: entries differ only in how they obtain the
// WebAssembly.Module (or its bytes); instantiating it and checking it happen here.

import { Engine } from './engine.js';

// The types below name `WebAssembly.Module`, `URL` and `Response` as the consumer's own libraries
// declare them (lib "dom" or "webworker", @types/node, Deno, workers-types …), and are `never` where
// none does: the published .d.ts files then need no particular `lib` and typecheck with
// `lib: ["ES2022"]` alone, with @types/node or with lib "dom" (test/consumers checks all three).

/** A compiled module: `WebAssembly.Module` where the consumer's libraries declare it. */
export type WasmModule = typeof globalThis extends { WebAssembly: { Module: abstract new (...args: never) => infer M } } ? M : never;
/** An instance of the global class `Name` (URL, Response) where the consumer's libraries declare it. */
type GlobalInstance<Name extends string> = typeof globalThis extends { [K in Name]: abstract new (...args: never) => infer T } ? T : never;
/** The bytes of a .wasm file: what lib "dom" calls `BufferSource`. */
export type WasmBytes = ArrayBuffer | ArrayBufferView;

/**
 * What `init` accepts: a compiled `WebAssembly.Module`, the .wasm bytes, where to fetch them (a `URL`
 * or a string), or a fetch's `Response` (or the promise of one).
 */
export type InitInput = WasmModule | WasmBytes | GlobalInstance<'URL'> | string | GlobalInstance<'Response'> | Promise<GlobalInstance<'Response'>>;
/** What `initSync` accepts: a compiled `WebAssembly.Module` or the .wasm bytes. */
export type InitSyncInput = WasmModule | WasmBytes;

let current: Engine | null = null;

/** A compiled module, also one made in another realm (a vm context, edge-runtime), where instanceof fails. */
function isModule(source: unknown): source is WebAssembly.Module {
  return Object.prototype.toString.call(source) === '[object WebAssembly.Module]';
}
let loading: Promise<void> | null = null;

/** The loaded engine, or a clear error if `init()` has not finished. */
export function getEngine(): Engine {
  if (current) return current;
  throw new Error(
    loading
      ? 'focal-loss: init() has not finished yet; await init() before calling focal-loss functions'
      : 'focal-loss: the WebAssembly module is not loaded; call `await init()` (or initSync(module)) first',
  );
}

/**
 * The smallest module that uses a SIMD128 instruction: `(func (result v128) i32.const 0 i8x16.splat)`.
 * Runtimes without SIMD128 (Safari < 16.4, old Node / Deno) reject it.
 */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, // "\0asm", version 1
  1, 5, 1, 96, 0, 1, 123, // type section: () -> v128
  3, 2, 1, 0, // function section: one function of type 0
  10, 8, 1, 6, 0, 65, 0, 253, 15, 11, // code: no locals; i32.const 0; i8x16.splat; end
]);

/** True if this runtime's WebAssembly supports SIMD128 (what focal_loss.wasm needs; else focal_loss.scalar.wasm). */
export function simdSupported(): boolean {
  try {
    return WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/** True once a module is loaded. */
export function isInitialized(): boolean {
  return current !== null;
}

/** Synchronous instantiation (Node, workers; some browsers refuse it on the main thread for modules > 4 KB). */
export function initSyncWith(source: InitSyncInput): void {
  if (current) return;
  const module = isModule(source) ? source : new WebAssembly.Module(source as BufferSource);
  current = new Engine(new WebAssembly.Instance(module, {}));
}

/** Asynchronous, idempotent instantiation; a failed attempt can be retried. */
export function initWith(source: InitInput | undefined, defaultSource: () => InitInput | Promise<InitInput>): Promise<void> {
  if (current) return Promise.resolve();
  loading ??= (async () => {
    // Every `await` here and below is a statement of its own, never inside a call's arguments:
    // Next.js's dev transform wraps `WebAssembly.instantiate(...)` calls in a non-async function,
    // where `f(await x)` is a SyntaxError (test/packaging.test.ts scans dist/ for the pattern).
    const chosen = source ?? (await defaultSource());
    const instance = await instantiate(chosen);
    current ??= new Engine(instance);
  })().catch((error: unknown) => {
    loading = null;
    throw error;
  });
  return loading;
}

/** The first four bytes of every WebAssembly module: "\0asm". */
const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

/** A fetched answer that is not the module (a dev server's index.html, an error page): what happened, what to do. */
export function notWasmError(url: string, what: string): Error {
  return new Error(
    `focal-loss: fetching focal_loss.wasm from ${url} returned ${what}, not WebAssembly: the server has no such file there ` +
      "(a dev server answered with its page). In Vite, add `optimizeDeps: { exclude: ['focal-loss'] }` to vite.config; " +
      'elsewhere, serve node_modules/focal-loss/dist/focal_loss.wasm and pass its URL to init(url)',
  );
}

/** The first bytes of a fetched body, as hex, for an error message (`3c 21 64 6f` is "<!do"). */
function leadingHex(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

async function instantiate(source: InitInput): Promise<WebAssembly.Instance> {
  // (`source as unknown`: a predicate on `source` itself would narrow the rest of the function to
  // `string`, WebAssembly.Module being structurally `{}`.)
  if (isModule(source as unknown)) return WebAssembly.instantiate(source as WebAssembly.Module, {});
  if (typeof source === 'string' || source instanceof URL) source = fetch(source);
  if (source instanceof Promise || (typeof Response === 'function' && source instanceof Response)) {
    const response = await source;
    return instantiateResponse(response);
  }
  const result = await WebAssembly.instantiate(source as BufferSource, {});
  return result.instance;
}

/** A fetched .wasm: streaming compilation when served as application/wasm, else from the bytes, once they are checked. */
async function instantiateResponse(response: Response): Promise<WebAssembly.Instance> {
  if (!response.ok) throw new Error(`focal-loss: fetching focal_loss.wasm failed: HTTP ${response.status} ${response.url}`);
  const type = response.headers.get('Content-Type') ?? '';
  // An SPA dev server (Vite's, when its dependency pre-bundling moved the code away from the .wasm)
  // answers a missing file with its index.html and HTTP 200.
  if (/^text\/html\b/i.test(type)) throw notWasmError(response.url, `an HTML page (HTTP ${response.status}, Content-Type ${type})`);
  if (typeof WebAssembly.instantiateStreaming === 'function' && /^application\/wasm\b/i.test(type)) {
    const streamed = await WebAssembly.instantiateStreaming(response, {});
    return streamed.instance;
  }
  // Servers that send the .wasm without `Content-Type: application/wasm` make streaming compilation
  // refuse it before reading the body: compile from the bytes, once they are known to be a module.
  const buffer = await response.arrayBuffer();
  const bytes = new Uint8Array(buffer);
  if (bytes.length < 4 || WASM_MAGIC.some((b, i) => bytes[i] !== b)) {
    throw notWasmError(response.url, `${bytes.length} bytes starting ${leadingHex(bytes) || '(empty)'} (Content-Type ${type || 'none'})`);
  }
  const result = await WebAssembly.instantiate(buffer, {});
  return result.instance;
}

/** The `init` / `initSync` pair every entry exports. */
export interface EntryInit {
  /** Loads the WebAssembly module (idempotent; a no-op once loaded). With no argument, the entry's own .wasm. */
  init(source?: InitInput): Promise<void>;
  /** Loads from a compiled module or the .wasm bytes (a no-op once loaded). */
  initSync(source?: InitSyncInput): void;
}

/** For runtimes that have the module (or its bytes) at hand synchronously: loads it now, at import. */
export function syncEntry(ownModule: () => InitSyncInput): EntryInit {
  initSyncWith(ownModule());
  return {
    init: (source) => initWith(source, ownModule),
    initSync: (source) => initSyncWith(source ?? ownModule()),
  };
}

/** For runtimes that must fetch the module: `await init()` loads it; initSync needs it given. */
export function asyncEntry(ownModule: () => InitInput): EntryInit {
  return {
    init: (source) => initWith(source, ownModule),
    initSync: (source) => {
      if (source === undefined) {
        throw new TypeError('focal-loss: initSync needs a WebAssembly.Module or the bytes of focal_loss.wasm here; or use `await init()`');
      }
      initSyncWith(source);
    },
  };
}

/** Decodes standard base64 (the inline entry's module; no atob / Buffer needed, any runtime). */
export function decodeBase64(text: string): Uint8Array {
  const digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const value = new Uint8Array(128);
  for (let i = 0; i < 64; i++) value[digits.charCodeAt(i)] = i;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  for (let i = 0, o = 0; i < text.length; i += 4) {
    const n = (value[text.charCodeAt(i)] << 18) | (value[text.charCodeAt(i + 1)] << 12) | (value[text.charCodeAt(i + 2)] << 6) | value[text.charCodeAt(i + 3)];
    out[o++] = n >>> 16;
    if (o < out.length) out[o++] = (n >>> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

/** A canonical Huffman code: how many codes of each length, and the symbols in code order. */
interface Huffman {
  counts: Uint16Array;
  symbols: Uint16Array;
}

function huffman(lengths: ArrayLike<number>): Huffman {
  const counts = new Uint16Array(16);
  const offsets = new Uint16Array(16);
  const symbols = new Uint16Array(lengths.length);
  for (let s = 0; s < lengths.length; s++) counts[lengths[s]]++;
  counts[0] = 0;
  for (let len = 1; len < 16; len++) offsets[len] = offsets[len - 1] + counts[len - 1];
  for (let s = 0; s < lengths.length; s++) if (lengths[s]) symbols[offsets[lengths[s]]++] = s;
  return { counts, symbols };
}

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DISTANCE_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DISTANCE_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/**
 * Inflates raw DEFLATE data (RFC 1951) whose inflated size is known: the inline entry carries the
 * .wasm deflated by Node's zlib at build time (about a third of base64's size in a bundle, and the
 * same once gzipped). A canonical-Huffman decoder in the manner of zlib's puff.c: one bit at a time,
 * which takes a few milliseconds for the module, once, at init.
 */
export function inflateRaw(input: Uint8Array, size: number): Uint8Array {
  const corrupt = () => new Error('focal-loss: the inlined WebAssembly module is corrupt');
  const out = new Uint8Array(size);
  let pos = 0, held = 0, count = 0, o = 0;
  const bits = (n: number): number => {
    while (count < n) {
      if (pos >= input.length) throw corrupt();
      held |= input[pos++] << count;
      count += 8;
    }
    const v = held & ((1 << n) - 1);
    held >>>= n;
    count -= n;
    return v;
  };
  const decode = (h: Huffman): number => {
    for (let len = 1, code = 0, first = 0, index = 0; len < 16; len++) {
      code |= bits(1);
      const n = h.counts[len];
      if (code - first < n) return h.symbols[index + code - first];
      index += n;
      first = (first + n) << 1;
      code <<= 1;
    }
    throw corrupt();
  };
  let last = 0;
  do {
    last = bits(1);
    const type = bits(2);
    if (type === 0) {
      // Stored: the rest of the current byte is padding (bits() never holds a whole unread byte).
      held = count = 0;
      const len = input[pos] | (input[pos + 1] << 8);
      pos += 4;
      if (pos + len > input.length || o + len > size) throw corrupt();
      out.set(input.subarray(pos, pos + len), o);
      pos += len;
      o += len;
      continue;
    }
    if (type === 3) throw corrupt();
    let literals: Huffman, distances: Huffman;
    if (type === 1) {
      const fixed = new Uint8Array(288).fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
      literals = huffman(fixed);
      distances = huffman(new Uint8Array(30).fill(5));
    } else {
      const nLiterals = bits(5) + 257, nDistances = bits(5) + 1, nCodes = bits(4) + 4;
      const codeLengths = new Uint8Array(19);
      for (let i = 0; i < nCodes; i++) codeLengths[CODE_LENGTH_ORDER[i]] = bits(3);
      const lengthCode = huffman(codeLengths);
      const lengths = new Uint8Array(nLiterals + nDistances);
      for (let i = 0; i < lengths.length; ) {
        const sym = decode(lengthCode);
        if (sym < 16) {
          lengths[i++] = sym;
          continue;
        }
        if (sym === 16 && i === 0) throw corrupt();
        const value = sym === 16 ? lengths[i - 1] : 0;
        let repeat = sym === 16 ? 3 + bits(2) : sym === 17 ? 3 + bits(3) : 11 + bits(7);
        if (i + repeat > lengths.length) throw corrupt();
        while (repeat-- > 0) lengths[i++] = value;
      }
      literals = huffman(lengths.subarray(0, nLiterals));
      distances = huffman(lengths.subarray(nLiterals));
    }
    for (;;) {
      const sym = decode(literals);
      if (sym < 256) {
        if (o >= size) throw corrupt();
        out[o++] = sym;
      } else if (sym === 256) {
        break;
      } else {
        if (sym > 285) throw corrupt();
        const len = LENGTH_BASE[sym - 257] + bits(LENGTH_EXTRA[sym - 257]);
        const d = decode(distances);
        if (d > 29) throw corrupt();
        const distance = DISTANCE_BASE[d] + bits(DISTANCE_EXTRA[d]);
        if (distance > o || o + len > size) throw corrupt();
        for (let k = 0; k < len; k++, o++) out[o] = out[o - distance];
      }
    }
  } while (!last);
  if (o !== size) throw corrupt();
  return out;
}

/** The module as the inline entry carries it: deflated (raw DEFLATE), then base64. */
export interface InlinedModule {
  /** The .wasm's size in bytes. */
  size: number;
  /** base64 of the raw-deflated .wasm. */
  deflated: string;
}

type Host = { document?: { baseURI?: string }; location?: { href?: string } };

/**
 * For the entry that carries the SIMD128 build inside the JavaScript (focal-loss/inline, and the
 * `browser` + `require` condition; deflated and base64-encoded at build time, see tsup.config.ts):
 * nothing for a bundler to copy, nothing to fetch. The module is
 * compiled synchronously at import where the runtime allows it (Node, Bun, Deno, Jest, web workers,
 * edge-runtime); a browser's main thread refuses to compile more than 4 KB synchronously (a
 * RangeError, caught here), so there `await init()` compiles it asynchronously — calling it is
 * always safe. An engine without SIMD128 (Safari < 16.4) fetches focal_loss.scalar.wasm from beside
 * the page instead: that file is not inlined, to keep the package small (see test/consumers).
 */
export function inlineEntry(simdModule: InlinedModule): EntryInit {
  let bytes: Uint8Array | null = null;
  const simd = () => (bytes ??= inflateRaw(decodeBase64(simdModule.deflated), simdModule.size));
  const ownModule = (): InitInput | Promise<InitInput> => (simdSupported() ? simd() : scalarBesidePage());
  if (simdSupported()) {
    try {
      initSyncWith(simd());
      bytes = null;
    } catch {
      // A browser's main thread, or a runtime that compiles no WebAssembly from bytes: init() says which.
    }
  }
  return {
    init: (source) =>
      initWith(source, ownModule).then(
        () => void (bytes = null),
        (error: unknown) => {
          if (source === undefined && /disallowed|not allowed/i.test(String(error))) {
            throw new Error(
              `focal-loss: this runtime compiles no WebAssembly from bytes (${String(error)}), so focal-loss/inline cannot work here; ` +
                "import 'focal-loss' instead: in Cloudflare Workers and Vercel Edge its entry imports focal_loss.wasm as a module",
              { cause: error },
            );
          }
          throw error;
        },
      ),
    initSync: (source) => {
      if (source === undefined && !simdSupported()) {
        throw new TypeError('focal-loss: this engine has no WebAssembly SIMD128 and focal-loss/inline carries only the SIMD128 build: pass focal_loss.scalar.wasm (compiled, or its bytes) to initSync, or use `await init()`');
      }
      initSyncWith(source ?? simd());
    },
  };
}

/** focal_loss.scalar.wasm beside the page (or worker script), for engines without SIMD128. */
async function scalarBesidePage(): Promise<InitInput> {
  const host = globalThis as Host;
  const base = host.document?.baseURI ?? host.location?.href;
  const missing = 'focal-loss: this engine has no WebAssembly SIMD128 and focal-loss/inline carries only the SIMD128 build';
  if (!base) throw new Error(`${missing}: pass focal_loss.scalar.wasm (its URL, bytes or compiled module) to init()`);
  const url = new URL('focal_loss.scalar.wasm', base);
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(
      `${missing}; fetching focal_loss.scalar.wasm beside the page failed (HTTP ${response.status} ${url.href}): ` +
        'copy node_modules/focal-loss/dist/focal_loss.scalar.wasm there, or pass its URL to init()',
    );
  }
  return response;
}
