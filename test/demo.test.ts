// The three-cluster classifier demo (`npm run demo:classes`; `npm start` before the detector): the training module, the CSV loader and the CLI.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { softmaxFocalLoss, softmaxFocalLossWithGrad } from 'focal-loss';
// @ts-expect-error: plain JS module with JSDoc types
import * as T from '../examples/train/train.js';
// @ts-expect-error: plain JS module with JSDoc types
import { DataError, parseCsv } from '../examples/train/csv.js';

const cli = fileURLToPath(new URL('../examples/train/cli.js', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));

function run(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
}

describe('training', () => {
  test('focal loss (γ = 2, α from inverse frequency) finds more of the rarest class than cross-entropy', () => {
    for (const seed of [7, 11]) {
      const r = T.trainBoth({ lossWithGrad: softmaxFocalLossWithGrad, seed, epochs: 10 });
      expect(r.rarest).toBe(0);
      expect(r.trainCounts[0] * 50).toBeLessThan(r.trainCounts[2]);
      expect(r.focal.recall[r.rarest], `seed ${seed}`).toBeGreaterThan(r.ce.recall[r.rarest] + 0.1);
      // Both runs learned something: far better than always predicting the common class.
      expect(r.ce.macroF1).toBeGreaterThan(0.5);
      expect(r.focal.macroF1).toBeGreaterThan(0.4);
    }
  });

  test('same seed, same numbers; the two runs share the initial weights', () => {
    const a = T.trainBoth({ lossWithGrad: softmaxFocalLossWithGrad, seed: 3, epochs: 3 });
    const b = T.trainBoth({ lossWithGrad: softmaxFocalLossWithGrad, seed: 3, epochs: 3 });
    expect(a.focal.history).toEqual(b.focal.history);
    const p = T.prepare({ lossWithGrad: softmaxFocalLossWithGrad, seed: 3 });
    const ce = T.createRun({ ...p.runOptions, ...p.runs.ce });
    const focal = T.createRun({ ...p.runOptions, ...p.runs.focal });
    expect(Array.from(ce.model.params)).toEqual(Array.from(focal.model.params));
  });

  test("the reported loss is the package's loss of the model on the data", () => {
    const p = T.prepare({ lossWithGrad: softmaxFocalLossWithGrad, seed: 5, gamma: 2 });
    const run = T.createRun({ ...p.runOptions, ...p.runs.focal });
    run.runEpoch();
    const r = run.result();
    const { logits } = T.predict(run.model, p.runOptions.test);
    const direct = softmaxFocalLoss(logits, p.runOptions.test.y, { classes: 3, gamma: 2, alpha: p.info.alpha });
    expect(r.testLoss).toBeCloseTo(direct, 12);
    // And the focal loss written out: mean of −α_t (1 − p_t)^2 log p_t.
    let sum = 0;
    const y = p.runOptions.test.y;
    for (let i = 0; i < y.length; i++) {
      const z = logits.subarray(i * 3, i * 3 + 3);
      const m = Math.max(...z);
      const lse = m + Math.log(z.reduce((s: number, v: number) => s + Math.exp(v - m), 0));
      const pt = Math.exp(z[y[i]] - lse);
      sum += -p.info.alpha[y[i]] * (1 - pt) ** 2 * (z[y[i]] - lse);
    }
    expect(Math.abs(r.testLoss - sum / y.length) / r.testLoss).toBeLessThan(1e-9);
  });

  test('α from inverse class frequency sums to 1 and is proportional to 1/n', () => {
    const a = T.inverseFrequencyAlpha([10, 100, 1000]);
    expect(a.reduce((s: number, v: number) => s + v, 0)).toBeCloseTo(1, 14);
    expect(a[0] / a[1]).toBeCloseTo(10, 12);
    expect(a[1] / a[2]).toBeCloseTo(10, 12);
    expect(T.alphaFor('none', 3, [1, 2, 3])).toBeNull();
    expect(T.alphaFor('0.5,0.3,0.2', 3, [1, 2, 3])).toEqual([0.5, 0.3, 0.2]);
    expect(() => T.alphaFor('0.5,0.5', 3, null)).toThrow(/3 comma-separated numbers/);
  });

  test('metrics: recall, precision and macro-F1 by hand', () => {
    const y = [0, 0, 1, 1, 1, 2];
    const pred = [0, 1, 1, 1, 2, 1];
    const m = T.metrics(y, pred, 3);
    expect(m.recall).toEqual([0.5, 2 / 3, 0]);
    // Class 1 is predicted 4 times (rows 1, 2, 3, 5), twice rightly; class 2 once, wrongly.
    expect(m.precision).toEqual([1, 0.5, 0]);
    const f1 = [(2 * 1 * 0.5) / 1.5, (2 * 0.5 * (2 / 3)) / (0.5 + 2 / 3), 0];
    expect(m.macroF1).toBeCloseTo((f1[0] + f1[1] + f1[2]) / 3, 14);
    expect(T.metrics([0, 1], [0, 0], 2).precision[1]).toBeNaN();
  });
});

