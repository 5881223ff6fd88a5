// @ts-check
// The detector page (`npm run demo:web`): Figure 1 of the paper, then `npm start`'s experiment trained live
// in Web Workers (one per core; web/worker.js runs the same tasks as the CLI's worker threads): the α search,
// every loss on every seed, the seed-averaged comparison with its spread, the stability pair (textbook float32
// loss vs the package) and Figure 4 measured on the focal model. Everything shown is also in
// <pre id="results-json">, which test/detector-web.test.ts checks against the same code in Node.
import { init, sigmoidFocalLoss } from '/dist/browser.js';
import { COLORS, drawFigure1 as drawFigure1Into, lineChart } from '/web/figure1.js';
import { FIG4_GAMMAS } from '/detector/detector.js';
import { PRESETS, createWorkerPool, runExperiment } from '/detector/experiment.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const params = new URLSearchParams(location.search);
const results = { figure1: /** @type {any} */ (null), detector: /** @type {any} */ (null) };
const publish = () => {
  // NaN (the textbook run's losses after it broke) becomes null in JSON.
  $('results-json').textContent = JSON.stringify(results, (k, v) => (k === 'timing' ? undefined : v), 1);
};
const drawFigure1 = () =>
  drawFigure1Into($, sigmoidFocalLoss, (figure1) => {
    results.figure1 = figure1;
    publish();
  });

const P = PRESETS.default;
const num = (name, d) => {
  const v = params.get(name);
  return v !== null && v !== '' && Number.isFinite(Number(v)) ? Number(v) : d;
};
const cores = Math.max(1, navigator.hardwareConcurrency || 2);
/** @type {HTMLInputElement} */ ($('seeds')).value = String(num('seeds', P.seeds));
/** @type {HTMLInputElement} */ ($('epochs')).value = String(num('epochs', P.epochs));
/** @type {HTMLInputElement} */ ($('workers')).value = String(num('workers', cores));
const EVAL_EVERY = num('evalEvery', 5);
const STABILITY_EPOCHS = num('stabilityEpochs', P.stabilityEpochs);
const CE_ALPHA = params.has('ceAlpha') ? num('ceAlpha', 0.75) : null;
const RUN_COLORS = { ce: '#555', ce01: '#8c564b', fl: '#d62728' };
const RUN_DASH = { ce: '5 4', ce01: '2 3', fl: '' };

