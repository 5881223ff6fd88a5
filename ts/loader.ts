// The module slot shared by every entry: entries differ only in how they obtain the
// WebAssembly.Module (or its bytes); instantiating it and checking it happen here.

import { Engine } from './engine.js';
import { decodeBase64, inflateRaw } from './inflate.js';

// The types below name `WebAssembly.Module`, `URL` and `Response` as the consumer's own libraries
// declare them (lib "dom" or "webworker", @types/node, Deno, workers-types …), and are `never` where
// none does: the published .d.ts files then need no particular `lib` and typecheck with
// `lib: ["ES2022"]` alone, with @types/node or with lib "dom" (test/consumers checks all three).

/** A compiled module: `WebAssembly.Module` where the consumer's libraries declare it. */
export type WasmModule = typeof globalThis extends { WebAssembly: { Module: abstract new (...args: never) => infer M } }
  ? M
  : never;
/** An instance of the global class `Name` (URL, Response) where the consumer's libraries declare it. */
type GlobalInstance<Name extends string> = typeof globalThis extends {
  [K in Name]: abstract new (
    ...args: never
  ) => infer T;
}
  ? T
  : never;
/** The bytes of a .wasm file: what lib "dom" calls `BufferSource`. */
export type WasmBytes = ArrayBuffer | ArrayBufferView;

/**
 * What `init` accepts: a compiled `WebAssembly.Module`, the .wasm bytes, where to fetch them (a `URL`
 * or a string), or a fetch's `Response` (or the promise of one).
 */
export type InitInput =
  | WasmModule
  | WasmBytes
  | GlobalInstance<'URL'>
  | string
  | GlobalInstance<'Response'>
  | Promise<GlobalInstance<'Response'>>;
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
  0,
  97,
  115,
  109,
  1,
  0,
  0,
  0, // "\0asm", version 1
  1,
  5,
  1,
  96,
  0,
  1,
  123, // type section: () -> v128
  3,
  2,
  1,
  0, // function section: one function of type 0
  10,
  8,
  1,
  6,
  0,
  65,
  0,
  253,
  15,
  11, // code: no locals; i32.const 0; i8x16.splat; end
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
export function initWith(
  source: InitInput | undefined,
  defaultSource: () => InitInput | Promise<InitInput>,
): Promise<void> {
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
  if (!response.ok)
    throw new Error(`focal-loss: fetching focal_loss.wasm failed: HTTP ${response.status} ${response.url}`);
  const type = response.headers.get('Content-Type') ?? '';
  // An SPA dev server (Vite's, when its dependency pre-bundling moved the code away from the .wasm)
  // answers a missing file with its index.html and HTTP 200.
  if (/^text\/html\b/i.test(type))
    throw notWasmError(response.url, `an HTML page (HTTP ${response.status}, Content-Type ${type})`);
  if (typeof WebAssembly.instantiateStreaming === 'function' && /^application\/wasm\b/i.test(type)) {
    const streamed = await WebAssembly.instantiateStreaming(response, {});
    return streamed.instance;
  }
  // Servers that send the .wasm without `Content-Type: application/wasm` make streaming compilation
  // refuse it before reading the body: compile from the bytes, once they are known to be a module.
  const buffer = await response.arrayBuffer();
  const bytes = new Uint8Array(buffer);
  if (bytes.length < 4 || WASM_MAGIC.some((b, i) => bytes[i] !== b)) {
    throw notWasmError(
      response.url,
      `${bytes.length} bytes starting ${leadingHex(bytes) || '(empty)'} (Content-Type ${type || 'none'})`,
    );
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
        throw new TypeError(
          'focal-loss: initSync needs a WebAssembly.Module or the bytes of focal_loss.wasm here; or use `await init()`',
        );
      }
      initSyncWith(source);
    },
  };
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
        throw new TypeError(
          'focal-loss: this engine has no WebAssembly SIMD128 and focal-loss/inline carries only the SIMD128 build: pass focal_loss.scalar.wasm (compiled, or its bytes) to initSync, or use `await init()`',
        );
      }
      initSyncWith(source ?? simd());
    },
  };
}

/** focal_loss.scalar.wasm beside the page (or worker script), for engines without SIMD128. */
async function scalarBesidePage(): Promise<InitInput> {
  const host = globalThis as Host;
  const base = host.document?.baseURI ?? host.location?.href;
  const missing =
    'focal-loss: this engine has no WebAssembly SIMD128 and focal-loss/inline carries only the SIMD128 build';
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
