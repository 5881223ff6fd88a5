// The main job (`npm start`): the 1-D dense detector of examples/detector/. Properties that hold by
// construction, on small configurations — not a tuned AP win (that is reported, with its spread, by the CLI).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { sigmoidFocalLoss, sigmoidFocalLossWithGrad } from 'focal-loss';
// @ts-expect-error: plain JS module with JSDoc types
import * as D from '../examples/detector/detector.js';
// @ts-expect-error: plain JS module with JSDoc types
import { createComparison, runExperiment } from '../examples/detector/experiment.js';

const cli = fileURLToPath(new URL('../examples/detector/cli.js', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));
const run = (args: string[], timeout = 120_000) => spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout });
const SMALL = { train: 24, test: 40, val: 20 };

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
    const t = data.train.targets[0];
    for (const v of t) expect(v === D.IGNORE || (v >= 0 && v <= D.CLASSES)).toBe(true);
    expect(D.assign([{ cls: 1, lo: 100, hi: 112 }]).target.filter((v: number) => v === 1).length).toBeGreaterThan(0);
    expect(D.assign([]).target.every((v: number) => v === D.CLASSES)).toBe(true);
  });

  test('same seed, same signals; another seed, other signals', () => {
    const again = D.makeData(1);
    expect(Array.from(again.train.x[3])).toEqual(Array.from(data.train.x[3]));
    expect(again.test.boxes).toEqual(data.test.boxes);
    expect(Array.from(D.makeData(2).train.x[3])).not.toEqual(Array.from(data.train.x[3]));
  });
});

