// Memory past the module's own (its data, stack and scratch area): the caller's wasm arrays
// (allocateWasmArray) and the engine's temporary area for an item too wide for the scratch area.
// The module itself never allocates, so JavaScript owns this region outright: a first-fit list
// of free blocks, coalesced on free, grown a page at a time when nothing fits.

const PAGE = 65536;
/** Block alignment: enough for f64 and for SIMD loads. */
const ALIGN = 16;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

export class Heap {
  /** Free blocks, sorted by address, never adjacent (adjacent ones are merged). */
  private readonly free: { ptr: number; size: number }[] = [];
  /** Live blocks: address → size. */
  private readonly live = new Map<number, number>();
  private end: number;

  constructor(
    private readonly memory: WebAssembly.Memory,
    /** First byte of the region (the module's own memory ends here). */
    readonly start: number,
  ) {
    this.end = start;
  }

  /** A block of at least `bytes` (16-byte aligned); grows memory when no free block fits. */
  alloc(bytes: number): number {
    const size = Math.max(ALIGN, align(bytes));
    for (let i = 0; i < this.free.length; i++) {
      const block = this.free[i];
      if (block.size < size) continue;
      const ptr = block.ptr;
      if (block.size === size) this.free.splice(i, 1);
      else {
        block.ptr += size;
        block.size -= size;
      }
      this.live.set(ptr, size);
      return ptr;
    }
    // Nothing fits: extend the region, starting inside a free block at its end if there is one.
    const last = this.free[this.free.length - 1];
    const ptr = last && last.ptr + last.size === this.end ? last.ptr : this.end;
    if (ptr !== this.end) this.free.pop();
    const need = ptr + size - this.memory.buffer.byteLength;
    if (need > 0) this.memory.grow(Math.ceil(need / PAGE));
    this.end = ptr + size;
    this.live.set(ptr, size);
    return ptr;
  }

  /** Returns a block from `alloc`; false if `ptr` is not a live block. */
  release(ptr: number): boolean {
    const size = this.live.get(ptr);
    if (size === undefined) return false;
    this.live.delete(ptr);
    let i = 0;
    while (i < this.free.length && this.free[i].ptr < ptr) i++;
    const block = { ptr, size };
    this.free.splice(i, 0, block);
    const next = this.free[i + 1];
    if (next && block.ptr + block.size === next.ptr) {
      block.size += next.size;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.ptr + prev.size === block.ptr) {
      prev.size += block.size;
      this.free.splice(i, 1);
    }
    return true;
  }

  /** True if bytes [ptr, ptr + bytes) lie inside one live block. */
  owns(ptr: number, bytes: number): boolean {
    if (ptr < this.start || ptr + bytes > this.end) return false;
    for (const [start, size] of this.live) {
      if (ptr >= start && ptr + bytes <= start + size) return true;
    }
    return false;
  }
}