function ticks(n) {
  const step = n <= 10 ? 1 : n <= 20 ? 2 : n <= 50 ? 5 : n <= 100 ? 10 : 25;
  const out = [];
  for (let t = 0; t <= n; t += step) out.push(t);
  return out;
}
const pm = (s) => `${s.mean.toFixed(3)} ± ${s.sd.toFixed(3)}`;
const sign = (v) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(3)}`;

/**
 * Test AP per epoch: every seed's run as a thin line while it trains, and once a loss has finished on every
 * seed, its mean over seeds as a thick line.
 * @param {Map<string, { key: string, seed: number, points: [number, number][] }>} curves  by key/seed
 * @param {any} [table]  the experiment's table once done
 */
function drawAP(curves, epochs, table) {
  const all = [...curves.values()].filter((c) => c.key in RUN_COLORS);
  const top = Math.max(0.1, ...all.flatMap((c) => c.points.map((p) => p[1])));
  const yMax = Math.ceil(top * 10) / 10;
  const series = all.map((c) => ({ points: c.points, color: RUN_COLORS[c.key], dash: RUN_DASH[c.key], width: 0.8 }));
  for (const t of table ?? []) {
    const byEpoch = new Map();
    for (const s of t.perSeed) for (const p of s.curve) byEpoch.set(p.epoch, [...(byEpoch.get(p.epoch) ?? []), p.ap]);
    const mean = [...byEpoch].map(
      ([e, v]) => /** @type {[number, number]} */ ([e, v.reduce((a, b) => a + b, 0) / v.length]),
    );
    series.push({
      points: mean,
      color: RUN_COLORS[t.key],
      dash: RUN_DASH[t.key],
      width: 3,
      label: `${t.label}: mean of ${t.perSeed.length} seeds`,
    });
  }
  $('ap-chart').innerHTML = lineChart({
    width: 620,
    height: 300,
    title: `test AP per epoch (thin: each seed; thick: mean over seeds)`,
    x: [0, epochs],
    y: [0, yMax],
    xTicks: ticks(epochs),
    yTicks: Array.from({ length: Math.round(yMax * 20) + 1 }, (_, i) => i / 20),
    xLabel: 'epoch',
    yLabel: 'AP (IoU .50:.95)',
    series,
    legendBelow: 1,
  });
}

function drawTable(r) {
  const rows = [
    '<tr><th>loss</th><th>AP</th><th>AP50</th><th>AP75</th><th>cls/box grad</th><th>ΔAP vs CE (paired by seed)</th><th>95% interval</th><th>seeds won</th></tr>',
  ];
  for (const t of r.table) {
    const d = t.delta;
    const cls = d?.resolved && d.mean > 0 ? ' class="better"' : '';
    rows.push(
      `<tr data-run="${t.key}"><td>${t.label}</td><td>${pm(t.ap)}</td><td>${t.ap50.mean.toFixed(3)}</td><td>${t.ap75.mean.toFixed(3)}</td><td>${t.trunkRatio.mean.toFixed(2)}×</td>` +
        (d
          ? `<td${cls}>${sign(d.mean)} ± ${d.sd.toFixed(3)}</td><td>${d.n > 1 ? `${sign(d.lo)}..${sign(d.hi)}${d.resolved ? '' : ' (includes 0)'}` : '—'}</td><td>${d.wins}/${d.n}</td>`
          : '<td>—</td><td></td><td></td>') +
        '</tr>',
    );
  }
  $('ap-table').innerHTML = rows.join('');
  const search = r.alphaSearch.length
    ? `α = ${r.ceAlpha}: the best validation AP of ${r.alphaSearch.map((s) => `${s.alpha} → ${s.ap.toFixed(3)}`).join(', ')} (seed ${r.seeds[0]})`
    : `α = ${r.ceAlpha} (given)`;
  const fl = r.table.find((t) => t.key === 'fl');
  const d = fl?.delta;
  const verdict =
    !d || d.n < 2
      ? 'one seed: no spread to judge by'
      : d.resolved
        ? `resolved: the 95% interval of the paired difference excludes 0 (${d.wins} of ${d.n} seeds won)`
        : `not resolved at ${d.n} seeds: the 95% interval includes 0 (${d.wins} of ${d.n} seeds won)`;
  $('ap-verdict').textContent =
    `${r.seeds.length} seeds × ${r.epochs} epochs. Cross-entropy's ${search}. ${fl?.label} vs ${r.table[0].label}: ΔAP ${d ? sign(d.mean) : '—'}, ${verdict}.`;
}

