// Copy-cost instrumentation: the package's own engine (ts/engine.ts) and validation
// (ts/options.ts), transpiled from source with the TypeScript compiler into a temporary
// directory, driven over a second instance of dist/focal_loss.wasm. Three variants of one call:
//   plan    — validation only (softmaxPlan / sigmoidPlan)
//   engine  — the engine's chunk loop with the real kernels (copies in, kernel, copies out)
//   copies  — the same loop with the kernels replaced by a no-op returning 0: only the copies
//             (and the loop's bookkeeping) remain
//   resident — no copies at all: the batch placed once in grown wasm memory, one kernel call in
//             place (the bound for an API that allocates the caller's arrays inside wasm memory)
// so kernel ≈ engine − copies, and the public call ≈ plan + engine (+ allocation).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';

const root = new URL('..', import.meta.url);

async function loadSources() {
  const dir = mkdtempSync(join(tmpdir(), 'focal-bench-'));
  for (const name of ['abi', 'heap', 'options', 'engine']) {
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
  return {
    softmaxPlan: options.softmaxPlan, sigmoidPlan: options.sigmoidPlan, real: make(false), copies: make(true),
    resident: residentRunner(new WebAssembly.Instance(module, {}).exports),
  };
}

/**
 * The zero-copy bound: the whole batch already lives in (grown) wasm memory, and one kernel call
 * runs over it in place — what an API that lets callers allocate their arrays inside wasm memory
 * would cost. Returns a builder: (plan) → run().
 */
function residentRunner(x) {
  const memory = x.memory;
  const base = memory.buffer.byteLength;
  return (kind, plan) => {
    const T = plan.logits.BYTES_PER_ELEMENT;
    const n = plan.logits.length;
    const items = kind === 'softmax' ? plan.items : n;
    const targetBytes = kind === 'softmax' ? items * 4 : n * T;
    const need = 8 + n * T * 2 + targetBytes + 64;
    const have = memory.buffer.byteLength - base;
    if (have < need) memory.grow(Math.ceil((need - have) / 65536));
    const acc = base;
    const pLogits = base + 8;
    const pGrad = pLogits + n * T;
    const pTargets = pGrad + n * T;
    const Ctor = plan.logits.constructor;
    new Ctor(memory.buffer, pLogits, n).set(plan.logits);
    if (kind === 'softmax') new Int32Array(memory.buffer, pTargets, items).set(plan.targets.data);
    else new Ctor(memory.buffer, pTargets, n).set(plan.targets);
    const f64 = T === 8;
    if (kind === 'softmax') {
      const k = f64 ? x.focal_softmax_f64 : x.focal_softmax_f32;
      const scale = plan.count > 0 ? 1 / plan.count : 0;
      return () => {
        new Float64Array(memory.buffer, acc, 1)[0] = 0;
        const st = k(plan.batch, plan.classes, plan.spatial, pLogits, pTargets, 0, 0, plan.alphaScalar, 0, plan.gamma, plan.labelSmoothing, plan.ignoreIndex, scale, 0, pGrad, acc);
        if (st !== 0) throw new Error(`resident softmax kernel status ${st}`);
        return new Float64Array(memory.buffer, acc, 1)[0] / plan.count;
      };
    }
    const k = f64 ? x.focal_sigmoid_f64 : x.focal_sigmoid_f32;
    return () => {
      new Float64Array(memory.buffer, acc, 1)[0] = 0;
      const st = k(n, pLogits, pTargets, 0, plan.gamma, plan.alpha, plan.labelSmoothing, 1 / n, 0, pGrad, acc);
      if (st !== 0) throw new Error(`resident sigmoid kernel status ${st}`);
      return new Float64Array(memory.buffer, acc, 1)[0] / n;
    };
  };
}
