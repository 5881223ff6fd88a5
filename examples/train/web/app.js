// @ts-check
// The demo page: Figure 1 of the paper computed by the package, and the training of train.js run in the
// browser with its charts. Everything the page shows is also in <pre id="results-json"> (read by
// test/demo-web.test.ts, which checks it against the package and trainBoth in Node).
import { init, sigmoidFocalLoss, softmaxFocalLossWithGrad } from '/dist/browser.js';
import { DEFAULTS, createRun, prepare } from '/train/train.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const params = new URLSearchParams(location.search);
const results = { figure1: /** @type {any} */ (null), training: /** @type {any} */ (null) };
const publish = () => {
  $('results-json').textContent = JSON.stringify(results, null, 1);
};

// ---------------------------------------------------------------------------------------------------------
// A small SVG line chart

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

/**
 * @param {{ width?: number, height?: number, x: [number, number], y: [number, number], logY?: boolean,
 *   xLabel: string, yLabel: string, title?: string, xTicks?: number[], yTicks?: number[], legendBelow?: number,
 *   series: { points: [number, number][], color: string, dash?: string, width?: number, label?: string }[] }} o
 */
function lineChart(o) {
  const W = o.width ?? 540;
  const labelled = o.series.filter((s) => s.label);
  // legendBelow: the number of legend columns under the plot (instead of a box in the top right corner).
  const below = o.legendBelow ? Math.ceil(labelled.length / o.legendBelow) * 16 + 6 : 0;
  const H = (o.height ?? 330) + below;
  const m = { l: 52, r: 12, t: o.title ? 24 : 10, b: 40 + below };
  const fy = (v) => (o.logY ? Math.log10(v) : v);
  const [y0, y1] = [fy(o.y[0]), fy(o.y[1])];
  const sx = (v) => m.l + ((v - o.x[0]) / (o.x[1] - o.x[0])) * (W - m.l - m.r);
  const sy = (v) => H - m.b - ((Math.min(Math.max(fy(v), y0), y1) - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`];
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="#fff" stroke="#c9ced6"/>`);
  const fmt = (v) => (Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.01) ? v.toExponential(0) : String(+v.toPrecision(3)));
  for (const t of o.xTicks ?? []) {
    parts.push(`<line x1="${sx(t)}" x2="${sx(t)}" y1="${m.t}" y2="${H - m.b}" stroke="#eef0f3"/>`);
    parts.push(`<text x="${sx(t)}" y="${H - m.b + 14}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of o.yTicks ?? []) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${sy(t)}" y2="${sy(t)}" stroke="#eef0f3"/>`);
    parts.push(`<text x="${m.l - 5}" y="${sy(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - below - 6}" text-anchor="middle">${o.xLabel}</text>`);
  parts.push(`<text transform="translate(13 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${o.yLabel}</text>`);
  if (o.title) parts.push(`<text x="${m.l}" y="15" style="font-weight:600">${o.title}</text>`);
  parts.push(`<clipPath id="c${W}${H}${m.t}"><rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}"/></clipPath>`);
  parts.push(`<g clip-path="url(#c${W}${H}${m.t})">`);
  for (const s of o.series) {
    if (s.points.length === 0) continue;
    const d = s.points.filter(([, v]) => Number.isFinite(fy(v))).map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''}/>`);
  }
  parts.push('</g>');
  // Legend: top right, or in columns below the plot.
  labelled.forEach((s, i) => {
    const cols = o.legendBelow ?? 1;
    const y = o.legendBelow ? H - below + 12 + Math.floor(i / cols) * 16 : m.t + 14 + i * 16;
    const x = o.legendBelow ? m.l + (i % cols) * ((W - m.l - m.r) / cols) : W - m.r - 150;
    parts.push(`<line x1="${x}" x2="${x + 22}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="${s.width ?? 2}" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''}/>`);
    parts.push(`<text x="${x + 28}" y="${y}">${s.label}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

// ---------------------------------------------------------------------------------------------------------
// Figure 1

const FIG1_GAMMAS = [0, 0.5, 1, 2, 5];
const PROBES = [0.1, 0.25, 0.5, 0.75, 0.9, 0.99];
const GRID = Array.from({ length: 399 }, (_, i) => (i + 1) / 400); // p_t in (0, 1)

/** FL(p_t) for each p_t, computed by the package: a logit of log(p/(1−p)) with target 1. */
function focalAt(ps, gamma, alpha) {
  const logits = Float64Array.from(ps, (p) => Math.log(p / (1 - p)));
  const targets = new Float64Array(ps.length).fill(1);
  return Array.from(sigmoidFocalLoss(logits, targets, { gamma, alpha: alpha === 1 ? null : alpha, reduction: 'none' }));
}

function drawFigure1() {
  const gamma = Number(/** @type {HTMLInputElement} */ ($('gamma')).value);
  const alpha = Number(/** @type {HTMLInputElement} */ ($('alpha')).value);
  $('gamma-out').textContent = String(gamma);
  $('alpha-out').textContent = String(alpha);
  const series = FIG1_GAMMAS.map((g, i) => {
    const ys = focalAt(GRID, g, 1);
    return { points: /** @type {[number, number][]} */ (GRID.map((p, k) => [p, ys[k]])), color: COLORS[i], label: `γ = ${g}` };
  });
  const extra = focalAt(GRID, gamma, alpha);
  series.push({ points: GRID.map((p, k) => [p, extra[k]]), color: '#111', dash: '6 4', width: 2.5, label: `γ = ${gamma}, α = ${alpha}` });
  $('fig1-chart').innerHTML = lineChart({
    width: 560, height: 360, x: [0, 1], y: [0, 5], xLabel: 'probability of ground truth class p_t', yLabel: 'loss',
    xTicks: [0, 0.2, 0.4, 0.6, 0.8, 1], yTicks: [0, 1, 2, 3, 4, 5], series,
  });
  // The values at a few p_t, as a table and as JSON.
  const curves = Object.fromEntries(FIG1_GAMMAS.map((g) => [String(g), focalAt(PROBES, g, 1)]));
  const slider = { gamma, alpha, values: focalAt(PROBES, gamma, alpha) };
  const head = `<tr><th>p<sub>t</sub></th>${FIG1_GAMMAS.map((g) => `<th>γ = ${g}</th>`).join('')}<th>γ = ${gamma}, α = ${alpha}</th></tr>`;
  const rows = PROBES.map((p, i) => `<tr><td>${p}</td>${FIG1_GAMMAS.map((g) => `<td>${curves[String(g)][i].toPrecision(4)}</td>`).join('')}<td>${slider.values[i].toPrecision(4)}</td></tr>`);
  $('fig1-table').innerHTML = head + rows.join('');
  results.figure1 = { probes: PROBES, curves, slider };
  publish();
}

// ---------------------------------------------------------------------------------------------------------
// Training

const int = (v, d) => (v !== null && v !== '' && Number.isFinite(Number(v)) ? Number(v) : d);
/** @type {HTMLInputElement} */ ($('seed')).value = String(int(params.get('seed'), DEFAULTS.seed));
/** @type {HTMLInputElement} */ ($('epochs')).value = String(int(params.get('epochs'), DEFAULTS.epochs));
/** @type {HTMLInputElement} */ ($('train-gamma')).value = String(int(params.get('gamma'), DEFAULTS.gamma));
/** @type {HTMLSelectElement} */ ($('train-alpha')).value = params.get('alpha') ?? 'inverse';

let generation = 0;

async function train() {
  const mine = ++generation;
  const seed = Math.trunc(Number(/** @type {HTMLInputElement} */ ($('seed')).value));
  const epochs = Math.max(1, Math.trunc(Number(/** @type {HTMLInputElement} */ ($('epochs')).value)));
  const gamma = Math.max(0, Number(/** @type {HTMLInputElement} */ ($('train-gamma')).value));
  const alpha = /** @type {HTMLSelectElement} */ ($('train-alpha')).value;
  document.body.dataset.training = 'running';
  const p = prepare({ lossWithGrad: softmaxFocalLossWithGrad, seed, epochs, gamma, alpha });
  const runs = { ce: createRun({ ...p.runOptions, ...p.runs.ce }), focal: createRun({ ...p.runOptions, ...p.runs.focal }) };
  const started = performance.now();
  // The two runs are independent (own weights, own minibatch generator), so alternating their epochs
  // gives the same numbers as running them one after the other, as the CLI does.
  for (let e = 0; e < epochs; e++) {
    runs.ce.runEpoch();
    runs.focal.runEpoch();
    if (e % 2 === 1 || e === epochs - 1) {
      drawTraining(p.info, runs.ce.result(), runs.focal.result(), epochs);
      $('status').textContent = `epoch ${e + 1}/${epochs}`;
      await new Promise((r) => setTimeout(r, 0));
      if (mine !== generation) return; // restarted
    }
  }
  const ce = runs.ce.result();
  const focal = runs.focal.result();
  drawTraining(p.info, ce, focal, epochs);
  const seconds = (performance.now() - started) / 1000;
  $('status').textContent = `done: ${epochs} epochs × 2 runs in ${seconds.toFixed(1)} s`;
  const pick = (r) => ({
    recall: r.recall, precision: r.precision, macroF1: r.macroF1, accuracy: r.accuracy, trainLoss: r.trainLoss, testLoss: r.testLoss,
    lossHistory: r.history.map((h) => h.loss),
  });
  results.training = {
    seed, epochs, gamma, alpha: p.info.alpha, rarest: p.info.rarest, classNames: p.info.classNames,
    trainCounts: p.info.trainCounts, testCounts: p.info.testCounts, ce: pick(ce), focal: pick(focal),
  };
  publish();
  document.body.dataset.training = 'done';
}

function drawTraining(info, ce, focal, epochs) {
  const losses = [...ce.history, ...focal.history].map((h) => h.loss).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...losses)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...losses)));
  const yTicks = [];
  for (let v = lo; v <= hi * 1.0001; v *= 10) yTicks.push(v);
  const xTicks = ticks(epochs);
  $('loss-chart').innerHTML = lineChart({
    title: 'training loss per epoch (each run its own objective)', x: [0, epochs], y: [lo, hi], logY: true, xTicks, yTicks, legendBelow: 2,
    xLabel: 'epoch', yLabel: 'mean loss (log scale)',
    series: [
      { points: ce.history.map((h) => [h.epoch, h.loss]), color: '#555', dash: '5 4', label: 'cross-entropy' },
      { points: focal.history.map((h) => [h.epoch, h.loss]), color: '#d62728', label: `focal γ=${focal.gamma}` },
    ],
  });
  const series = [];
  for (let c = 0; c < info.classes; c++) {
    series.push({ points: focal.history.map((h) => [h.epoch, h.recall[c]]), color: COLORS[c], label: `${info.classNames[c]}: focal` });
  }
  for (let c = 0; c < info.classes; c++) {
    series.push({ points: ce.history.map((h) => [h.epoch, h.recall[c]]), color: COLORS[c], dash: '5 4', label: `${info.classNames[c]}: cross-entropy` });
  }
  $('recall-chart').innerHTML = lineChart({
    title: 'test recall per class', x: [0, epochs], y: [0, 1], xTicks, yTicks: [0, 0.2, 0.4, 0.6, 0.8, 1],
    xLabel: 'epoch', yLabel: 'recall', series, legendBelow: info.classes,
  });
  const f = (v) => (Number.isNaN(v) ? '—' : v.toFixed(3));
  const better = (a, b) => (a > b + 1e-12 ? ' class="better"' : '');
  const rows = [];
  rows.push('<tr><th>class</th><th>train rows</th><th>test rows</th><th>CE recall</th><th>CE precision</th><th>focal recall</th><th>focal precision</th></tr>');
  for (let c = 0; c < info.classes; c++) {
    rows.push(`<tr data-class="${c}"><td>${info.classNames[c]}${c === info.rarest ? ' (rarest)' : ''}</td><td>${info.trainCounts[c]}</td><td>${info.testCounts[c]}</td>` +
      `<td${better(ce.recall[c], focal.recall[c])}>${f(ce.recall[c])}</td><td>${f(ce.precision[c])}</td>` +
      `<td${better(focal.recall[c], ce.recall[c])}>${f(focal.recall[c])}</td><td>${f(focal.precision[c])}</td></tr>`);
  }
  rows.push(`<tr><td>macro-F1</td><td></td><td></td><td>${f(ce.macroF1)}</td><td></td><td>${f(focal.macroF1)}</td><td></td></tr>`);
  rows.push(`<tr><td>final training loss</td><td></td><td></td><td>${ce.trainLoss.toFixed(4)}</td><td></td><td>${focal.trainLoss.toFixed(4)}</td><td></td></tr>`);
  $('result-table').innerHTML = rows.join('');
}

function ticks(n) {
  const step = n <= 10 ? 1 : n <= 20 ? 2 : n <= 50 ? 5 : n <= 100 ? 10 : n <= 200 ? 25 : 50 * Math.ceil(n / 500);
  const out = [];
  for (let t = 0; t <= n; t += step) out.push(t);
  return out;
}

// ---------------------------------------------------------------------------------------------------------

try {
  await init();
  $('gamma').addEventListener('input', drawFigure1);
  $('alpha').addEventListener('input', drawFigure1);
  $('train-button').addEventListener('click', () => void train());
  drawFigure1();
  await train();
} catch (error) {
  $('status').textContent = `error: ${/** @type {Error} */ (error).message}`;
  document.body.dataset.training = 'error';
  throw error;
}
