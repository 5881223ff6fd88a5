// The inline entry's decoding (ts/loader.ts): base64 and raw DEFLATE, against Node's Buffer and
// zlib, over inputs that exercise every block type (stored, fixed and dynamic Huffman), lengths
// around base64's padding, and truncated / corrupt input; and dist/inline.js / inline.cjs really
// carry dist/focal_loss.wasm, byte for byte. (test/consumers runs the entry in every bundler.)
import { readFileSync } from 'node:fs';
import { constants, deflateRawSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { decodeBase64, inflateRaw } from '../ts/loader';

const dist = new URL('../dist/', import.meta.url);
const wasm = new Uint8Array(readFileSync(new URL('focal_loss.wasm', dist)));

/** Deterministic bytes: random, or text-like (repetitive, for long matches). */
function bytes(n: number, kind: 'random' | 'text' | 'zeros', seed = 1): Uint8Array {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24);
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
    expect(() => inflateRaw(deflated.subarray(0, deflated.length >> 1), wasm.length)).toThrow(/inlined WebAssembly module is corrupt/);
    expect(() => inflateRaw(deflated, wasm.length - 1)).toThrow(/corrupt/);
    expect(() => inflateRaw(deflated, wasm.length + 1)).toThrow(/corrupt/);
    expect(() => inflateRaw(new Uint8Array([0xff, 0xff, 0xff]), 10)).toThrow(/corrupt/);
  });
});

test('dist/inline.js and dist/inline.cjs carry dist/focal_loss.wasm byte for byte, and reference no .wasm file', () => {
  for (const name of ['inline.js', 'inline.cjs']) {
    const code = readFileSync(new URL(name, dist), 'utf8');
    const m = /\{size:(\d+),deflated:"([A-Za-z0-9+/=]+)"\}/.exec(code);
    expect(m, name).not.toBeNull();
    expect(inflateRaw(decodeBase64(m![2]), Number(m![1])), name).toEqual(wasm);
    // No import or require of a .wasm file and no import.meta (so no `new URL(…, import.meta.url)`):
    // nothing for a bundler to copy, and nothing for esbuild to warn about in a CJS bundle. (The one
    // .wasm URL, the scalar fallback for engines without SIMD128, is relative to the page.)
    expect(/from\s*["'][^"']*\.wasm|require\(\s*["'][^"']*\.wasm/.test(code), name).toBe(false);
    expect(code.includes('import.meta'), name).toBe(false);
  }
});