describe('evaluation', () => {
  const set = D.makeData(3, SMALL).test;
  const perfect = () => set.targets.map((t: Int32Array, k: number) => {
    const logits = new Float64Array(t.length * D.CLASSES).fill(-10);
    const box = new Float64Array(t.length * 2);
    for (let a = 0; a < t.length; a++) {
      if (t[a] < 0 || t[a] >= D.CLASSES) continue;
      logits[a * D.CLASSES + t[a]] = 5;
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
    a.runEpoch(); a.runEpoch();
    b.runEpoch(); b.runEpoch();
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

  test('the classification loss is the package\'s: summed over anchors and classes, ÷ positive anchors', () => {
    const seen: number[] = [];
    const spy = (l: any, t: any, o: any) => {
      const r = sigmoidFocalLossWithGrad(l, t, o);
      const part = sigmoidFocalLoss(l, t, { classes: o.classes, gamma: o.gamma, alpha: o.alpha, ignoreIndex: o.ignoreIndex, reduction: 'sum' });
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
    const r = D.createRun({ lossWithGrad: sigmoidFocalLossWithGrad, data, gamma: 0.5, alpha: 0.25, epochs: 3, seed: 5, float32: true });
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
    const pkg = sigmoidFocalLossWithGrad(logits, targets, { ...opts, targetForm: 'indices', ignoreIndex: D.IGNORE, out: new Float32Array(5) });
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
    r.runEpoch(); r.runEpoch();
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
  test('a small experiment: every loss on every seed, paired differences, the stability run', () => {
    const progress: string[] = [];
    const r = runExperiment({
      lossWithGrad: sigmoidFocalLossWithGrad, lossNone: sigmoidFocalLoss, seeds: 2, epochs: 2, ...SMALL,
      alphaGrid: [0.5, 0.75], stabilityEpochs: 1, onProgress: (e: any) => e.done && progress.push(`${e.stage} ${e.label}`),
    });
    expect(r.alphaSearch.map((s: any) => s.alpha)).toEqual([0.5, 0.75]);
    expect([0.5, 0.75]).toContain(r.ceAlpha);
    expect(r.table.map((t: any) => t.key)).toEqual(['ce', 'ce01', 'fl']);
    for (const t of r.table) {
      expect(t.perSeed.map((s: any) => s.seed)).toEqual([1, 2]);
      if (t.delta) {
        expect(t.delta.diffs).toEqual(t.perSeed.map((s: any, i: number) => s.ap - r.table[0].perSeed[i].ap));
        expect(t.delta.wins).toBe(t.delta.diffs.filter((d: number) => d > 0).length);
      }
    }
    // The search's winner is the first seed's cross-entropy run (trained once).
    expect(progress.filter((p) => p.startsWith('main')).length).toBe(2 * 3);
    expect(progress.filter((p) => p.startsWith('alpha')).length).toBe(2);
    expect(r.stability.package.nonFiniteSteps).toBe(0);
    expect(Object.keys(r.fig4).sort()).toEqual(['0', '0.5', '1', '2']);
  });

  test('the page\'s comparison is the CLI\'s runs (same seed, same numbers)', () => {
    const cmp = createComparison({ lossWithGrad: sigmoidFocalLossWithGrad, seed: 2, epochs: 1, ...SMALL });
    for (let i = 0; i < 3; i++) cmp.step(i);
    const fl = D.createRun({ lossWithGrad: sigmoidFocalLossWithGrad, data: D.makeData(2, { ...SMALL, val: 1 }), gamma: 2, alpha: 0.25, epochs: 1, seed: 2 });
    fl.runEpoch();
    expect(cmp.runs[2].history[0].ap).toBe(D.evaluate(fl.model, cmp.data.test).ap);
  });
});

describe('CLI', () => {
  test('--quick with small sizes prints progress, the AP table, Figure 4 and the stability lines', () => {
    const r = run(['--quick', '--seeds', '1', '--epochs', '2']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain('\r');
    expect(r.stdout).toMatch(/^seed 1 +FL γ=2, α=\.25 +2 epochs {2}cls loss \d+\.\d{3} {2}box loss \d\.\d{3} {2}AP \d\.\d{3}/m);
    expect(r.stdout).toContain("cross-entropy's α: 0.75 (given; no search)");
    expect(r.stdout).toMatch(/^CE α=\.75 +\d\.\d{3} ± \d\.\d{3} +\d\.\d{3} ± \d\.\d{3} +\d\.\d{3} ± \d\.\d{3} +\d+\.\d{2}× +—$/m);
    expect(r.stdout).toMatch(/^FL γ=2, α=\.25 +\d\.\d{3} ± \d\.\d{3} .* [+−]\d\.\d{3}; [01]\/1; [+−]\d\.\d{3}\.\.[+−]\d\.\d{3}$/m);
    expect(r.stdout).toMatch(/^γ = 2 +│ +\d\.\d{3} {2}\d\.\d{3} {2}\d\.\d{3} │ +\d\.\d{3} {2}\d\.\d{3}$/m);
    expect(r.stdout).toMatch(/this package: +AP \d\.\d{3}, final cls loss \d+\.\d{3}, non-finite loss\/gradient in 0 steps/);
    expect(r.stdout).toMatch(/textbook float32: +AP/);
    // One seed: no spread, and the verdict says so.
    expect(r.stdout).toMatch(/^FL γ=2, α=\.25 vs CE α=\.75: ΔAP [+−]\d\.\d{3}, one seed: no spread to judge it by\. `--full` trains/m);
  });

  test('--json, --gamma, --alpha, --ce-alpha, --no-stability', () => {
    const r = run(['--json', '--seeds', '1', '--epochs', '1', '--gamma', '1', '--alpha', '0.5', '--ce-alpha', '0.9', '--no-stability', '--quick']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.gamma).toBe(1);
    expect(j.alpha).toBe(0.5);
    expect(j.ceAlpha).toBe(0.9);
    expect(j.stability).toBeNull();
    expect(j.table.map((t: any) => t.label)).toEqual(['CE α=.9', 'CE α=.9, cls loss ×0.1', 'FL γ=1, α=.5']);
  });

  test.each([
    [['--epochs', '0'], 'error: --epochs 0: expected an integer >= 1'],
    [['--seeds', '1.5'], 'error: --seeds 1.5: expected an integer in [1, 100]'],
    [['--gamma=-1'], 'error: --gamma -1: expected a number in [0, 20]'],
    [['--alpha', '2'], 'error: --alpha 2: expected a number in [0, 1]'],
    [['--ce-alpha', 'x'], 'error: --ce-alpha x: expected a number in [0, 1]'],
    [['--quick', '--full'], 'error: --quick and --full cannot be combined'],
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
    for (const flag of ['--seeds', '--seed', '--epochs', '--gamma', '--alpha', '--ce-alpha', '--grid', '--stability-epochs', '--no-stability', '--quick', '--full', '--json', '--help']) expect(r.stdout).toContain(flag);
  });
});

describe('the README excerpt', () => {
  // The excerpt of `npm start` in README.md's "See it work".
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('<!-- section:main-job -->'), readme.indexOf('<!-- /section:main-job -->'));
  const excerpt = [...section.matchAll(/```text\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes('anchors (seed')) ?? '';

  test('its anchor counts are the data\'s', () => {
    expect(excerpt).not.toBe('');
    const c = D.makeData(1).train.counts;
    expect(excerpt).toContain(`anchors (seed 1, training): ${c.positive} positive, ${c.background} background (1 : ${Math.round(c.background / c.positive)}), ${c.ignored} ignored; ${c.objects} objects`);
  });

  // The whole default run takes most of a minute: opt in with DETECTOR_README=1.
  test.skipIf(!process.env.DETECTOR_README)('every line of it but the timings is what `npm start` prints', () => {
    const r = run([], 300_000);
    expect(r.status).toBe(0);
    const strip = (s: string) => s.replace(/ \(\d+\.\d s\)/, '').replace(/; \d+\.\d s$/, '');
    const printed = r.stdout.split('\n').map(strip);
    for (const line of excerpt.trimEnd().split('\n').map(strip)) expect(printed).toContain(line);
  });
});
