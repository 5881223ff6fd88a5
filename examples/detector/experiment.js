// @ts-check
// The experiment `npm start` runs, as a function (no imports but ./detector.js; the losses are passed in):
// choose cross-entropy's α on validation signals, train every loss on every seed (same data, same initial
// weights and minibatch order per seed), evaluate AP on held-out signals, measure Figure 4 on the focal
// model, and train once more at γ = 0.5 with a textbook float32 focal loss beside the package.
import {
  DEFAULTS, FIG4_GAMMAS, createRun, evaluate, figure4, makeData, meanSpread, paired, textbookFocalLossWithGrad,
} from './detector.js';

export const PRESETS = Object.freeze({
  quick: { seeds: 2, epochs: 12, train: 64, test: 120, val: 60, alphaGrid: [], ceAlpha: 0.75, stabilityEpochs: 6 },
  default: { seeds: DEFAULTS.seeds, epochs: DEFAULTS.epochs, train: DEFAULTS.train, test: DEFAULTS.test, val: DEFAULTS.val, alphaGrid: [0.5, 0.75, 0.9], ceAlpha: null, stabilityEpochs: 10 },
  full: { seeds: 6, epochs: 60, train: 96, test: 300, val: 100, alphaGrid: [0.25, 0.5, 0.75, 0.9], ceAlpha: null, stabilityEpochs: 60 },
});
export const GAMMA_GRID = Object.freeze([0, 0.5, 1, 2, 5]);
export const STABILITY_GAMMA = 0.5;

const fmt = (v) => String(+v.toFixed(3)).replace(/^0\./, '.');

/**
 * @param {object} o
 * @param {import('./detector.js').LossWithGrad} o.lossWithGrad  the package's sigmoidFocalLossWithGrad
 * @param {Function} o.lossNone                                   the package's sigmoidFocalLoss (for Figure 4)
 * @param {number} [o.seed]       the first seed; seeds are seed, seed + 1, …
 * @param {number} [o.seeds]
 * @param {number} [o.epochs]
 * @param {number} [o.gamma]      the focal run's γ (default 2)
 * @param {number} [o.alpha]      the focal run's α (default 0.25)
 * @param {number | null} [o.ceAlpha]   cross-entropy's α; null: chosen on the validation signals from alphaGrid
 * @param {number[]} [o.alphaGrid]
 * @param {boolean} [o.gammaGrid] also train γ ∈ {0, 0.5, 1, 2, 5} at the focal run's α
 * @param {boolean} [o.stability] the textbook-vs-package run (default true)
 * @param {number} [o.stabilityEpochs]
 * @param {number} [o.train] @param {number} [o.test] @param {number} [o.val]
 * @param {(e: { stage: string, seed?: number, label: string, epoch: number, epochs: number, clsLoss: number, boxLoss: number, done?: { ap: number, seconds: number } }) => void} [o.onProgress]
 */
