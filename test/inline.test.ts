// dist/inline.js / inline.cjs really carry dist/focal_loss.wasm, byte for byte (decoded by
// ts/inflate.ts, which test/inflate.test.ts checks). (test/consumers runs the entry in every bundler.)
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { decodeBase64, inflateRaw } from '../ts/inflate';

const dist = new URL('../dist/', import.meta.url);
const wasm = new Uint8Array(readFileSync(new URL('focal_loss.wasm', dist)));

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
