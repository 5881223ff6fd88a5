// @ts-check
// The detector page (`npm run demo:web`): Figure 1 of the paper, then the detector of detector.js trained
// live (AP per epoch per loss) and Figure 4 measured on the focal model. Everything shown is also in
// <pre id="results-json">, which test/detector-web.test.ts checks against the same code in Node.
import { init, sigmoidFocalLoss, sigmoidFocalLossWithGrad } from '/dist/browser.js';
import { COLORS, drawFigure1 as drawFigure1Into, lineChart } from '/web/figure1.js';
import { FIG4_GAMMAS, figure4 } from '/detector/detector.js';
import { createComparison } from '/detector/experiment.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const params = new URLSearchParams(location.search);
const results = { figure1: /** @type {any} */ (null), detector: /** @type {any} */ (null) };
const publish = () => {
  $('results-json').textContent = JSON.stringify(results, null, 1);
};
const drawFigure1 = () => drawFigure1Into($, sigmoidFocalLoss, (figure1) => {
  results.figure1 = figure1;
  publish();
});

const int = (v, d) => (v !== null && v !== '' && Number.isFinite(Number(v)) ? Number(v) : d);
/** @type {HTMLInputElement} */ ($('seed')).value = String(int(params.get('seed'), 1));
/** @type {HTMLInputElement} */ ($('epochs')).value = String(int(params.get("epochs"), 25));
const RUN_COLORS = ['#555', '#8c564b', '#d62728'];
const RUN_DASH = ['5 4', '2 3', ''];

function ticks(n) {
  const step = n <= 10 ? 1 : n <= 20 ? 2 : n <= 50 ? 5 : n <= 100 ? 10 : 25;
  const out = [];
  for (let t = 0; t <= n; t += step) out.push(t);
  return out;
}

function drawAP(cmp, epochs) {
  const top = Math.max(0.1, ...cmp.runs.flatMap((r) => r.history.map((h) => h.ap50)));
  const yMax = Math.ceil(top * 10) / 10;
  const series = cmp.runs.flatMap((r, i) => [
    { points: r.history.map((h) => [h.epoch, h.ap]), color: RUN_COLORS[i], dash: RUN_DASH[i], label: `${r.label}: AP` },
    { points: r.history.map((h) => [h.epoch, h.ap50]), color: RUN_COLORS[i], dash: RUN_DASH[i], width: 1, label: `${r.label}: AP50` },
  ]);
  $('ap-chart').innerHTML = lineChart({
    width: 620, height: 300, title: 'test AP per epoch (thick: AP, thin: AP50)', x: [0, epochs], y: [0, yMax],
    xTicks: ticks(epochs), yTicks: Array.from({ length: Math.round(yMax * 20) + 1 }, (_, i) => i / 20),
    xLabel: 'epoch', yLabel: 'AP', series, legendBelow: 2,
  });
  const last = (r) => r.history[r.history.length - 1];
  const rows = ['<tr><th>loss</th><th>AP</th><th>AP50</th><th>cls/box grad</th></tr>'];
  for (const r of cmp.runs) {
    const h = last(r);
    rows.push(`<tr data-run="${r.key}"><td>${r.label}</td><td>${h ? h.ap.toFixed(3) : '—'}</td><td>${h ? h.ap50.toFixed(3) : '—'}</td><td>${h ? r.run.trunkRatio.toFixed(2) + '×' : '—'}</td></tr>`);
  }
  $('ap-table').innerHTML = rows.join('');
}

function drawFigure4(f4) {
  const chart = (which, title) => lineChart({
    width: 440, height: 300, title, x: [0, 1], y: [0, 1], xTicks: [0, 0.2, 0.4, 0.6, 0.8, 1], yTicks: [0, 0.2, 0.4, 0.6, 0.8, 1],
    xLabel: 'fraction of examples (easiest first)', yLabel: 'cumulative normalized loss', legendBelow: 4,
    series: FIG4_GAMMAS.map((g, i) => ({ points: f4[String(g)][which].cdf, color: COLORS[i], label: `γ = ${g}` })),
  });
  $('fig4-neg').innerHTML = chart('negatives', 'negatives');
  $('fig4-pos').innerHTML = chart('positives', 'positives');
  const rows = ['<tr><th>loss at</th><th>negatives: hardest 0.1%</th><th>1%</th><th>10%</th><th>positives: hardest 10%</th><th>50%</th></tr>'];
  for (const g of FIG4_GAMMAS) {
    const { negatives: n, positives: p } = f4[String(g)];
    rows.push(`<tr data-gamma="${g}"><td>γ = ${g}</td>${[...n.shares, ...p.shares].map((v) => `<td>${v.toFixed(3)}</td>`).join('')}</tr>`);
  }
  $('fig4-table').innerHTML = rows.join('');
}

let generation = 0;

async function train() {
  const mine = ++generation;
  const seed = Math.trunc(Number(/** @type {HTMLInputElement} */ ($('seed')).value));
  const epochs = Math.max(1, Math.trunc(Number(/** @type {HTMLInputElement} */ ($('epochs')).value)));
  document.body.dataset.training = 'running';
  const started = performance.now();
  const cmp = createComparison({ lossWithGrad: sigmoidFocalLossWithGrad, seed, epochs });
  $('fig4-neg').innerHTML = '';
  $('fig4-pos').innerHTML = '';
  $('fig4-table').innerHTML = '';
  // The runs are independent (own weights, own minibatch generator): interleaving their epochs gives
  // the numbers running them one after another gives.
  for (let e = 0; e < epochs; e++) {
    for (let i = 0; i < cmp.runs.length; i++) cmp.step(i);
    drawAP(cmp, epochs);
    $('status').textContent = `epoch ${e + 1}/${epochs}`;
    await new Promise((r) => setTimeout(r, 0));
    if (mine !== generation) return; // restarted
  }
  const fl = cmp.runs.find((r) => r.key === 'fl');
  const f4 = figure4(fl.run.model, cmp.data.test, sigmoidFocalLoss);
  drawFigure4(f4);
  const seconds = (performance.now() - started) / 1000;
  $('status').textContent = `done: ${epochs} epochs × ${cmp.runs.length} runs in ${seconds.toFixed(1)} s`;
  results.detector = {
    seed, epochs, ceAlpha: cmp.ceAlpha, gamma: cmp.gamma, alpha: cmp.alpha,
    runs: Object.fromEntries(cmp.runs.map((r) => [r.key, { label: r.label, trunkRatio: r.run.trunkRatio, history: r.history }])),
    figure4: Object.fromEntries(FIG4_GAMMAS.map((g) => [String(g), { negatives: f4[String(g)].negatives.shares, positives: f4[String(g)].positives.shares }])),
  };
  publish();
  document.body.dataset.training = 'done';
}

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