export function runExperiment(o) {
  const seed0 = o.seed ?? DEFAULTS.seed;
  const seeds = o.seeds ?? DEFAULTS.seeds;
  const epochs = o.epochs ?? DEFAULTS.epochs;
  const gamma = o.gamma ?? DEFAULTS.gamma;
  const alpha = o.alpha ?? DEFAULTS.alpha;
  const sizes = { train: o.train ?? DEFAULTS.train, test: o.test ?? DEFAULTS.test, val: o.val ?? DEFAULTS.val };
  const started = performance.now();

  /** Trains one configuration to the end; returns the run and its AP on `set`. */
  function train(stage, seed, label, data, run, set, e = epochs) {
    const t0 = performance.now();
    let last = { clsLoss: NaN, boxLoss: NaN };
    for (let i = 0; i < e; i++) {
      last = run.runEpoch();
      o.onProgress?.({ stage, seed, label, epoch: i + 1, epochs: e, clsLoss: last.clsLoss, boxLoss: last.boxLoss });
    }
    const ev = evaluate(run.model, set);
    o.onProgress?.({ stage, seed, label, epoch: e, epochs: e, clsLoss: last.clsLoss, boxLoss: last.boxLoss, done: { ap: ev.ap, seconds: (performance.now() - t0) / 1000 } });
    return ev;
  }
  const base = (data, seed) => ({ lossWithGrad: o.lossWithGrad, data, epochs, seed });

  const datasets = Array.from({ length: seeds }, (_, i) => makeData(seed0 + i, sizes));

  // 1. Cross-entropy's α: the best AP on the first seed's validation signals (never the test signals).
  let ceAlpha = o.ceAlpha ?? null;
  /** @type {{ alpha: number, ap: number, ap50: number, run?: any }[]} */
  const alphaSearch = [];
  /** @type {any} */
  let reuse = null;
  if (ceAlpha === null) {
    const grid = o.alphaGrid ?? PRESETS.default.alphaGrid;
    for (const a of grid) {
      const d = datasets[0];
      const run = createRun({ ...base(d, d.seed), gamma: 0, alpha: a });
      const ev = train('alpha', d.seed, `CE α=${fmt(a)} (validation)`, d, run, d.val);
      alphaSearch.push({ alpha: a, ap: ev.ap, ap50: ev.ap50, run });
    }
    const best = alphaSearch.reduce((b, r) => (r.ap > b.ap ? r : b));
    ceAlpha = best.alpha;
    // The winner of the search is the first seed's cross-entropy run: trained on the same signals with the
    // same initial weights and minibatch order; only its test AP is still to be measured.
    reuse = best.run;
    for (const r of alphaSearch) delete r.run;
  }

  // 2. The losses, paired by seed.
  /** @type {{ key: string, label: string, gamma: number, alpha: number, clsWeight: number }[]} */
  const configs = [
    { key: 'ce', label: `CE α=${fmt(ceAlpha)}`, gamma: 0, alpha: ceAlpha, clsWeight: 1 },
    { key: 'ce01', label: `CE α=${fmt(ceAlpha)}, cls loss ×0.1`, gamma: 0, alpha: ceAlpha, clsWeight: 0.1 },
    { key: 'fl', label: `FL γ=${gamma}, α=${fmt(alpha)}`, gamma, alpha, clsWeight: 1 },
  ];
  if (o.gammaGrid) {
    for (const g of GAMMA_GRID) if (g !== gamma) configs.push({ key: `g${g}`, label: `FL γ=${g}, α=${fmt(alpha)}`, gamma: g, alpha, clsWeight: 1 });
  }
  const perSeed = {};
  for (const c of configs) perSeed[c.key] = [];
  let fig4 = null;
  for (const d of datasets) {
    for (const c of configs) {
      let run;
      let ev;
      if (c.key === 'ce' && reuse && d === datasets[0]) {
        run = reuse;
        ev = evaluate(run.model, d.test);
        o.onProgress?.({ stage: 'main', seed: d.seed, label: c.label, epoch: epochs, epochs, clsLoss: run.history[epochs - 1].clsLoss, boxLoss: run.history[epochs - 1].boxLoss, done: { ap: ev.ap, seconds: 0 } });
      } else {
        run = createRun({ ...base(d, d.seed), gamma: c.gamma, alpha: c.alpha, clsWeight: c.clsWeight });
        ev = train('main', d.seed, c.label, d, run, d.test);
      }
      perSeed[c.key].push({ seed: d.seed, ...ev, trunkRatio: run.trunkRatio, history: run.history.slice() });
      // 3. Figure 4 on the first seed's focal model, test anchors.
      if (c.key === 'fl' && fig4 === null) fig4 = figure4(run.model, d.test, o.lossNone, FIG4_GAMMAS);
    }
  }
  const table = configs.map((c) => {
    const rows = perSeed[c.key];
    const ap = rows.map((r) => r.ap);
    return {
      ...c,
      ap: meanSpread(ap),
      ap50: meanSpread(rows.map((r) => r.ap50)),
      ap75: meanSpread(rows.map((r) => r.ap75)),
      trunkRatio: meanSpread(rows.map((r) => r.trunkRatio)),
      delta: c.key === 'ce' ? null : paired(perSeed.ce.map((r) => r.ap), ap),
      perSeed: rows.map(({ history, perThreshold, ...r }) => r),
    };
  });

  // 4. Stability: γ = 0.5 with float32 logits, the package vs a textbook focal loss, same seed and data.
  let stability = null;
  if (o.stability ?? true) {
    const d = datasets[0];
    const e = o.stabilityEpochs ?? PRESETS.default.stabilityEpochs;
    const common = { ...base(d, d.seed), epochs: e, gamma: STABILITY_GAMMA, alpha, float32: true };
    const pkg = createRun(common);
    const pkgEv = train('stability', d.seed, `package γ=${STABILITY_GAMMA} (float32)`, d, pkg, d.test, e);
    const tb = createRun({ ...common, lossWithGrad: textbookFocalLossWithGrad, reference: o.lossWithGrad });
    const tbEv = train('stability', d.seed, `textbook γ=${STABILITY_GAMMA} (float32)`, d, tb, d.test, e);
    stability = {
      gamma: STABILITY_GAMMA, alpha, epochs: e, seed: d.seed,
      package: { ap: pkgEv.ap, finalLoss: pkg.history[pkg.history.length - 1].clsLoss, ...pkg.stability },
      textbook: {
        ap: tbEv.ap, finalLoss: tb.history[tb.history.length - 1].clsLoss,
        ...tb.stability,
      },
    };
  }

  return {
    seeds: datasets.map((d) => d.seed), epochs, sizes, gamma, alpha, ceAlpha, alphaSearch,
    counts: datasets[0].train.counts, testCounts: datasets[0].test.counts,
    table, fig4, stability, seconds: (performance.now() - started) / 1000,
  };
}

