// @ts-check
// The demo page: Figure 1 of the paper computed by the package, and the training of train.js run in the
// browser with its charts. Everything the page shows is also in <pre id="results-json"> (read by
// test/demo-web.test.ts, which checks it against the package and trainBoth in Node).
import { init, sigmoidFocalLoss, softmaxFocalLossWithGrad } from '/dist/browser.js';
import { DEFAULTS, createRun, prepare } from '/train/train.js';
import { COLORS, drawFigure1 as drawFigure1Into, lineChart } from '/web/figure1.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const params = new URLSearchParams(location.search);
const results = { figure1: /** @type {any} */ (null), training: /** @type {any} */ (null) };
const publish = () => {
  $('results-json').textContent = JSON.stringify(results, null, 1);
};

const drawFigure1 = () =>
  drawFigure1Into($, sigmoidFocalLoss, (figure1) => {
    results.figure1 = figure1;
    publish();
  });

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
  const runs = {
    ce: createRun({ ...p.runOptions, ...p.runs.ce }),
    focal: createRun({ ...p.runOptions, ...p.runs.focal }),
  };
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
    recall: r.recall,
    precision: r.precision,
    macroF1: r.macroF1,
    accuracy: r.accuracy,
    trainLoss: r.trainLoss,
    testLoss: r.testLoss,
    lossHistory: r.history.map((h) => h.loss),
  });
  results.training = {
    seed,
    epochs,
    gamma,
    alpha: p.info.alpha,
    rarest: p.info.rarest,
    classNames: p.info.classNames,
    trainCounts: p.info.trainCounts,
    testCounts: p.info.testCounts,
    ce: pick(ce),
    focal: pick(focal),
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
    title: 'training loss per epoch (each run its own objective)',
    x: [0, epochs],
    y: [lo, hi],
    logY: true,
    xTicks,
    yTicks,
    legendBelow: 2,
    xLabel: 'epoch',
    yLabel: 'mean loss (log scale)',
    series: [
      { points: ce.history.map((h) => [h.epoch, h.loss]), color: '#555', dash: '5 4', label: 'cross-entropy' },
      { points: focal.history.map((h) => [h.epoch, h.loss]), color: '#d62728', label: `focal γ=${focal.gamma}` },
    ],
  });
  const series = [];
  for (let c = 0; c < info.classes; c++) {
    series.push({
      points: focal.history.map((h) => [h.epoch, h.recall[c]]),
      color: COLORS[c],
      label: `${info.classNames[c]}: focal`,
    });
  }
  for (let c = 0; c < info.classes; c++) {
    series.push({
      points: ce.history.map((h) => [h.epoch, h.recall[c]]),
      color: COLORS[c],
      dash: '5 4',
      label: `${info.classNames[c]}: cross-entropy`,
    });
  }
  $('recall-chart').innerHTML = lineChart({
    title: 'test recall per class',
    x: [0, epochs],
    y: [0, 1],
    xTicks,
    yTicks: [0, 0.2, 0.4, 0.6, 0.8, 1],
    xLabel: 'epoch',
    yLabel: 'recall',
    series,
    legendBelow: info.classes,
  });
  const f = (v) => (Number.isNaN(v) ? '—' : v.toFixed(3));
  const better = (a, b) => (a > b + 1e-12 ? ' class="better"' : '');
  const rows = [];
  rows.push(
    '<tr><th>class</th><th>train rows</th><th>test rows</th><th>CE recall</th><th>CE precision</th><th>focal recall</th><th>focal precision</th></tr>',
  );
  for (let c = 0; c < info.classes; c++) {
    rows.push(
      `<tr data-class="${c}"><td>${info.classNames[c]}${c === info.rarest ? ' (rarest)' : ''}</td><td>${info.trainCounts[c]}</td><td>${info.testCounts[c]}</td>` +
        `<td${better(ce.recall[c], focal.recall[c])}>${f(ce.recall[c])}</td><td>${f(ce.precision[c])}</td>` +
        `<td${better(focal.recall[c], ce.recall[c])}>${f(focal.recall[c])}</td><td>${f(focal.precision[c])}</td></tr>`,
    );
  }
  rows.push(
    `<tr><td>macro-F1</td><td></td><td></td><td>${f(ce.macroF1)}</td><td></td><td>${f(focal.macroF1)}</td><td></td></tr>`,
  );
  rows.push(
    `<tr><td>final training loss</td><td></td><td></td><td>${ce.trainLoss.toFixed(4)}</td><td></td><td>${focal.trainLoss.toFixed(4)}</td><td></td></tr>`,
  );
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