function drawStability(s) {
  const steps = s.steps;
  const tb = s.textbook;
  const pk = s.package;
  const finite = [...tb.trace.loss, ...pk.trace.loss].filter(Number.isFinite);
  const yMax = Math.ceil(Math.max(...finite) * 2) / 2;
  const xTicks = Array.from({ length: Math.floor(steps / 100) + 1 }, (_, i) => i * 100);
  const at = tb.firstNonFinite?.step;
  const marker = at
    ? [
        {
          points: /** @type {[number, number][]} */ ([
            [at, 0],
            [at, yMax],
          ]),
          color: '#d62728',
          dash: '3 3',
          width: 1.2,
          label: `textbook: first NaN at step ${at} (epoch ${tb.firstNonFinite.epoch}); ${tb.nonFiniteSteps} of ${steps} steps non-finite`,
        },
      ]
    : [];
  $('stability-chart').innerHTML = lineChart({
    width: 560,
    height: 280,
    title: `classification loss per step (γ = ${s.gamma}, float32 logits, seed ${s.seed})`,
    x: [0, steps],
    y: [0, yMax],
    xTicks,
    yTicks: Array.from({ length: Math.round(yMax * 2) + 1 }, (_, i) => i / 2),
    xLabel: 'training step',
    yLabel: 'loss',
    legendBelow: 1,
    series: [
      {
        points: tb.trace.loss.map((v, i) => [i + 1, v]),
        color: '#d62728',
        width: 2,
        label: `textbook float32 (AP ${tb.ap.toFixed(3)})${at ? ': the line stops where the loss became NaN' : ''}`,
      },
      {
        points: pk.trace.loss.map((v, i) => [i + 1, v]),
        color: '#111',
        width: 1.2,
        label: `this package (AP ${pk.ap.toFixed(3)}): ${pk.nonFiniteSteps === 0 ? 'finite at every step' : `${pk.nonFiniteSteps} non-finite steps`}`,
      },
      ...marker,
    ],
  });
  const minLogits = [...tb.trace.minLogit, ...pk.trace.minLogit].filter(Number.isFinite);
  const lo = Math.floor(Math.min(-18, ...minLogits));
  $('stability-logits').innerHTML = lineChart({
    width: 500,
    height: 280,
    title: 'most negative logit in the minibatch, per step',
    x: [0, steps],
    y: [lo, 0],
    xTicks,
    yTicks: Array.from({ length: Math.floor(-lo / 2) + 1 }, (_, i) => -2 * i),
    xLabel: 'training step',
    yLabel: 'logit',
    legendBelow: 1,
    series: [
      { points: pk.trace.minLogit.map((v, i) => [i + 1, v]), color: '#111', width: 1.2, label: "this package's run" },
      {
        points: tb.trace.minLogit.map((v, i) => [i + 1, v]).slice(0, at ?? steps),
        color: '#d62728',
        width: 2,
        label: 'textbook run (until it broke)',
      },
      {
        points: [
          [0, -17.33],
          [steps, -17.33],
        ],
        color: '#999',
        dash: '4 3',
        width: 1,
        label: 'float32 rounds 1 − σ(x) to 1 below −17.33',
      },
    ],
  });
  $('stability-note').textContent = at
    ? `The textbook float32 loss produced its first non-finite gradient at step ${at} of ${steps} (epoch ${tb.firstNonFinite.epoch}): an easy negative's logit passed −17.33, float32 rounded p_t to 1, and (1 − p_t)^(γ − 1) = 0^(−0.5) = ∞ times log p_t = 0 gave NaN. Adam carried it into the weights; ${tb.nonFiniteSteps} of ${steps} steps were non-finite and the run ends at AP ${tb.ap.toFixed(3)}. The package's run, the same seed and data: finite at every step, AP ${pk.ap.toFixed(3)}.`
    : `In ${steps} steps the textbook float32 loss stayed finite (train the full ${P.stabilityEpochs} epochs to see it fail).`;
}

function drawFigure4(f4) {
  const chart = (which, title) =>
    lineChart({
      width: 440,
      height: 300,
      title,
      x: [0, 1],
      y: [0, 1],
      xTicks: [0, 0.2, 0.4, 0.6, 0.8, 1],
      yTicks: [0, 0.2, 0.4, 0.6, 0.8, 1],
      xLabel: 'fraction of examples (easiest first)',
      yLabel: 'cumulative normalized loss',
      legendBelow: 4,
      series: FIG4_GAMMAS.map((g, i) => ({ points: f4[String(g)][which].cdf, color: COLORS[i], label: `γ = ${g}` })),
    });
  $('fig4-neg').innerHTML = chart('negatives', 'negatives');
  $('fig4-pos').innerHTML = chart('positives', 'positives');
  const rows = [
    '<tr><th>loss at</th><th>negatives: hardest 0.1%</th><th>1%</th><th>10%</th><th>positives: hardest 10%</th><th>50%</th></tr>',
  ];
  for (const g of FIG4_GAMMAS) {
    const { negatives: n, positives: p } = f4[String(g)];
    rows.push(
      `<tr data-gamma="${g}"><td>γ = ${g}</td>${[...n.shares, ...p.shares].map((v) => `<td>${v.toFixed(3)}</td>`).join('')}</tr>`,
    );
  }
  $('fig4-table').innerHTML = rows.join('');
}

