// The main job (`npm start`): the 1-D dense detector of examples/detector/. Properties that hold by
// construction, on small configurations — not a tuned AP win (that is reported, with its spread, by the CLI) —
// plus the two facts `npm start` rests on: a run gives the same numbers in a worker thread as in this thread,
// and at the models' full length the textbook float32 loss goes non-finite where the package does not.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { sigmoidFocalLoss, sigmoidFocalLossWithGrad } from 'focal-loss';
// @ts-expect-error: plain JS module with JSDoc types
import * as D from '../examples/detector/detector.js';
// @ts-expect-error: plain JS module with JSDoc types
import * as E from '../examples/detector/experiment.js';
// @ts-expect-error: plain JS module with JSDoc types
import { createThreadPool, threadCpuSeconds } from '../examples/detector/pool.js';

const { PRESETS, STABILITY_GAMMA, createSerialPool, pairedInterval, runExperiment, runTask } = E;

const cli = fileURLToPath(new URL('../examples/detector/cli.js', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));
const run = (args: string[], timeout = 120_000) =>
  spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout });
const SMALL = { train: 24, test: 40, val: 20 };
const losses = { lossWithGrad: sigmoidFocalLossWithGrad, lossNone: sigmoidFocalLoss };
/** Everything but the timings (the only part of a result that differs between two runs of the same task). */
const withoutTiming = (r: any): any => JSON.parse(JSON.stringify(r, (k, v) => (k === 'timing' ? undefined : v)));

describe('data and anchors', () => {
  const data = D.makeData(1);

  test('background anchors outnumber positives more than 100 : 1, and every object has a positive anchor', () => {
    const c = data.train.counts;
    expect(c.background).toBeGreaterThan(100 * c.positive);
    expect(c.objects).toBeGreaterThan(40);
    data.train.boxes.forEach((objs: any[], k: number) => {
      const t = data.train.targets[k];
      for (const o of objs) {
        let found = false;
        for (let a = 0; a < t.length; a++) {
          if (t[a] !== o.cls) continue;
          const c0 = D.anchorCentre(a);
          const w = D.anchorWidth(a);
          if (D.iou1d(c0 - w / 2, c0 + w / 2, o.lo, o.hi) > 0) found = true;
        }
        expect(found).toBe(true);
      }
    });
  });

  test('targets: a class, C = background or ignoreIndex, by IoU', () => {
    expect(data.classes).toBe(1); // the design notes' detector
    const t = data.train.targets[0];
    for (const v of t) expect(v === D.IGNORE || v === 0 || v === 1).toBe(true);
    expect(D.assign([{ cls: 1, lo: 100, hi: 112 }], 3).target.filter((v: number) => v === 1).length).toBeGreaterThan(0);
    expect(D.assign([], 3).target.every((v: number) => v === 3)).toBe(true);
    expect(D.assign([], 1).target.every((v: number) => v === 1)).toBe(true);
  });

  test('1 and 3 classes place the same objects (only their classes and shapes differ)', () => {
    const three = D.makeData(1, {}, 3);
    expect(three.train.boxes.map((b: any[]) => b.map(({ lo, hi }) => [lo, hi]))).toEqual(
      data.train.boxes.map((b: any[]) => b.map(({ lo, hi }) => [lo, hi])),
    );
    expect(new Set(three.train.boxes.flat().map((b: any) => b.cls))).toEqual(new Set([0, 1, 2]));
    expect(new Set(data.train.boxes.flat().map((b: any) => b.cls))).toEqual(new Set([0]));
    expect(three.train.counts.positive).toBe(data.train.counts.positive);
  });

  test('same seed, same signals; another seed, other signals', () => {
    const again = D.makeData(1);
    expect(Array.from(again.train.x[3])).toEqual(Array.from(data.train.x[3]));
    expect(again.test.boxes).toEqual(data.test.boxes);
    expect(Array.from(D.makeData(2).train.x[3])).not.toEqual(Array.from(data.train.x[3]));
  });
});

