// @ts-check
// The experiment `npm start` runs and the page shows, as functions (no imports but ./detector.js; the losses
// are passed in): choose cross-entropy's α on validation signals, train every loss on every seed (same data,
// same initial weights and minibatch order per seed), evaluate AP on held-out signals, measure Figure 4 on
// the focal model, and train once more at γ = 0.5 with a textbook float32 focal loss beside the package.
//
// Every training run is one task, a plain object; runTask(task) is a pure function of it (the data, the
// initial weights and the minibatch order all come from the task's seed), so a task gives the same numbers
// bit for bit wherever it runs: in this thread, in a worker_threads Worker (pool.js) or in a Web Worker
// (web/worker.js). runExperiment hands its tasks to a pool and assembles the results in task order, so the
// order in which workers finish does not matter.
import {
  DEFAULTS,
  FIG4_GAMMAS,
  createRun,
  evaluate,
  figure4,
  makeData,
  meanSpread,
  paired,
  textbookFocalLossWithGrad,
} from './detector.js';

// Sizes, fixed before any result was seen. `default` is the design notes' regime (1 class, 96 training and 300
// test signals, 60 epochs). Its number of seeds comes from the time budget of `npm start` (≤ 90 s on this
// 2-core machine) and the measured cost of one 60-epoch run here, ~6.7 s of CPU: the α search (3 runs on
// the first seed's validation signals, the winner reused as that seed's cross-entropy run), 3 losses per seed
// and the 2 stability runs make 3·S + 4 runs, ≈ (20 S + 28) s of CPU, ≈ 75 s on two idle cores for S = 6
// (the notes' count too). `classes3` is the earlier default (3 classes, 3 seeds × 25 epochs), kept as
// `--classes 3`; `quick` is for trying options.
export const PRESETS = Object.freeze({
  default: {
    classes: 1,
    seeds: DEFAULTS.seeds,
    epochs: DEFAULTS.epochs,
    train: DEFAULTS.train,
    test: DEFAULTS.test,
    val: DEFAULTS.val,
    alphaGrid: [0.5, 0.75, 0.9],
    ceAlpha: null,
    stabilityEpochs: 60,
  },
  classes3: {
    classes: 3,
    seeds: 3,
    epochs: 25,
    train: 96,
    test: 200,
    val: 100,
    alphaGrid: [0.5, 0.75, 0.9],
    ceAlpha: null,
    stabilityEpochs: 60,
  },
  quick: {
    classes: 1,
    seeds: 2,
    epochs: 12,
    train: 64,
    test: 120,
    val: 60,
    alphaGrid: [],
    ceAlpha: 0.75,
    stabilityEpochs: 12,
  },
});
export const GAMMA_GRID = Object.freeze([0, 0.5, 1, 2, 5]);
export const STABILITY_GAMMA = 0.5;

const fmt = (v) => String(+v.toFixed(3)).replace(/^0\./, '.');

/**
 * @typedef {object} Task
 * @property {string} key          which series: 'alpha', 'ce', 'ce01', 'fl', 'g<γ>', 'stability-package', 'stability-textbook'
 * @property {string} label
 * @property {number} seed
 * @property {number} classes
 * @property {{ train: number, test: number, val: number }} sizes
 * @property {number} epochs
 * @property {number} gamma
 * @property {number | null} alpha
 * @property {number} [clsWeight]
 * @property {boolean} [float32]   Float32Array logits (the stability runs)
 * @property {boolean} [textbook]  train with the textbook float32 loss, the package's computed beside it
 * @property {boolean} [val]       also evaluate on the validation signals (the α search)
 * @property {boolean} [figure4]   measure Figure 4 on the trained model
 * @property {boolean} [trace]     keep the per-step loss and most negative logit
 * @property {number} [evalEvery]  also evaluate test AP every this many epochs (the page's live curves)
 *
 * @typedef {object} Losses
 * @property {import('./detector.js').LossWithGrad} lossWithGrad   the package's sigmoidFocalLossWithGrad
 * @property {Function} lossNone                                   the package's sigmoidFocalLoss (Figure 4)
 * @property {() => number | null} [cpuSeconds]                    CPU time of the calling thread, if known
 */