/** Web Workers speaking createWorkerPool's protocol. */
function webWorkerPool(size) {
  return createWorkerPool(
    Array.from({ length: size }, () => {
      const w = new Worker('/detector/web/worker.js', { type: 'module' });
      return {
        post: (m) => w.postMessage(m),
        listen: (h) => {
          w.addEventListener('message', (e) => h(e.data));
          w.addEventListener('error', (e) => h({ id: -1, fatal: new Error(e.message || 'a worker failed') }));
        },
        terminate: () => w.terminate(),
      };
    }),
  );
}

let generation = 0;
let pool = /** @type {any} */ (null);

async function train() {
  const mine = ++generation;
  pool?.close();
  const seeds = Math.max(1, Math.trunc(Number(/** @type {HTMLInputElement} */ ($('seeds')).value)));
  const epochs = Math.max(1, Math.trunc(Number(/** @type {HTMLInputElement} */ ($('epochs')).value)));
  const workers = Math.max(1, Math.trunc(Number(/** @type {HTMLInputElement} */ ($('workers')).value)));
  document.body.dataset.training = 'running';
  for (const id of [
    'ap-table',
    'fig4-neg',
    'fig4-pos',
    'fig4-table',
    'stability-chart',
    'stability-logits',
    'stability-note',
  ])
    $(id).innerHTML = '';
  $('ap-verdict').textContent = '';
  const started = performance.now();
  pool = webWorkerPool(workers);
  /** @type {Map<string, { key: string, seed: number, points: [number, number][] }>} */
  const curves = new Map();
  let done = 0;
  let total = 0;
  let frame = 0;
  const redraw = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      if (mine === generation) drawAP(curves, epochs);
    });
  };
  const expected = (CE_ALPHA === null ? P.alphaGrid.length : 1) + 3 * seeds - 1 + 2;
  const result = await runExperiment({
    pool,
    seeds,
    epochs,
    evalEvery: EVAL_EVERY,
    stabilityEpochs: STABILITY_EPOCHS,
    ceAlpha: CE_ALPHA,
    onProgress({ task, epoch, done: finished }) {
      if (mine !== generation) return;
      if (finished) {
        done++;
        $('status').textContent =
          `${done} of ${expected} runs done on ${workers} Web Workers (${((performance.now() - started) / 1000).toFixed(0)} s)`;
        return;
      }
      if (epoch.ap === undefined) return;
      // The α search's runs are cross-entropy on seed 1: the winner's curve is that seed's CE curve.
      const key = task.key === 'alpha' ? `alpha${task.alpha}` : task.key;
      const id = `${key}/${task.seed}`;
      if (!curves.has(id)) curves.set(id, { key: task.key === 'alpha' ? 'ce' : task.key, seed: task.seed, points: [] });
      curves.get(id)?.points.push([epoch.epoch, epoch.ap]);
      total++;
      redraw();
    },
  });
  if (mine !== generation) return; // restarted
  await pool.close();
  pool = null;
  // Only the runs that are in the table (the α search's losers drop out).
  const kept = new Map();
  for (const t of result.table)
    for (const s of t.perSeed)
      kept.set(`${t.key}/${s.seed}`, { key: t.key, seed: s.seed, points: s.curve.map((c) => [c.epoch, c.ap]) });
  drawAP(kept, epochs, result.table);
  drawTable(result);
  if (result.stability) drawStability(result.stability);
  drawFigure4(result.fig4);
  const seconds = (performance.now() - started) / 1000;
  $('status').textContent =
    `done: ${result.timing.runs} runs (${seeds} seeds × 3 losses, the α search, the stability pair) in ${seconds.toFixed(1)} s on ${workers} Web Workers`;
  results.detector = {
    params: { seeds, epochs, evalEvery: EVAL_EVERY, stabilityEpochs: STABILITY_EPOCHS, ceAlpha: CE_ALPHA, workers },
    curvePoints: total,
    result,
  };
  publish();
  document.body.dataset.training = 'done';
}

try {
  await init();
  $('gamma').addEventListener('input', drawFigure1);
  $('alpha').addEventListener('input', drawFigure1);
  $('train-button').addEventListener('click', () => void train().catch(fail));
  drawFigure1();
  await train();
} catch (error) {
  fail(error);
}

function fail(error) {
  $('status').textContent = `error: ${/** @type {Error} */ (error).message}`;
  document.body.dataset.training = 'error';
  throw error;
}