describe.each([1, 3])('evaluation, %i classes', (classes) => {
  const set = D.makeData(3, SMALL, classes).test;
  const perfect = () =>
    set.targets.map((t: Int32Array, k: number) => {
      const logits = new Float64Array(t.length * set.classes).fill(-10);
      const box = new Float64Array(t.length * 2);
      for (let a = 0; a < t.length; a++) {
        if (t[a] < 0 || t[a] >= set.classes) continue;
        logits[a * set.classes + t[a]] = 5;
        box[2 * a] = set.boxTargets[k][2 * a];
        box[2 * a + 1] = set.boxTargets[k][2 * a + 1];
      }
      return { logits, box };
    });

  test('perfect outputs have AP 1; boxes shifted by 20% of their width (IoU 2/3) pass 4 of the 10 thresholds', () => {
    expect(D.evaluateOutputs(perfect(), set)).toMatchObject({ ap: 1, ap50: 1, ap75: 1 });
    const shifted = perfect();
    shifted.forEach((o: any) => {
      for (let a = 0; a < o.box.length / 2; a++) o.box[2 * a] += 0.2 * Math.exp(o.box[2 * a + 1]);
    });
    const r = D.evaluateOutputs(shifted, set);
    expect(r.ap50).toBe(1);
    expect(r.ap75).toBe(0);
    expect(r.ap).toBeCloseTo(0.4, 12);
  });

  test('a diverged (NaN) model detects nothing: AP 0', () => {
    const nan = perfect().map((o: any) => ({ logits: o.logits.fill(NaN), box: o.box }));
    expect(D.evaluateOutputs(nan, set).ap).toBe(0);
  });
});

