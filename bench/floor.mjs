// The floor contender: bench/floor/floor.wasm (built by the SIMD engineer's script, see
// bench/floor/README.md) does one SIMD exp and one store per element over wasm memory —
// the least any fused loss-and-gradient kernel must do per logit. It exports
// floor_f32(ptr, len) / floor_f64(ptr, len) and a scratch pointer. The bench streams the batch's
// logits through that scratch area in chunks, like the package streams through its own
// (without the copies: the floor times the arithmetic and the stores only).
import { existsSync, readFileSync } from 'node:fs';

const file = new URL('floor/floor.wasm', import.meta.url);

/** The floor, or null (with the reason) if bench/floor/floor.wasm is not built. */
export function loadFloor() {
  if (!existsSync(file)) return { floor: null, reason: 'bench/floor/floor.wasm not found (build it with the script in bench/floor/)' };
  const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), {});
  const x = instance.exports;
  const memory = Object.values(x).find((v) => v instanceof WebAssembly.Memory);
  const names = Object.keys(x);
  const ptrName = names.find((n) => /scratch.*ptr|scratch$/i.test(n) && typeof x[n] === 'function');
  const lenName = names.find((n) => /scratch.*(len|bytes|size)/i.test(n) && typeof x[n] === 'function');
  if (!memory || typeof x.floor_f32 !== 'function' || typeof x.floor_f64 !== 'function' || !ptrName) {
    return { floor: null, reason: `bench/floor/floor.wasm lacks the expected exports (has ${names.join(', ')})` };
  }
  const ptr = Number(x[ptrName]());
  const bytes = lenName ? Number(x[lenName]()) : Math.min(1 << 18, memory.buffer.byteLength - ptr);
  return {
    reason: '',
    floor: {
      exportsUsed: `floor_f32, floor_f64, ${ptrName}${lenName ? ', ' + lenName : ''}`,
      scratchBytes: bytes,
      /** Loads one chunk of representative logits into the scratch area; returns a runner for `total` elements. */
      prepare(sample, total) {
        const T = sample.BYTES_PER_ELEMENT;
        const chunk = Math.floor(bytes / T);
        const Ctor = sample.constructor;
        new Ctor(memory.buffer, ptr, chunk).set(sample.subarray(0, Math.min(chunk, sample.length)));
        const fn = T === 4 ? x.floor_f32 : x.floor_f64;
        return () => {
          for (let i = 0; i < total; i += chunk) fn(ptr, Math.min(chunk, total - i));
        };
      },
    },
  };
}