/** Data sets by seed, classes and sizes: a worker running several tasks of one seed makes its data once. */
const dataCache = new Map();
function dataFor(t) {
  const k = `${t.seed}/${t.classes}/${t.sizes.train}/${t.sizes.test}/${t.sizes.val}`;
  if (!dataCache.has(k)) {
    if (dataCache.size >= 4) dataCache.delete(dataCache.keys().next().value);
    dataCache.set(k, makeData(t.seed, t.sizes, t.classes));
  }
  return dataCache.get(k);
}

/**
 * Trains one task to the end. `onEpoch` sees every epoch (the training losses, and test AP at the
 * evalEvery epochs). The result is plain data (structured-cloneable); `timing` is the only part that
 * differs between two runs of the same task.
 * @param {Task} task
 * @param {Losses} losses
 * @param {(e: { epoch: number, epochs: number, clsLoss: number, boxLoss: number, ap?: number }) => void} [onEpoch]
 */
export function runTask(task, losses, onEpoch) {
  const t0 = performance.now();
  const c0 = losses.cpuSeconds?.() ?? null;
  const data = dataFor(task);
  const run = createRun({
    lossWithGrad: task.textbook ? textbookFocalLossWithGrad : losses.lossWithGrad,
    reference: task.textbook ? losses.lossWithGrad : undefined,
    data,
    epochs: task.epochs,
    seed: task.seed,
    gamma: task.gamma,
    alpha: task.alpha,
    clsWeight: task.clsWeight ?? 1,
    float32: task.float32 ?? false,
  });
  /** @type {{ epoch: number, ap: number, ap50: number }[]} */
  const curve = [];
  for (let e = 1; e <= task.epochs; e++) {
    const h = run.runEpoch();
    let ap;
    if (task.evalEvery && (e % task.evalEvery === 0 || e === task.epochs)) {
      const ev = evaluate(run.model, data.test);
      curve.push({ epoch: e, ap: ev.ap, ap50: ev.ap50 });
      ap = ev.ap;
    }
    onEpoch?.({ epoch: e, epochs: task.epochs, clsLoss: h.clsLoss, boxLoss: h.boxLoss, ap });
  }
  const { perThreshold, ...test } = evaluate(run.model, data.test);
  const val = task.val ? evaluate(run.model, data.val) : null;
  const last = run.history[run.history.length - 1];
  const { worstAt, ...stability } = run.stability;
  const c1 = losses.cpuSeconds?.() ?? null;
  return {
    key: task.key,
    seed: task.seed,
    label: task.label,
    test,
    val: val && { ap: val.ap, ap50: val.ap50, ap75: val.ap75 },
    trunkRatio: run.trunkRatio,
    finalClsLoss: last.clsLoss,
    finalBoxLoss: last.boxLoss,
    steps: run.trace.loss.length,
    stability: { ...stability, worstAt: worstAt ?? null },
    curve,
    trace: task.trace ? { loss: run.trace.loss, minLogit: run.trace.minLogit } : null,
    figure4: task.figure4 ? figure4(run.model, data.test, losses.lossNone, FIG4_GAMMAS) : null,
    timing: { seconds: (performance.now() - t0) / 1000, cpuSeconds: c0 === null || c1 === null ? null : c1 - c0 },
  };
}

/**
 * @typedef {ReturnType<typeof runTask>} TaskResult
 * @typedef {{ size: number, run(task: Task, onEpoch?: (e: any) => void): Promise<TaskResult>, close(): void | Promise<void> }} Pool
 */

/**
 * A pool that runs tasks one at a time in this thread (the serial reference the worker pools must equal).
 * @param {Losses} losses
 * @returns {Pool}
 */