describe('training', () => {
  const data = D.makeData(5, SMALL);

  test('same seed, same numbers', () => {
    const a = D.createRun({ lossWithGrad: sigmoidFocalLossWithGrad, data, gamma: 2, alpha: 0.25, epochs: 2, seed: 5 });
    const b = D.createRun({ lossWithGrad: sigmoidFocalLossWithGrad, data, gamma: 2, alpha: 0.25, epochs: 2, seed: 5 });
    a.runEpoch();
    a.runEpoch();
    b.runEpoch();
    b.runEpoch();
    expect(a.history).toEqual(b.history);
    expect(Array.from(a.model.params)).toEqual(Array.from(b.model.params));
    expect(D.evaluate(a.model, data.test)).toEqual(D.evaluate(b.model, data.test));
  });

  test('the initial model: π = 0.01 on every anchor and class; losses differ only in γ, α and the weight', () => {
    const m = D.createModel(16, 5);
    const out = D.infer(m, { x: [data.test.x[0]], n: 1 })[0];
    const p = out.logits.map((z: number) => 1 / (1 + Math.exp(-z)));
    expect(Math.abs(p.reduce((s: number, v: number) => s + v, 0) / p.length - 0.01)).toBeLessThan(0.002);
    const ce = D.createRun({ lossWithGrad: sigmoidFocalLossWithGrad, data, gamma: 0, alpha: 0.75, epochs: 1, seed: 5 });
    const fl = D.createRun({ lossWithGrad: sigmoidFocalLossWithGrad, data, gamma: 2, alpha: 0.25, epochs: 1, seed: 5 });
    expect(Array.from(ce.model.params)).toEqual(Array.from(fl.model.params));
  });

  test("the classification loss is the package's: summed over anchors and classes, ÷ positive anchors", () => {
    const seen: number[] = [];
    const spy = (l: any, t: any, o: any) => {
      const r = sigmoidFocalLossWithGrad(l, t, o);
      const part = sigmoidFocalLoss(l, t, {
        classes: o.classes,
        targetForm: o.targetForm,
        gamma: o.gamma,
        alpha: o.alpha,
        ignoreIndex: o.ignoreIndex,
        reduction: 'sum',
      });
      let pos = 0;
      for (const v of t) if (v >= 0 && v < o.classes) pos++;
      seen.push(Math.abs(r.loss - part / Math.max(1, pos)) / r.loss);
      expect(r.grad).toBe(o.out); // written into the trainer's buffer
      return r;
    };
    const r = D.createRun({ lossWithGrad: spy, data, gamma: 2, alpha: 0.25, epochs: 1, seed: 5 });
    r.runEpoch();
    expect(seen.length).toBe(Math.ceil(SMALL.train / 8));
    for (const e of seen) expect(e).toBeLessThan(1e-12);
  });

  test('every loss and gradient is finite with this package (float32 logits, γ = 0.5), and the trunk sees both heads', () => {
    const r = D.createRun({
      lossWithGrad: sigmoidFocalLossWithGrad,
      data,
      gamma: 0.5,
      alpha: 0.25,
      epochs: 3,
      seed: 5,
      float32: true,
    });
    for (let e = 0; e < 3; e++) r.runEpoch();
    expect(r.stability.nonFiniteSteps).toBe(0);
    expect(r.stability.paramsNonFinite).toBe(false);
    expect(r.trunkRatio).toBeGreaterThan(0);
    expect(Number.isFinite(r.trunkRatio)).toBe(true);
  });

  test('the textbook float32 focal loss: NaN gradient once p_t rounds to 1 at γ < 1; the package is finite there', () => {
    const logits = new Float32Array([17.4, -17.4, 30, -30, 3]);
    const targets = new Int32Array([0, 1, 0, 1, 0]);
    const opts = { classes: 1, gamma: 0.5, alpha: 0.25, normalizer: 1 };
    const tb = D.textbookFocalLossWithGrad(logits, targets, { ...opts, out: new Float32Array(5) });
    expect(Array.from(tb.grad.subarray(0, 4)).every(Number.isNaN)).toBe(true);
    const pkg = sigmoidFocalLossWithGrad(logits, targets, {
      ...opts,
      targetForm: 'indices',
      ignoreIndex: D.IGNORE,
      out: new Float32Array(5),
    });
    expect(Array.from(pkg.grad).every(Number.isFinite)).toBe(true);
    // Where both are finite they agree (float32 rounding apart).
    expect(Math.abs(tb.grad[4] - pkg.grad[4]) / Math.abs(pkg.grad[4])).toBeLessThan(1e-5);
    // With γ ≥ 1 the textbook gradient has no (1 − p_t)^(γ−1) = ∞ and stays finite.
    const g2 = D.textbookFocalLossWithGrad(logits, targets, { ...opts, gamma: 2, out: new Float32Array(5) });
    expect(Array.from(g2.grad).every(Number.isFinite)).toBe(true);
  });
});

describe('Figure 4', () => {
  test('the hardest negatives carry a larger share of the loss as γ grows (the same model, the same anchors)', () => {
    const data = D.makeData(7, SMALL);
    const r = D.createRun({ lossWithGrad: sigmoidFocalLossWithGrad, data, gamma: 2, alpha: 0.25, epochs: 2, seed: 7 });
    r.runEpoch();
    r.runEpoch();
    const f4 = D.figure4(r.model, data.test, sigmoidFocalLoss);
    const neg = (g: number, i: number) => f4[String(g)].negatives.shares[i];
    for (let i = 0; i < 3; i++) {
      expect(neg(0.5, i)).toBeGreaterThan(neg(0, i));
      expect(neg(1, i)).toBeGreaterThan(neg(0.5, i));
      expect(neg(2, i)).toBeGreaterThan(neg(1, i));
    }
    // Shares grow with the fraction, and the CDF runs from (0, 0) to (1, 1).
    const s = f4['2'].negatives.shares;
    expect(s[0]).toBeLessThan(s[1]);
    expect(s[1]).toBeLessThan(s[2]);
    const cdf = f4['0'].positives.cdf;
    expect(cdf[0]).toEqual([0, 0]);
    expect(cdf[cdf.length - 1][0]).toBe(1);
    expect(cdf[cdf.length - 1][1]).toBeCloseTo(1, 12);
    expect(f4['0'].positives.count).toBe(data.test.counts.positive);
  });
});

