// The module slot shared by every entry: entries differ only in how they obtain the
// WebAssembly.Module (or its bytes); instantiating it and checking it happen here.

import { Engine } from './engine.js';

/** What `init` accepts: a compiled module, the .wasm bytes, where to fetch them, or a fetch's response. */
export type InitInput = WebAssembly.Module | BufferSource | URL | string | Response | Promise<Response>;
/** What `initSync` accepts. */
export type InitSyncInput = WebAssembly.Module | BufferSource;

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

/** Synchronous instantiation (Node, workers; Chromium's main thread refuses modules > 4 KB). */
export function initSyncWith(source: InitSyncInput): void {
  if (current) return;
  const module = isModule(source) ? source : new WebAssembly.Module(source);
  current = new Engine(new WebAssembly.Instance(module, {}));
}

/** Asynchronous, idempotent instantiation; a failed attempt can be retried. */
export function initWith(source: InitInput | undefined, defaultSource: () => InitInput | Promise<InitInput>): Promise<void> {
  if (current) return Promise.resolve();
  loading ??= (async () => {
    const instance = await instantiate(source ?? (await defaultSource()));
    current ??= new Engine(instance);
  })().catch((error: unknown) => {
    loading = null;
    throw error;
  });
  return loading;
}

async function instantiate(source: InitInput): Promise<WebAssembly.Instance> {
  // (`source as unknown`: a predicate on `source` itself would narrow the rest of the function to
  // `string`, WebAssembly.Module being structurally `{}`.)
  if (isModule(source as unknown)) return WebAssembly.instantiate(source as WebAssembly.Module, {});
  if (typeof source === 'string' || source instanceof URL) source = fetch(source);
  if (source instanceof Promise || (typeof Response === 'function' && source instanceof Response)) {
    const response = await source;
    if (!response.ok) throw new Error(`focal-loss: fetching focal_loss.wasm failed: HTTP ${response.status} ${response.url}`);
    if (typeof WebAssembly.instantiateStreaming === 'function') {
      try {
        return (await WebAssembly.instantiateStreaming(response, {})).instance;
      } catch (error) {
        // Servers that send the .wasm without `Content-Type: application/wasm` make streaming
        // compilation refuse it before reading the body; compile from the bytes instead.
        if (response.headers.get('Content-Type') === 'application/wasm' || response.bodyUsed) throw error;
      }
    }
    return (await WebAssembly.instantiate(await response.arrayBuffer(), {})).instance;
  }
  return (await WebAssembly.instantiate(source as BufferSource, {})).instance;
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
