// The floor contender: bench/floor/floor.wasm (built by the SIMD engineer's script, see
// bench/floor/README.md) does one SIMD exp and one store per element over wasm memory —
// the least any fused loss-and-gradient kernel must do per logit. It exports
// floor_f32(ptr, len) / floor_f64(ptr, len) (x ← exp(x) in place) and a scratch pointer. The bench
// places the batch's logits in the floor module's memory and times one call over all of them
// (no copies: the floor times the arithmetic and the stores only).
import { existsSync, readFileSync } from 'node:fs';

const file = new URL('floor/floor.wasm', import.meta.url);

/** The floor, or null (with the reason) if bench/floor/floor.wasm is not built. */
export function loadFloor() {
  if (!existsSync(file))
    return { floor: null, reason: 'bench/floor/floor.wasm not found (build it with the script in bench/floor/)' };
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
      /**
       * The floor over a batch of `sample.length` elements: the batch is placed once in the floor
       * module's (grown) memory, and `before()` (outside the timing) restores it, because floor_f32
       * works in place and a second exp of the same values would overflow to +∞. `run()` is then
       * exactly one exp and one store per element, in one call, over the whole batch.
       */
      prepare(sample) {
        const T = sample.BYTES_PER_ELEMENT;
        const base = Math.ceil(memory.buffer.byteLength / 16) * 16;
        const need = base + sample.length * T - memory.buffer.byteLength;
        if (need > 0) memory.grow(Math.ceil(need / 65536));
        const Ctor = sample.constructor;
        const fn = T === 4 ? x.floor_f32 : x.floor_f64;
        return {
          before: () => new Ctor(memory.buffer, base, sample.length).set(sample),
          run: () => fn(base, sample.length),
        };
      },
    },
  };
}