describe('the experiment', () => {
  const small = { ...SMALL, seeds: 2, epochs: 2, alphaGrid: [0.5, 0.75], stabilityEpochs: 2 };

  test('a small experiment: every loss on every seed, paired differences, the stability pair', async () => {
    const progress: string[] = [];
    const r = await runExperiment({
      ...small,
      pool: createSerialPool(losses),
      onProgress: (e: any) => e.done && progress.push(`${e.task.key} ${e.task.seed}`),
    });
    expect(r.classes).toBe(1);
    expect(r.alphaSearch.map((s: any) => s.alpha)).toEqual([0.5, 0.75]);
    const best = r.alphaSearch.reduce((b: any, s: any) => (s.ap > b.ap ? s : b));
    expect(r.ceAlpha).toBe(best.alpha);
    expect(r.table.map((t: any) => t.key)).toEqual(['ce', 'ce01', 'fl']);
    for (const t of r.table) {
      expect(t.perSeed.map((s: any) => s.seed)).toEqual([1, 2]);
      if (t.delta) {
        expect(t.delta.diffs).toEqual(t.perSeed.map((s: any, i: number) => s.ap - r.table[0].perSeed[i].ap));
        expect(t.delta.wins).toBe(t.delta.diffs.filter((d: number) => d > 0).length);
      }
    }
    // The search's winner is the first seed's cross-entropy run (trained once): 2 + 5 + 2 runs.
    expect(progress.filter((p) => p.startsWith('alpha')).length).toBe(2);
    expect(progress.filter((p) => /^(ce|ce01|fl) /.test(p)).length).toBe(2 * 3 - 1);
    expect(r.timing.runs).toBe(2 + 5 + 2);
    // And its test AP is what training cross-entropy at that α from scratch gives.
    const again = runTask(
      { key: 'ce', label: '', seed: 1, classes: 1, sizes: SMALL, epochs: 2, gamma: 0, alpha: r.ceAlpha },
      losses,
    );
    expect(r.table[0].perSeed[0].ap).toBe(again.test.ap);
    expect(r.stability.package.nonFiniteSteps).toBe(0);
    expect(r.stability.steps).toBe(2 * Math.ceil(SMALL.train / 8));
    expect(Object.keys(r.fig4).sort()).toEqual(['0', '0.5', '1', '2']);
  });

  test("worker threads give the serial run's numbers bit for bit, whatever order the runs finish in", async () => {
    const serial = await runExperiment({ ...small, seeds: 3, pool: createSerialPool(losses), evalEvery: 1 });
    const pool = createThreadPool(2);
    let parallel: Awaited<ReturnType<typeof runExperiment>>;
    try {
      parallel = await runExperiment({ ...small, seeds: 3, pool, evalEvery: 1 });
    } finally {
      await pool.close();
    }
    expect(parallel.timing.workers).toBe(2);
    expect(parallel.timing.runs).toBe(serial.timing.runs);
    // toEqual on plain numbers is Object.is: every AP, loss, ratio, curve point and Figure 4 share identical.
    expect(withoutTiming(parallel)).toEqual(withoutTiming(serial));
    expect(serial.table[2].perSeed[0].curve.map((c: any) => c.epoch)).toEqual([1, 2]);
    // Each run reports its own thread's CPU time.
    for (const r of parallel.timing.perRun) expect(r.cpuSeconds).toBeGreaterThan(0);
  });

  test('the paired interval: t quantile × sd / √n, resolved when it excludes 0', () => {
    const a = [0.4, 0.42, 0.38, 0.41];
    const b = [0.45, 0.46, 0.44, 0.47];
    const p = pairedInterval(a, b);
    const d = b.map((v, i) => v - a[i]);
    const mean = d.reduce((s, v) => s + v, 0) / 4;
    const sd = Math.sqrt(d.reduce((s, v) => s + (v - mean) ** 2, 0) / 3);
    expect(p.mean).toBeCloseTo(mean, 15);
    expect(p.half).toBeCloseTo((3.182 * sd) / 2, 15); // Student's t, 3 degrees of freedom, 97.5%
    expect(p.resolved).toBe(true);
    expect(pairedInterval([0.4, 0.5], [0.45, 0.44]).resolved).toBe(false);
    expect(pairedInterval([0.4], [0.5]).resolved).toBe(false);
  });

  test("a task's own CPU time is this thread's (Linux /proc/thread-self)", () => {
    const c0 = threadCpuSeconds();
    if (c0 === null) return; // not Linux: the CLI prints the process's CPU only
    let x = 0;
    for (let i = 0; i < 2e7; i++) x += Math.sqrt(i);
    expect(x).toBeGreaterThan(0);
    expect(threadCpuSeconds() - c0).toBeGreaterThan(0.001);
  });
});

