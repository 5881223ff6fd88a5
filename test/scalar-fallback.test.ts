// Both builds — dist/focal_loss.wasm (SIMD128) and dist/focal_loss.scalar.wasm (no SIMD, for
// runtimes without it) — run the full shared vectors, each through its own instance of the facade
// (ts/loader.ts keeps one module per instance, so the modules are re-imported per build); and the
// Node entry really falls back to the scalar file when the runtime reports no SIMD128.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { evaluateCase, formatMismatches, parseVectors, type Dtype, type FocalApi } from './helpers/vectors';

const json = JSON.parse(readFileSync(new URL('./vectors/vectors.json', import.meta.url), 'utf8'));
const cases = parseVectors(json);
const dist = new URL('../dist/', import.meta.url);
const builds = [
  { name: 'simd', file: 'focal_loss.wasm' },
  { name: 'scalar', file: 'focal_loss.scalar.wasm' },
] as const;

/** The build's own answer: 1 when its kernels use SIMD128 (crate/src/simd/mod.rs). */
function simdOf(bytes: Uint8Array): number {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {});
  return (instance.exports.focal_simd128 as () => number)();
}

test('both builds exist, are tens of KiB, import nothing and export the same ABI', () => {
  const exportsOf: string[][] = [];
  for (const b of builds) {
    const bytes = readFileSync(new URL(b.file, dist));
    expect(bytes.length, b.file).toBeLessThan(200 * 1024);
    const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    expect(WebAssembly.Module.imports(module), b.file).toEqual([]);
    exportsOf.push(
      WebAssembly.Module.exports(module)
        .map((e) => `${e.kind} ${e.name}`)
        .sort(),
    );
    const instance = new WebAssembly.Instance(module, {});
    expect((instance.exports.focal_abi_version as () => number)(), b.file).toBeGreaterThan(0);
  }
  expect(exportsOf[0]).toEqual(exportsOf[1]);
  // The default build really is the SIMD one and the fallback really is not.
  expect(simdOf(readFileSync(new URL('focal_loss.wasm', dist)))).toBe(1);
  expect(simdOf(readFileSync(new URL('focal_loss.scalar.wasm', dist)))).toBe(0);
});

const worst: Record<string, number> = {};
afterAll(() => {
  for (const [k, v] of Object.entries(worst)) console.log(`${k}: worst relative error ${v.toExponential(3)}`);
});

for (const b of builds) {
  describe(`${b.file}: every shared vector case`, async () => {
    // A fresh copy of the facade (index → loader → engine) bound to this build's module.
    vi.resetModules();
    const loader = await import('../ts/loader');
    const api = (await import('../ts/index')) as unknown as FocalApi;
    loader.initSyncWith(readFileSync(new URL(b.file, dist)));

    test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      for (const dtype of c.dtypes as Dtype[]) {
        const r = evaluateCase(api, c, dtype);
        const key = `${b.name} ${dtype}`;
        worst[key] = Math.max(worst[key] ?? 0, r.worstRelError);
        expect(r.mismatches, formatMismatches(r.mismatches)).toEqual([]);
      }
    });
  });
}

test('the Node entry loads focal_loss.scalar.wasm when WebAssembly.validate reports no SIMD128', () => {
  const entry = fileURLToPath(new URL('node.js', dist));
  // The child stubs validate (no SIMD) and records the size of each module it compiles, then imports
  // the package and computes one loss.
  const script = `
    const sizes = [];
    const Module = WebAssembly.Module;
    WebAssembly.Module = function (bytes) { sizes.push(bytes.byteLength); return new Module(bytes); };
    WebAssembly.Module.imports = Module.imports; WebAssembly.Module.exports = Module.exports;
    const validate = WebAssembly.validate;
    if (process.argv.includes('nosimd')) WebAssembly.validate = () => false;
    const api = await import(${JSON.stringify(entry)});
    WebAssembly.validate = validate;
    const loss = api.softmaxFocalLoss(new Float32Array([2, 0.5, -1]), [0], { classes: 3, gamma: 2 });
    console.log(JSON.stringify({ sizes, loss }));
  `;
  const run = (mode: string) => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, mode], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as { sizes: number[]; loss: number };
  };
  const simdSize = statSync(new URL('focal_loss.wasm', dist)).size;
  const scalarSize = statSync(new URL('focal_loss.scalar.wasm', dist)).size;
  expect(simdSize).not.toBe(scalarSize);
  const withSimd = run('simd');
  const without = run('nosimd');
  expect(withSimd.sizes).toEqual([simdSize]);
  expect(without.sizes).toEqual([scalarSize]);
  // Softmax of [2, 0.5, −1]: p_0 = 1/(1 + e^−1.5 + e^−3); loss = −(1 − p_0)² log p_0.
  const p0 = 1 / (1 + Math.exp(-1.5) + Math.exp(-3));
  const exact = -((1 - p0) ** 2) * Math.log(p0);
  for (const r of [withSimd, without]) expect(Math.abs(r.loss - exact)).toBeLessThan(3e-5 * exact);
});
