// Decoding the module the inline entry carries (focal-loss/inline; see loader.ts inlineEntry and
// tsup.config.ts): base64, then raw DEFLATE. Dependency-free so that it runs in every runtime
// (no atob, Buffer or DecompressionStream needed); test/inflate.test.ts checks it against Node's
// Buffer and zlib.

/** Decodes standard base64 (the inline entry's module; no atob / Buffer needed, any runtime). */
export function decodeBase64(text: string): Uint8Array {
  const digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const value = new Uint8Array(128);
  for (let i = 0; i < 64; i++) value[digits.charCodeAt(i)] = i;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  for (let i = 0, o = 0; i < text.length; i += 4) {
    const n =
      (value[text.charCodeAt(i)] << 18) |
      (value[text.charCodeAt(i + 1)] << 12) |
      (value[text.charCodeAt(i + 2)] << 6) |
      value[text.charCodeAt(i + 3)];
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

const LENGTH_BASE = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DISTANCE_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
  8193, 12289, 16385, 24577,
];
const DISTANCE_EXTRA = [
  0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
];
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
  let pos = 0,
    held = 0,
    count = 0,
    o = 0;
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
      const nLiterals = bits(5) + 257,
        nDistances = bits(5) + 1,
        nCodes = bits(4) + 4;
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
