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
  if (isModule(source)) return WebAssembly.instantiate(source, {});
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
