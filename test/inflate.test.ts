// ts/inflate.ts, the inline entry's decoding: base64 and raw DEFLATE, against Node's Buffer and
// zlib, over inputs that exercise every block type (stored, fixed and dynamic Huffman), lengths
// around base64's padding, and truncated / corrupt input.
import { readFileSync } from 'node:fs';
import { constants, deflateRawSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { decodeBase64, inflateRaw } from '../ts/inflate';

const wasm = new Uint8Array(readFileSync(new URL('../dist/focal_loss.wasm', import.meta.url)));

/** Deterministic bytes: random, or text-like (repetitive, for long matches). */
function bytes(n: number, kind: 'random' | 'text' | 'zeros', seed = 1): Uint8Array {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24;
  const words = ['focal', 'loss', 'gamma', 'alpha', 'softmax', 'sigmoid', ' ', '\n', 'wasm'];
  const out = new Uint8Array(n);
  let text = '';
  while (kind === 'text' && text.length < n) text += words[next() % words.length];
  for (let i = 0; i < n; i++) out[i] = kind === 'random' ? next() : kind === 'text' ? text.charCodeAt(i) : 0;
  return out;
}

describe('decodeBase64', () => {
  test('equals Buffer for every length 0–64 (all three paddings) and for the module', () => {
    for (let n = 0; n <= 64; n++) {
      const b = bytes(n, 'random', n + 7);
      expect(decodeBase64(Buffer.from(b).toString('base64')), `length ${n}`).toEqual(b);
    }
    expect(decodeBase64(Buffer.from(wasm).toString('base64'))).toEqual(wasm);
  });
});

describe('inflateRaw', () => {
  const inputs = {
    empty: new Uint8Array(0),
    'one byte': new Uint8Array([42]),
    random: bytes(100_000, 'random'),
    text: bytes(200_000, 'text'),
    zeros: bytes(70_000, 'zeros'),
    'focal_loss.wasm': wasm,
  };
  const settings = {
    'level 9 (dynamic Huffman)': { level: 9 },
    'level 1': { level: 1 },
    'level 0 (stored blocks)': { level: 0 },
    'fixed Huffman codes': { level: 9, strategy: constants.Z_FIXED },
    'Huffman only (no matches)': { level: 9, strategy: constants.Z_HUFFMAN_ONLY },
    'run-length matches': { level: 9, strategy: constants.Z_RLE },
  };
  for (const [name, data] of Object.entries(inputs)) {
    test(`${name} (${data.length} bytes): equal to the input under every zlib setting`, () => {
      for (const [setting, options] of Object.entries(settings)) {
        const deflated = new Uint8Array(deflateRawSync(data, options));
        expect(inflateRaw(deflated, data.length), setting).toEqual(data);
      }
    });
  }

  test('truncated or corrupt input, or a wrong size, throws instead of returning wrong bytes', () => {
    const deflated = new Uint8Array(deflateRawSync(wasm, { level: 9 }));
    expect(() => inflateRaw(deflated.subarray(0, deflated.length >> 1), wasm.length)).toThrow(
      /inlined WebAssembly module is corrupt/,
    );
    expect(() => inflateRaw(deflated, wasm.length - 1)).toThrow(/corrupt/);
    expect(() => inflateRaw(deflated, wasm.length + 1)).toThrow(/corrupt/);
    expect(() => inflateRaw(new Uint8Array([0xff, 0xff, 0xff]), 10)).toThrow(/corrupt/);
  });
});