export function createSerialPool(losses) {
  let chain = Promise.resolve();
  return {
    size: 1,
    run(task, onEpoch) {
      const p = chain.then(() => runTask(task, losses, onEpoch));
      chain = p.then(
        () => undefined,
        () => undefined,
      );
      return p;
    },
    close() {},
  };
}

/**
 * A pool over workers that speak runTask's protocol (pool.js for worker_threads, web/app.js for Web
 * Workers): the main side posts { id, task }, the worker answers { id, epoch: {...} } per epoch and then
 * { id, result } or { id, error }. Tasks start in the order they were given, each on the first idle worker.
 * @param {{ post(message: any): void, listen(handler: (message: any) => void): void, terminate(): void | Promise<unknown> }[]} workers
 * @returns {Pool}
 */
export function createWorkerPool(workers) {
  /** @type {{ id: number, task: Task, onEpoch?: Function, resolve: Function, reject: Function }[]} */
  const queue = [];
  const busy = new Map(); // worker index → job
  let nextId = 1;
  const dispatch = () => {
    for (let w = 0; w < workers.length && queue.length; w++) {
      if (busy.has(w)) continue;
      const job = /** @type {any} */ (queue.shift());
      busy.set(w, job);
      workers[w].post({ id: job.id, task: job.task });
    }
  };
  workers.forEach((worker, w) =>
    worker.listen((m) => {
      if (m.fatal) {
        // The worker died (it cannot run anything else): fail its task and every task still waiting.
        for (const job of [busy.get(w), ...queue.splice(0)])
          job?.reject(m.fatal instanceof Error ? m.fatal : new Error(String(m.fatal)));
        busy.delete(w);
        return;
      }
      const job = busy.get(w);
      if (!job || m.id !== job.id) return;
      if (m.epoch) {
        job.onEpoch?.(m.epoch);
        return;
      }
      busy.delete(w);
      if (m.error) job.reject(new Error(`task ${job.task.label} (seed ${job.task.seed}): ${m.error}`));
      else job.resolve(m.result);
      dispatch();
    }),
  );
  return {
    size: workers.length,
    run(task, onEpoch) {
      return new Promise((resolve, reject) => {
        queue.push({ id: nextId++, task, onEpoch, resolve, reject });
        dispatch();
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/**
 * What a worker does with one message of createWorkerPool's protocol.
 * @param {any} message
 * @param {Losses} losses
 * @param {(m: any) => void} reply
 */
export function handleTaskMessage(message, losses, reply) {
  const { id, task } = message;
  try {
    const result = runTask(task, losses, (epoch) => reply({ id, epoch }));
    reply({ id, result });
  } catch (error) {
    reply({ id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
}

/** Two-sided 97.5% quantiles of Student's t for 1–30 degrees of freedom (then 1.96): the paired interval. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/**
 * Paired differences b − a by seed with a 95% t-interval of their mean; `resolved` when the interval
 * excludes 0 (n ≥ 2).
 */
export function pairedInterval(a, b) {
  const p = paired(a, b);
  if (p.n < 2) return { ...p, half: NaN, lo: NaN, hi: NaN, resolved: false };
  const half = (T975[Math.min(p.n - 1, T975.length) - 1] ?? 1.96) * (p.sd / Math.sqrt(p.n));
  return { ...p, half, lo: p.mean - half, hi: p.mean + half, resolved: p.mean - half > 0 || p.mean + half < 0 };
}

/**
 * @param {object} o
 * @param {Pool} o.pool                 where the tasks run (createSerialPool, createWorkerPool)
 * @param {number} [o.classes]
 * @param {number} [o.seed]             the first seed; seeds are seed, seed + 1, …
 * @param {number} [o.seeds]
 * @param {number} [o.epochs]
 * @param {number} [o.gamma]            the focal run's γ (default 2)
 * @param {number} [o.alpha]            the focal run's α (default 0.25)
 * @param {number | null} [o.ceAlpha]   cross-entropy's α; null: chosen on the validation signals from alphaGrid
 * @param {number[]} [o.alphaGrid]
 * @param {boolean} [o.gammaGrid]       also train γ ∈ {0, 0.5, 1, 2, 5} at the focal run's α
 * @param {boolean} [o.stability]       the textbook-vs-package run (default true)
 * @param {number} [o.stabilityEpochs]
 * @param {number} [o.evalEvery]        test AP every this many epochs, for curves (0: only at the end)
 * @param {number} [o.train] @param {number} [o.test] @param {number} [o.val]
 * @param {(e: { task: Task, epoch?: any, done?: TaskResult }) => void} [o.onProgress]
 */
export async function runExperiment(o) {
  const P = PRESETS.default;
  const classes = o.classes ?? P.classes;
  const seed0 = o.seed ?? DEFAULTS.seed;
  const seeds = o.seeds ?? P.seeds;
  const epochs = o.epochs ?? P.epochs;
  const gamma = o.gamma ?? DEFAULTS.gamma;
  const alpha = o.alpha ?? DEFAULTS.alpha;
  const sizes = { train: o.train ?? P.train, test: o.test ?? P.test, val: o.val ?? P.val };
  const seedList = Array.from({ length: seeds }, (_, i) => seed0 + i);
  const evalEvery = o.evalEvery ?? 0;
  const started = performance.now();
  /** @param {Task} task */
  const submit = (task) =>
    o.pool
      .run(task, (epoch) => o.onProgress?.({ task, epoch }))
      .then((done) => {
        o.onProgress?.({ task, done });
        return done;
      });
  const base = { classes, sizes, epochs, evalEvery };

  // 1. Cross-entropy's α: the best AP on the first seed's validation signals (never the test signals). The
  // winner is that seed's cross-entropy run (same signals, initial weights and minibatch order), so its
  // test AP is measured in the same task.
  const grid = o.ceAlpha === undefined || o.ceAlpha === null ? (o.alphaGrid ?? P.alphaGrid) : [];
  const alphaRuns = grid.map((a) =>
    submit({ ...base, key: 'alpha', label: `CE α=${fmt(a)} (validation)`, seed: seed0, gamma: 0, alpha: a, val: true }),
  );

  // 2. The stability pair (started early: the textbook run is the longest task).
  const stabilityOn = o.stability ?? true;
  const stabilityEpochs = o.stabilityEpochs ?? P.stabilityEpochs;
  const stab = {
    ...base,
    epochs: stabilityEpochs,
    seed: seed0,
    gamma: STABILITY_GAMMA,
    alpha,
    float32: true,
    trace: true,
    evalEvery: 0,
  };
  const stabilityRuns = stabilityOn
    ? [
        submit({
          ...stab,
          key: 'stability-textbook',
          label: `textbook γ=${STABILITY_GAMMA} (float32)`,
          textbook: true,
        }),
        submit({ ...stab, key: 'stability-package', label: `package γ=${STABILITY_GAMMA} (float32)` }),
      ]
    : [];

  // 3. The losses that do not depend on α, then (once α is known) cross-entropy and its ×0.1 control.
  /** @type {{ key: string, label: string, gamma: number, alpha: number, clsWeight: number }[]} */
  const focal = [{ key: 'fl', label: `FL γ=${gamma}, α=${fmt(alpha)}`, gamma, alpha, clsWeight: 1 }];
  if (o.gammaGrid)
    for (const g of GAMMA_GRID)
      if (g !== gamma) focal.push({ key: `g${g}`, label: `FL γ=${g}, α=${fmt(alpha)}`, gamma: g, alpha, clsWeight: 1 });
  const focalRuns = focal.map((c) =>
    seedList.map((s, i) => submit({ ...base, ...c, seed: s, figure4: c.key === 'fl' && i === 0 })),
  );

  const alphaResults = await Promise.all(alphaRuns);
  let ceAlpha = o.ceAlpha ?? null;
  let reuse = null;
  if (ceAlpha === null) {
    const best = alphaResults.reduce((b, r, i) => (r.val.ap > alphaResults[b].val.ap ? i : b), 0);
    ceAlpha = grid[best];
    reuse = alphaResults[best];
  }
  const ceConfigs = [
    { key: 'ce', label: `CE α=${fmt(ceAlpha)}`, gamma: 0, alpha: ceAlpha, clsWeight: 1 },
    { key: 'ce01', label: `CE α=${fmt(ceAlpha)}, cls loss ×0.1`, gamma: 0, alpha: ceAlpha, clsWeight: 0.1 },
  ];
  const ceRuns = ceConfigs.map((c) =>
    seedList.map((s, i) =>
      c.key === 'ce' && i === 0 && reuse
        ? Promise.resolve({ ...reuse, key: 'ce', label: c.label, reused: true })
        : submit({ ...base, ...c, seed: s }),
    ),
  );

  const configs = [...ceConfigs, ...focal];
  const runs = [...ceRuns, ...focalRuns];
  const perSeed = Object.fromEntries(
    await Promise.all(configs.map(async (c, i) => [c.key, await Promise.all(runs[i])])),
  );
  const [textbook, pkg] = await Promise.all(stabilityRuns);

  const table = configs.map((c) => {
    const rows = perSeed[c.key];
    const ap = rows.map((r) => r.test.ap);
    return {
      ...c,
      ap: meanSpread(ap),
      ap50: meanSpread(rows.map((r) => r.test.ap50)),
      ap75: meanSpread(rows.map((r) => r.test.ap75)),
      trunkRatio: meanSpread(rows.map((r) => r.trunkRatio)),
      delta:
        c.key === 'ce'
          ? null
          : pairedInterval(
              perSeed.ce.map((r) => r.test.ap),
              ap,
            ),
      perSeed: rows.map((r) => ({
        seed: r.seed,
        ap: r.test.ap,
        ap50: r.test.ap50,
        ap75: r.test.ap75,
        trunkRatio: r.trunkRatio,
        curve: r.curve,
      })),
    };
  });
  // Every run trained once (the reused α-search winner is counted in the search).
  const unique = [
    ...alphaResults,
    ...configs.flatMap((c) => perSeed[c.key].filter((r) => !r.reused)),
    ...(textbook ? [textbook, pkg] : []),
  ];
  const cpu = unique.map((r) => r.timing.cpuSeconds);
  const runCpu = cpu.every((v) => v !== null) ? cpu.reduce((s, v) => s + /** @type {number} */ (v), 0) : null;
  const stability = textbook
    ? {
        gamma: STABILITY_GAMMA,
        alpha,
        epochs: stabilityEpochs,
        seed: seed0,
        steps: textbook.steps,
        textbook: {
          ap: textbook.test.ap,
          finalLoss: textbook.finalClsLoss,
          ...textbook.stability,
          trace: textbook.trace,
        },
        package: { ap: pkg.test.ap, finalLoss: pkg.finalClsLoss, ...pkg.stability, trace: pkg.trace },
      }
    : null;
  const first = dataFor({ seed: seed0, classes, sizes });
  return {
    classes,
    seeds: seedList,
    epochs,
    sizes,
    gamma,
    alpha,
    ceAlpha,
    alphaSearch: alphaResults.map((r, i) => ({ alpha: grid[i], ap: r.val.ap, ap50: r.val.ap50 })),
    counts: first.train.counts,
    testCounts: first.test.counts,
    table,
    fig4: perSeed.fl[0].figure4,
    stability,
    timing: {
      seconds: (performance.now() - started) / 1000,
      workers: o.pool.size,
      runs: unique.length,
      runCpuSeconds: runCpu,
      perRun: unique.map((r) => ({ key: r.key, seed: r.seed, ...r.timing })),
    },
  };
}
