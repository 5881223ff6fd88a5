// wasm-opt (scripts/wasm-opt.mjs, run by scripts/build.mjs) must not change a single result: every
// shared vector case, through every function of its kind, in both dtypes, gives the same bits from
// the optimised module in dist/ as from cargo's own output in target/ (what build.mjs optimised),
// for the SIMD128 and the scalar build. (Both are bound to their own instance of the facade, as in
// scalar-fallback.test.ts.) Skipped, with a note, where target/ lacks the cargo output or it is
// newer than dist/ (then dist/ is not its optimisation).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test, vi } from 'vitest';
import { caseArguments, functionsOf, parseVectors, type Dtype, type FocalApi } from './helpers/vectors';

const root = new URL('..', import.meta.url);
const cases = parseVectors(JSON.parse(readFileSync(new URL('test/vectors/vectors.json', root), 'utf8')));
const builds = [
  {
    name: 'SIMD128',
    dist: 'dist/focal_loss.wasm',
    cargo: 'target/wasm-simd/wasm32-unknown-unknown/release/focal_loss.wasm',
  },
  {
    name: 'scalar',
    dist: 'dist/focal_loss.scalar.wasm',
    cargo: 'target/wasm-scalar/wasm32-unknown-unknown/release/focal_loss.wasm',
  },
] as const;

/** A fresh facade bound to `bytes`. */
async function facade(bytes: Uint8Array): Promise<FocalApi> {
  vi.resetModules();
  const loader = await import('../ts/loader');
  const api = (await import('../ts/index')) as unknown as FocalApi;
  loader.initSyncWith(bytes);
  return api;
}

/** Everything a case returns through loss, withGrad and partial (errors as their messages). */
function results(api: FocalApi, dtype: Dtype, c: (typeof cases)[number]): unknown[] {
  const f = functionsOf(api, c.kind);
  const attempt = (g: () => unknown) => {
    try {
      const r = g();
      return r instanceof Float32Array || r instanceof Float64Array ? Array.from(r) : r;
    } catch (error) {
      return `threw ${String(error)}`;
    }
  };
  const args = () => caseArguments(c, dtype);
  return [
    attempt(() => f.loss(...args())),
    attempt(() => f.withGrad(...args()).loss),
    attempt(() => f.withGrad(...args()).grad),
    attempt(() => {
      const [logits, targets, options] = args();
      const { reduction: _r, out: _o, normalizer: _n, ...rest } = options;
      return f.partial(logits, targets, rest);
    }),
  ];
}

for (const b of builds) {
  const cargoFile = fileURLToPath(new URL(b.cargo, root));
  const distFile = fileURLToPath(new URL(b.dist, root));
  const usable =
    existsSync(cargoFile) && existsSync(distFile) && statSync(cargoFile).mtimeMs <= statSync(distFile).mtimeMs;
  if (!usable)
    console.log(
      `wasm-opt.test: skipped for ${b.name}: ${b.cargo} is missing or newer than ${b.dist} (run npm run build)`,
    );

  describe.skipIf(!usable)(`${b.name}: wasm-opt changes no result`, async () => {
    const before = usable ? readFileSync(cargoFile) : new Uint8Array();
    const after = usable ? readFileSync(distFile) : new Uint8Array();
    const unoptimised = usable ? await facade(before) : (null as unknown as FocalApi);
    const optimised = usable ? await facade(after) : (null as unknown as FocalApi);

    test(`the modules differ (${before.length} bytes from cargo, ${after.length} after wasm-opt) and export the same`, () => {
      expect(Buffer.compare(before, after)).not.toBe(0);
      const exportsOf = (bytes: Uint8Array) =>
        WebAssembly.Module.exports(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>));
      expect(exportsOf(after)).toEqual(exportsOf(before));
    });

    test(`every vector case (${cases.length}), every function of its kind, both dtypes: the same bits`, () => {
      let compared = 0,
        computed = 0;
      for (const c of cases) {
        for (const dtype of c.dtypes as Dtype[]) {
          const want = results(unoptimised, dtype, c);
          // toEqual compares numbers with Object.is: -0 ≠ 0, NaN = NaN (payloads are not observable here).
          expect(results(optimised, dtype, c), `${c.name} [${dtype}]`).toEqual(want);
          compared += want.length;
          computed += want.filter((r) => !(typeof r === 'string' && r.startsWith('threw'))).length;
        }
      }
      console.log(`${b.name}: ${compared} results compared, ${computed} of them values (the rest the same errors)`);
      expect(computed).toBeGreaterThan(compared * 0.9);
    });
  });
}