describe('CSV loader', () => {
  test('reads features and labels, with or without a header, and renumbers labels', () => {
    const d = parseCsv('x1,x2,label\n0.5,1,3\n-1,2e-1,7\n\n2,3,3\n1,1,7\n', 'a.csv');
    expect(d.n).toBe(4);
    expect(d.dims).toBe(2);
    expect(d.classes).toBe(2);
    expect(d.classNames).toEqual(['3', '7']);
    expect(Array.from(d.y)).toEqual([0, 1, 0, 1]);
    expect(Array.from(d.x)).toEqual([0.5, 1, -1, 0.2, 2, 3, 1, 1]);
    const noHeader = parseCsv('1,0\n2,1\n3,0\n4,1', 'b.csv');
    expect(noHeader.n).toBe(4);
    expect(noHeader.dims).toBe(1);
  });

  test.each([
    ['', /a\.csv has no data rows/],
    ['f,label\n', /a\.csv has no data rows/],
    ['1,2,0\n1,2\n3,4,1', /a\.csv: line 2 has 2 columns, expected 3 \(as on line 1\)/],
    ['a,b,y\n1,2,0\n1,x,1\n', /a\.csv: line 3, column 2: 'x' is not a number/],
    ['1,2,0\n1,2,one\n', /a\.csv: line 2, the label: 'one' is not a number/],
    ['1,2,0\n1,2,1.5\n', /a\.csv: line 2: the label '1\.5' is not an integer/],
    ['1,2,4\n3,4,4\n5,6,4\n', /a\.csv: the label column has only 1 class \(4\); classification needs at least 2/],
    ['1,0\n2,0\n3,1\n', /a\.csv: class 1 has only 1 row/],
    ['1\n2\n', /a\.csv: line 1 has 1 column; expected feature columns followed by an integer label column/],
  ])('rejects %j', (text, message) => {
    expect(() => parseCsv(text, 'a.csv')).toThrow(DataError);
    expect(() => parseCsv(text, 'a.csv')).toThrow(message);
  });
});

describe('CLI', () => {
  test('trains and prints the table', () => {
    const r = run(['--epochs', '3', '--seed', '7']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // Not a TTY: plain progress lines, no carriage returns.
    expect(r.stdout).not.toContain('\r');
    expect(r.stdout).toMatch(/training cross-entropy epoch 3\/3 {2}loss \d\.\d{4}/);
    expect(r.stdout).toMatch(/training focal {9}epoch 3\/3/);
    expect(r.stdout).toContain(
      'embedded data (seed 7): 3 classes, 2 features, 6216 training / 2664 test rows; 3 epochs each',
    );
    expect(r.stdout).toMatch(/recall {2}precision/);
    expect(r.stdout).toMatch(/^rare +56 +24 │ \d\.\d{3} +(\d\.\d{3}|—) +│ \d\.\d{3} +(\d\.\d{3}|—) ← rarest$/m);
    expect(r.stdout).toMatch(/^macro-F1 +│ \d\.\d{3} +│ \d\.\d{3}$/m);
    expect(r.stdout).toMatch(/^final loss \(train\) +│ \d\.\d{4} +│ \d\.\d{4}$/m);
    // The printed recall is the one trainBoth computes.
    const t = T.trainBoth({ lossWithGrad: softmaxFocalLossWithGrad, seed: 7, epochs: 3 });
    expect(r.stdout).toContain(
      `Rarest class (rare): recall ${t.ce.recall[0].toFixed(3)} with cross-entropy, ${t.focal.recall[0].toFixed(3)} with focal loss`,
    );
  });

  test('--data reads a CSV file; --gamma and --alpha set the focal run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'focal-demo-'));
    const file = join(dir, 'd.csv');
    const lines = ['x,y,label'];
    const rand = T.rng(1);
    for (let i = 0; i < 300; i++) {
      const c = i % 10 === 0 ? 1 : 0;
      lines.push(`${(rand() + c).toFixed(4)},${rand().toFixed(4)},${c}`);
    }
    writeFileSync(file, lines.join('\n'));
    const r = run(['--data', file, '--epochs', '2', '--gamma', '1', '--alpha', 'none']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${file}: 2 classes, 2 features, 210 training / 90 test rows`);
    expect(r.stdout).toContain('focal run: gamma 1, alpha none');
  });

  test.each([
    [['--data', '/nonexistent/x.csv'], 'error: cannot read /nonexistent/x.csv: no such file'],
    [['--epochs', '0'], 'error: --epochs 0: expected an integer >= 1'],
    [['--gamma=-1'], 'error: --gamma -1: expected a number >= 0'],
    [['--seed', 'abc'], 'error: --seed abc: expected an integer in [0, 2^32)'],
    [['--alpha', '1,2'], 'error: --alpha 1,2: expected inverse, sqrt, none or 3 comma-separated numbers'],
    [['--frobnicate'], "error: Unknown option '--frobnicate'"],
  ])('%j fails with exit code 1 and a clear message', (args, message) => {
    const r = run(args);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });

  test("a bad CSV file fails with the loader's message and exit code 1", () => {
    const dir = mkdtempSync(join(tmpdir(), 'focal-demo-'));
    const file = join(dir, 'bad.csv');
    writeFileSync(file, '1,2,0\n3,4,1\n5,6\n');
    const r = run(['--data', file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`error: ${file}: line 3 has 2 columns, expected 3 (as on line 1)\n`);
  });

  test('--help', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const flag of ['--gamma', '--alpha', '--epochs', '--seed', '--data', '--help'])
      expect(r.stdout).toContain(flag);
  });
});