describe("stability at the models' full length (the default: 60 epochs, seed 1, 1 class)", () => {
  // The two stability tasks exactly as `npm start` runs them, in two worker threads (~15 s of CPU).
  let textbook: any;
  let pkg: any;
  const P = PRESETS.default;
  const stab = {
    seed: 1,
    classes: P.classes,
    sizes: { train: P.train, test: P.test, val: P.val },
    epochs: P.stabilityEpochs,
    gamma: STABILITY_GAMMA,
    alpha: 0.25,
    float32: true,
    trace: true,
  };

  test('the textbook float32 loss goes non-finite; the package stays finite and trains', async () => {
    const pool = createThreadPool(2);
    try {
      [textbook, pkg] = await Promise.all([
        pool.run({ ...stab, key: 'stability-textbook', label: 'textbook', textbook: true }),
        pool.run({ ...stab, key: 'stability-package', label: 'package' }),
      ]);
    } finally {
      await pool.close();
    }
    const steps = P.stabilityEpochs * Math.ceil(P.train / 8);
    expect(pkg.steps).toBe(steps);
    expect(textbook.steps).toBe(steps);
    // The package: every loss and gradient finite, every step's loss finite, a detector that detects.
    expect(pkg.stability.firstNonFinite).toBeNull();
    expect(pkg.stability.nonFiniteSteps).toBe(0);
    expect(pkg.trace.loss.every(Number.isFinite)).toBe(true);
    expect(pkg.test.ap).toBeGreaterThan(0.05);
    // The textbook version: a first non-finite step, NaN weights after it, nothing detected.
    const first = textbook.stability.firstNonFinite;
    expect(first.step).toBeGreaterThan(1);
    expect(first.step).toBeLessThanOrEqual(steps);
    expect(textbook.stability.nonFiniteSteps).toBeGreaterThan(0);
    expect(textbook.stability.paramsNonFinite).toBe(true);
    expect(textbook.test.ap).toBe(0);
    // Up to that step both runs are the same run: same losses (float32 rounding apart) ...
    for (let i = 0; i < first.step - 1; i++)
      expect(Math.abs(textbook.trace.loss[i] - pkg.trace.loss[i])).toBeLessThan(1e-4 * pkg.trace.loss[i]);
    // ... and the step where it breaks is where a logit first crosses float32's saturation of p_t: computed
    // here independently, the largest float32 logit x < 0 with fround(1 − σ(x)) = 1 (γ < 1: (1 − p_t)^(γ − 1) = ∞).
    let lo = -30;
    let hi = -10; // fround(1 - σ(lo)) === 1, fround(1 - σ(hi)) < 1
    const saturated = (x: number) => Math.fround(1 - Math.fround(1 / Math.fround(1 + Math.fround(Math.exp(-x))))) === 1;
    for (let k = 0; k < 60; k++) {
      const mid = (lo + hi) / 2;
      if (saturated(mid)) lo = mid;
      else hi = mid;
    }
    expect(lo).toBeCloseTo(-17.33, 1);
    const minBefore = Math.min(...textbook.trace.minLogit.slice(0, first.step - 1));
    expect(minBefore).toBeGreaterThan(lo); // no earlier step saturated
    expect(textbook.trace.minLogit[first.step - 1]).toBeLessThanOrEqual(lo); // this one did
  }, 240_000);
});