/**
 * The page's comparison (and its test's): one seed, cross-entropy (α = ceAlpha), the same ×0.1, and focal
 * loss, trained an epoch at a time, each evaluated on the test signals after every epoch.
 * @param {object} o
 * @param {import('./detector.js').LossWithGrad} o.lossWithGrad
 * @param {number} o.seed
 * @param {number} o.epochs
 * @param {number} [o.ceAlpha]  default 0.75 (what `npm start`'s validation search picks on seed 1)
 * @param {number} [o.gamma]
 * @param {number} [o.alpha]
 * @param {number} [o.train] @param {number} [o.test]
 */
export function createComparison(o) {
  const ceAlpha = o.ceAlpha ?? 0.75;
  const gamma = o.gamma ?? DEFAULTS.gamma;
  const alpha = o.alpha ?? DEFAULTS.alpha;
  const data = makeData(o.seed, { train: o.train ?? DEFAULTS.train, test: o.test ?? DEFAULTS.test, val: 1 });
  const configs = [
    { key: 'ce', label: `CE α=${fmt(ceAlpha)}`, gamma: 0, alpha: ceAlpha, clsWeight: 1 },
    { key: 'ce01', label: `CE α=${fmt(ceAlpha)}, ×0.1`, gamma: 0, alpha: ceAlpha, clsWeight: 0.1 },
    { key: 'fl', label: `FL γ=${gamma}, α=${fmt(alpha)}`, gamma, alpha, clsWeight: 1 },
  ];
  const runs = configs.map((c) => ({
    ...c,
    run: createRun({ lossWithGrad: o.lossWithGrad, data, epochs: o.epochs, seed: o.seed, gamma: c.gamma, alpha: c.alpha, clsWeight: c.clsWeight }),
    /** @type {{ epoch: number, ap: number, ap50: number, clsLoss: number, boxLoss: number }[]} */
    history: [],
  }));
  return {
    data, runs, ceAlpha, gamma, alpha,
    /** One epoch of one run (index into runs), then its test AP. */
    step(i) {
      const r = runs[i];
      const h = r.run.runEpoch();
      const ev = evaluate(r.run.model, data.test);
      const entry = { epoch: h.epoch, ap: ev.ap, ap50: ev.ap50, clsLoss: h.clsLoss, boxLoss: h.boxLoss };
      r.history.push(entry);
      return entry;
    },
  };
}
