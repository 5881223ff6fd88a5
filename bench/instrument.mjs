// Copy-cost instrumentation: the package's own engine (ts/engine.ts) and validation
// (ts/options.ts), transpiled from source with the TypeScript compiler into a temporary
// directory, driven over a second instance of dist/focal_loss.wasm. Three variants of one call:
//   plan    — validation only (softmaxPlan / sigmoidPlan)
//   engine  — the engine's chunk loop with the real kernels (copies in, kernel, copies out)
//   copies  — the same loop with the kernels replaced by a no-op returning 0: only the copies
//             (and the loop's bookkeeping) remain
// so kernel ≈ engine − copies, and the public call ≈ plan + engine (+ allocation).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';

const root = new URL('..', import.meta.url);

async function loadSources() {
  const dir = mkdtempSync(join(tmpdir(), 'focal-bench-'));
  for (const name of ['abi', 'options', 'engine']) {
    const src = readFileSync(new URL(`ts/${name}.ts`, root), 'utf8');
    const out = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: `${name}.ts`,
    });
    writeFileSync(join(dir, `${name}.js`), out.outputText);
  }
  const options = await import(join(dir, 'options.js'));
  const engine = await import(join(dir, 'engine.js'));
  return { options, engine };
}

/** Engines over dist/focal_loss.wasm: `real` with the kernels, `copies` with no-op kernels. */
export async function instrumentedEngines() {
  const { options, engine } = await loadSources();
  const module = new WebAssembly.Module(readFileSync(new URL('dist/focal_loss.wasm', root)));
  const make = (noKernel) => {
    const instance = new WebAssembly.Instance(module, {});
    if (!noKernel) return new engine.Engine(instance);
    const x = { ...instance.exports };
    for (const k of ['focal_softmax_f32', 'focal_softmax_f64', 'focal_sigmoid_f32', 'focal_sigmoid_f64']) x[k] = () => 0;
    return new engine.Engine({ exports: x });
  };
  return { softmaxPlan: options.softmaxPlan, sigmoidPlan: options.sigmoidPlan, real: make(false), copies: make(true) };
}
