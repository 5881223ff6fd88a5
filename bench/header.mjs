import { readFileSync } from 'node:fs';

// The call header's fields in declaration order (crate/src/ffi.rs `CallHeader`), for the bench scripts that call
// kernels directly: each reads the offsets from the module's `focal_header_layout()` by this order. ts/abi.ts is the
// package's own copy, which test/wasm-module.test.ts checks against the module's layout.
export const FIELDS = [
  'batch',
  'classes',
  'spatial',
  'ignore_index',
  'logits',
  'target_indices',
  'target_values',
  'alpha',
  'pos_weight',
  'weights',
  'loss_out',
  'grad_out',
  'loss_kind',
  'flags',
  'error_index',
  'reserved',
  'alpha_scalar',
  'gamma',
  'gamma_neg',
  'beta',
  'clip',
  'pos_weight_scalar',
  'poly_epsilon',
  'label_smoothing',
  'grad_scale',
  'sum',
  'positives',
];

/**
 * One instance of a .wasm build for the scripts that call its kernels directly (narrow.mjs, elementwise.mjs,
 * elementwise-check.mjs): `off` holds each header field's offset (from the module's own layout), `reset()` starts a
 * case's arrays above the module's memory, `alloc(bytes)` places one (64-byte aligned, growing the memory when needed),
 * `put(array)` copies a typed array in and returns its address (0 for none), `write(header, h)` writes a header
 * record: u32 fields below `alpha_scalar`, f64 from it on.
 */
export function rawBuild(file) {
  const x = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), {}).exports;
  const mem = x.memory;
  const lay = new Uint32Array(mem.buffer, x.focal_header_layout(), FIELDS.length + 1).slice();
  const off = Object.fromEntries(FIELDS.map((f, i) => [f, lay[i + 1]]));
  const base = Math.ceil(mem.buffer.byteLength / 64) * 64;
  let top = base;
  const alloc = (bytes) => {
    const at = top;
    top += Math.ceil(bytes / 64) * 64 + 64;
    if (top > mem.buffer.byteLength) mem.grow(Math.ceil((top - mem.buffer.byteLength) / 65536));
    return at;
  };
  const put = (arr) => {
    if (!arr) return 0;
    const p = alloc(arr.byteLength);
    new Uint8Array(mem.buffer, p, arr.byteLength).set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
    return p;
  };
  const write = (header, h) => {
    const dv = new DataView(mem.buffer);
    for (const f of FIELDS) {
      if (off[f] >= off.alpha_scalar) dv.setFloat64(header + off[f], h[f], true);
      else dv.setUint32(header + off[f], h[f] >>> 0, true);
    }
  };
  return {
    x,
    mem,
    off,
    reset: () => {
      top = base;
    },
    alloc,
    put,
    write,
  };
}
