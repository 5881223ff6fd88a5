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
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';

const root = new URL('..', import.meta.url);

async function loadSources() {
  const dir = mkdtempSync(join(tmpdir(), 'focal-bench-'));
  // Every module of ts/ (not the runtime entries), so that whatever engine.ts and options.ts import is there.
  const names = readdirSync(new URL('ts/', root))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3));
  for (const name of names) {
    const src = readFileSync(new URL(`ts/${name}.ts`, root), 'utf8');
    const out = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: `${name}.ts`,
    });
    writeFileSync(join(dir, `${name}.js`), out.outputText);
  }
  const options = await import(join(dir, 'options.js'));
  const engine = await import(join(dir, 'engine.js'));
  const abi = await import(join(dir, 'abi.js'));
  return { options, engine, abi };
}

/** Engines over dist/focal_loss.wasm: `real` with the kernels, `copies` with no-op kernels. */
export async function instrumentedEngines() {
  const { options, engine, abi } = await loadSources();
  const module = new WebAssembly.Module(readFileSync(new URL('dist/focal_loss.wasm', root)));
  const make = (noKernel) => {
    const instance = new WebAssembly.Instance(module, {});
    if (!noKernel) return new engine.Engine(instance);
    const x = { ...instance.exports };
    for (const k of ['focal_softmax_f32', 'focal_softmax_f64', 'focal_elementwise_f32', 'focal_elementwise_f64'])
      x[k] = () => 0;
    return new engine.Engine({ exports: x });
  };
  return {
    softmaxPlan: options.softmaxPlan,
    // One plan function per element-wise loss of the bench (the kinds of bench/run.mjs).
    elementPlans: Object.fromEntries(
      ['sigmoid', 'quality', 'varifocal', 'asymmetric'].map((kind) => [
        kind,
        (...a) => options.elementPlan(options.LOSSES[kind], ...a),
      ]),
    ),
    real: make(false),
    copies: make(true),
    resident: residentRunner(new WebAssembly.Instance(module, {}).exports, abi),
  };
}

/**
 * The zero-copy bound: the whole batch already lives in (grown) wasm memory, and one kernel call
 * runs over it in place — what an API that lets callers allocate their arrays inside wasm memory
 * would cost. Returns a builder: (kind, plan) → run().
 */
function residentRunner(x, abi) {
  const memory = x.memory;
  const base = memory.buffer.byteLength;
  return (kind, plan) => {
    const T = plan.logits.BYTES_PER_ELEMENT;
    const n = plan.logits.length;
    const index = plan.targets.kind === 'index';
    const targetBytes = index ? plan.items * 4 : n * T;
    const header = base;
    const pLogits = base + Math.ceil(abi.HEADER.size / 64) * 64; // the header (152 bytes in ABI 3) comes first
    const pGrad = pLogits + n * T;
    const pTargets = pGrad + n * T;
    const need = pLogits - base + n * T * 2 + targetBytes + 64;
    const have = memory.buffer.byteLength - base;
    if (have < need) memory.grow(Math.ceil((need - have) / 65536));
    const Ctor = plan.logits.constructor;
    new Ctor(memory.buffer, pLogits, n).set(plan.logits);
    new (index ? Int32Array : Ctor)(memory.buffer, pTargets, index ? plan.items : n).set(plan.targets.data);
    const f32 = T === 4;
    const k =
      kind === 'softmax'
        ? f32
          ? x.focal_softmax_f32
          : x.focal_softmax_f64
        : f32
          ? x.focal_elementwise_f32
          : x.focal_elementwise_f64;
    // The engine's own header (ts/engine.ts): the plan's parameters, then this call's addresses.
    const h = {
      ...plan.params,
      batch: plan.batch,
      classes: plan.classes,
      spatial: plan.spatial,
      reserved: 0,
      error_index: 0,
      logits: pLogits,
      target_indices: index ? pTargets : 0,
      target_values: index ? 0 : pTargets,
      alpha: 0,
      pos_weight: 0,
      weights: 0,
      loss_out: 0,
      grad_out: pGrad,
      grad_scale: plan.count > 0 ? 1 / plan.count : 0,
      sum: 0,
      positives: 0,
    };
    return () => {
      abi.writeHeader(memory.buffer, header, h);
      const st = k(header);
      if (st !== 0) throw new Error(`resident ${kind} kernel status ${st}`);
      return abi.readHeaderField(memory.buffer, header, 'sum') / plan.count;
    };
  };
}