describe('CLI', () => {
  const tiny = ['--quick', '--seeds', '1', '--epochs', '2', '--stability-epochs', '2'];

  test('--quick with small sizes prints progress, the AP table, the interval, Figure 4, the stability and time lines', () => {
    const r = run(tiny);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain('\r');
    expect(r.stdout).toMatch(
      /^seed 1 +FL γ=2, α=\.25 +2 epochs {2}cls loss \d+\.\d{3} {2}box loss \d\.\d{3} {2}AP \d\.\d{3} {2}\(\d+\.\d s, CPU \d+\.\d s\)$/m,
    );
    expect(r.stdout).toContain("cross-entropy's α: 0.75 (given; no search)");
    expect(r.stdout).toMatch(
      /^CE α=\.75 +\d\.\d{3} ± \d\.\d{3} +\d\.\d{3} ± \d\.\d{3} +\d\.\d{3} ± \d\.\d{3} +\d+\.\d{2}× +—$/m,
    );
    expect(r.stdout).toMatch(
      /^FL γ=2, α=\.25 +\d\.\d{3} ± \d\.\d{3} .* [+−]\d\.\d{3} ± 0\.000; [01]\/1; [+−]\d\.\d{3}\.\.[+−]\d\.\d{3}$/m,
    );
    expect(r.stdout).toMatch(/^γ = 2 +│ +\d\.\d{3} {2}\d\.\d{3} {2}\d\.\d{3} │ +\d\.\d{3} {2}\d\.\d{3}$/m);
    expect(r.stdout).toMatch(
      /this package: +AP \d\.\d{3}, final cls loss \d+\.\d{3}; finite loss and gradient in all 16 steps/,
    );
    expect(r.stdout).toMatch(/textbook float32: +AP/);
    // One seed: no spread, and the verdict says so.
    expect(r.stdout).toMatch(/^FL γ=2, α=\.25 vs CE α=\.75: ΔAP [+−]\d\.\d{3}, one seed: no spread to judge it by\.$/m);
    expect(r.stdout).toMatch(
      /^Time: \d+\.\d s wall for 5 runs on \d+ worker threads \(\d+ cores\); CPU \d+\.\d s for the process/m,
    );
    expect(r.stdout).toMatch(/^load average \(1 min\) \d+\.\d\d at the start, \d+\.\d\d at the end/m);
  });

  test('--workers 0 (this thread) and worker threads print the same results', () => {
    const args = ['--json', '--quick', '--seeds', '2', '--epochs', '1', '--stability-epochs', '1'];
    const a = run([...args, '--workers', '0']);
    const b = run([...args, '--workers', '2']);
    expect(a.status).toBe(0);
    expect(b.status).toBe(0);
    const ja = JSON.parse(a.stdout);
    const jb = JSON.parse(b.stdout);
    expect(ja.timing.workers).toBe(1);
    expect(jb.timing.workers).toBe(2);
    expect(ja.table.length).toBe(3);
    expect(withoutTiming(jb)).toEqual(withoutTiming(ja));
  });

  test('--json, --gamma, --alpha, --ce-alpha, --no-stability', () => {
    const r = run([
      '--json',
      '--seeds',
      '1',
      '--epochs',
      '1',
      '--gamma',
      '1',
      '--alpha',
      '0.5',
      '--ce-alpha',
      '0.9',
      '--no-stability',
      '--quick',
    ]);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.gamma).toBe(1);
    expect(j.alpha).toBe(0.5);
    expect(j.ceAlpha).toBe(0.9);
    expect(j.stability).toBeNull();
    expect(j.table.map((t: any) => t.label)).toEqual(['CE α=.9', 'CE α=.9, cls loss ×0.1', 'FL γ=1, α=.5']);
  });

  test('--classes 3: the earlier 3-class detector', () => {
    const r = run([
      '--json',
      '--classes',
      '3',
      '--seeds',
      '1',
      '--epochs',
      '1',
      '--ce-alpha',
      '0.75',
      '--no-stability',
    ]);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.classes).toBe(3);
    expect(j.sizes).toEqual({ train: 96, test: 200, val: 100 });
    expect(j.counts).toEqual(D.makeData(1, { train: 96, test: 200, val: 100 }, 3).train.counts);
    expect(j.fig4['0'].positives.count).toBe(j.testCounts.positive);
    // 3 classes: every background anchor gives C negative (anchor, class) pairs, every positive C − 1.
    expect(j.fig4['0'].negatives.count).toBe(3 * j.testCounts.background + 2 * j.testCounts.positive);
  });

  test.each([
    [['--epochs', '0'], 'error: --epochs 0: expected an integer >= 1'],
    [['--seeds', '1.5'], 'error: --seeds 1.5: expected an integer in [1, 100]'],
    [['--gamma=-1'], 'error: --gamma -1: expected a number in [0, 20]'],
    [['--alpha', '2'], 'error: --alpha 2: expected a number in [0, 1]'],
    [['--ce-alpha', 'x'], 'error: --ce-alpha x: expected a number in [0, 1]'],
    [['--classes', '2'], 'error: --classes 2: expected 1 or 3'],
    [['--workers=-1'], 'error: --workers -1: expected an integer in [0, 64]'],
    [['--quick', '--classes', '3'], 'error: --quick and --classes 3 cannot be combined'],
    [['--stability-epochs', '0'], 'error: --stability-epochs 0: expected an integer >= 1'],
    [['--frobnicate'], "error: Unknown option '--frobnicate'"],
  ])('%j fails with exit code 1 and a clear message', (args, message) => {
    const r = run(args);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });

  test('--help', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const flag of [
      '--classes',
      '--seeds',
      '--seed',
      '--epochs',
      '--gamma',
      '--alpha',
      '--ce-alpha',
      '--grid',
      '--stability-epochs',
      '--no-stability',
      '--workers',
      '--quick',
      '--json',
      '--help',
    ])
      expect(r.stdout).toContain(flag);
  });
});

describe('the walkthrough (examples/detector/README.md)', () => {
  const readme = readFileSync(new URL('../examples/detector/README.md', import.meta.url), 'utf8');
  const excerpt =
    [...readme.matchAll(/```text\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes('anchors (seed')) ?? '';

  test("its anchor counts are the data's", () => {
    expect(excerpt).not.toBe('');
    const c = D.makeData(1).train.counts;
    expect(excerpt).toContain(
      `anchors (seed 1, training): ${c.positive} positive, ${c.background} background (1 : ${Math.round(c.background / c.positive)}), ${c.ignored} ignored; ${c.objects} objects`,
    );
  });

  // The whole default run takes a minute and a half or more: opt in with DETECTOR_README=1.
  test.skipIf(!process.env.DETECTOR_README)('every line of it but the timings is what `npm start` prints', () => {
    const r = run([], 900_000);
    expect(r.status).toBe(0);
    const timed = /\(\d+\.\d s, CPU \d+\.\d s\)|^Time: |^load average/;
    const printed = r.stdout.split('\n');
    for (const line of excerpt.trimEnd().split('\n')) if (!timed.test(line)) expect(printed).toContain(line);
  });
});
