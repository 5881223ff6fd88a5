#!/usr/bin/env node
// @ts-check
// `npm start`: a small one-stage dense detector on synthetic 1-D signals, trained with α-balanced
// cross-entropy and with focal loss through focal-loss's sigmoidFocalLossWithGrad; AP over seeds, the
// paper's Figure 4 measured on the trained model, and a textbook float32 focal loss beside the package.
// Run `node examples/detector/cli.js --help` for the options.
import { parseArgs } from 'node:util';
import { A, CLASSES, CLASS_NAMES, DEFAULTS, FIG4_GAMMAS, WIDTHS } from './detector.js';
import { GAMMA_GRID, PRESETS, STABILITY_GAMMA, runExperiment } from './experiment.js';

const D = PRESETS.default;
const HELP = `Usage: npm start -- [options]     (or: node examples/detector/cli.js [options])

Trains a one-stage 1-D detector (shared conv trunk, classification head with ${CLASSES} sigmoid logits per anchor,
box head with smooth L1; anchors of widths ${WIDTHS.join('/')} at every 2nd sample; π = 0.01 bias init) on synthetic
signals with ${CLASSES} object classes (${CLASS_NAMES.join(', ')}) among clutter and look-alike distractors. Every seed trains:
  cross-entropy (γ = 0) with α chosen on validation signals from a grid, the same with the classification
  loss ×0.1, and focal loss (γ ${DEFAULTS.gamma}, α ${DEFAULTS.alpha}); the classification loss is summed over
  anchors and classes and divided by the number of positive anchors (the package's \`normalizer\`).
Prints AP (COCO-style, IoU 0.50:0.05:0.95, 101-point), AP50, AP75 on held-out signals as mean ± sd over
seeds with per-seed paired differences, the trunk-gradient ratio, Figure 4 of the paper measured on the
focal model, and a γ = ${STABILITY_GAMMA} run with a textbook float32 focal loss beside the package.

Options:
  --seeds <n>      seeds (default ${D.seeds}; each seed: its own data, initial weights, minibatch order)
  --seed <n>       the first seed (default ${DEFAULTS.seed})
  --epochs <n>     epochs per run (default ${D.epochs})
  --gamma <g>      the focal run's γ, >= 0 (default ${DEFAULTS.gamma})
  --alpha <a>      the focal run's α in [0, 1] (default ${DEFAULTS.alpha})
  --ce-alpha <a>   cross-entropy's α (default: the best of ${D.alphaGrid.join(', ')} on validation signals)
  --grid           also train the paper's γ grid {${GAMMA_GRID.join(', ')}} at the focal run's α
  --stability-epochs <n>  epochs of the textbook-vs-package run (default ${D.stabilityEpochs}; --full: ${PRESETS.full.stabilityEpochs})
  --no-stability   skip the textbook-vs-package run
  --quick          a smaller run: ${PRESETS.quick.seeds} seeds × ${PRESETS.quick.epochs} epochs, ${PRESETS.quick.train} training signals, CE α = ${PRESETS.quick.ceAlpha}
  --full           the design notes' size: ${PRESETS.full.seeds} seeds × ${PRESETS.full.epochs} epochs, ${PRESETS.full.test} test signals (minutes)
  --json           print the results as JSON instead of tables
  -h, --help       this text`;

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

function parseOptions(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        seeds: { type: 'string' }, seed: { type: 'string' }, epochs: { type: 'string' },
        gamma: { type: 'string' }, alpha: { type: 'string' }, 'ce-alpha': { type: 'string' },
        'stability-epochs': { type: 'string' }, grid: { type: 'boolean' }, 'no-stability': { type: 'boolean' }, quick: { type: 'boolean' }, full: { type: 'boolean' },
        json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    fail(`${/** @type {Error} */ (error).message}\nRun with --help for the options.`);
  }
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  if (values.quick && values.full) fail('--quick and --full cannot be combined');
  const number = (name, check, expected) => {
    const text = values[name];
    if (text === undefined) return undefined;
    const v = Number(text);
    if (text.trim() === '' || !Number.isFinite(v) || !check(v)) fail(`--${name} ${text}: expected ${expected}`);
    return v;
  };
  const preset = values.quick ? PRESETS.quick : values.full ? PRESETS.full : PRESETS.default;
  const ceAlpha = number('ce-alpha', (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  return {
    ...preset,
    seeds: number('seeds', (v) => Number.isInteger(v) && v >= 1 && v <= 100, 'an integer in [1, 100]') ?? preset.seeds,
    seed: number('seed', (v) => Number.isInteger(v) && v >= 0 && v < 2 ** 31, 'an integer in [0, 2^31)') ?? DEFAULTS.seed,
    epochs: number('epochs', (v) => Number.isInteger(v) && v >= 1 && v <= 10000, 'an integer >= 1') ?? preset.epochs,
    gamma: number('gamma', (v) => v >= 0 && v <= 20, 'a number in [0, 20]') ?? DEFAULTS.gamma,
    alpha: number('alpha', (v) => v >= 0 && v <= 1, 'a number in [0, 1]') ?? DEFAULTS.alpha,
    ceAlpha: ceAlpha ?? preset.ceAlpha,
    gammaGrid: Boolean(values.grid),
    stability: !values['no-stability'],
    stabilityEpochs: number('stability-epochs', (v) => Number.isInteger(v) && v >= 1 && v <= 10000, 'an integer >= 1') ?? preset.stabilityEpochs,
    json: Boolean(values.json),
    preset: values.quick ? 'quick' : values.full ? 'full' : 'default',
  };
}

const opts = parseOptions(process.argv.slice(2));
const { sigmoidFocalLoss, sigmoidFocalLossWithGrad } = await import('focal-loss').catch((error) => {
  fail(`cannot load the focal-loss package (${error.message.split('\n')[0]}); run \`npm run build\` first`);
  throw error;
});

// Progress: one line rewritten in place on a terminal; one line per finished run otherwise.
const tty = Boolean(process.stdout.isTTY) && !opts.json;
let lastLen = 0;
const log = opts.json ? () => {} : (/** @type {string} */ s) => console.log(s);
const r3 = (v) => (Number.isFinite(v) ? v.toFixed(3) : String(v));
const result = runExperiment({
  ...opts,
  lossWithGrad: sigmoidFocalLossWithGrad,
  lossNone: sigmoidFocalLoss,
  onProgress(e) {
    if (opts.json) return;
    const head = `${e.stage === 'alpha' ? 'choosing α' : e.stage === 'stability' ? 'stability ' : `seed ${e.seed}`.padEnd(10)}  ${e.label.padEnd(28)}`;
    if (e.done) {
      const line = `${head} ${e.epochs} epochs  cls loss ${r3(e.clsLoss)}  box loss ${r3(e.boxLoss)}  AP ${r3(e.done.ap)}  (${e.done.seconds.toFixed(1)} s)`;
      if (tty) process.stdout.write(`\r${' '.repeat(lastLen)}\r`);
      log(line);
      lastLen = 0;
    } else if (tty) {
      const line = `${head} epoch ${e.epoch}/${e.epochs}  cls loss ${r3(e.clsLoss)}  box loss ${r3(e.boxLoss)}`;
      process.stdout.write(`\r${line}${' '.repeat(Math.max(0, lastLen - line.length))}`);
      lastLen = line.length;
    }
  },
});

if (opts.json) {
  console.log(JSON.stringify(result, null, 1));
  process.exit(0);
}

const c = result.counts;
const pm = (s) => `${s.mean.toFixed(3)} ± ${s.sd.toFixed(3)}`;
const sign = (v) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(3)}`;
log('');
log(`${result.seeds.length} seeds (${result.seeds.join(', ')}) × ${result.epochs} epochs; per seed ${result.sizes.train} training / ${result.sizes.test} test signals; ${result.seconds.toFixed(1)} s`);
log(`anchors (seed ${result.seeds[0]}, training): ${c.positive} positive, ${c.background} background (1 : ${Math.round(c.background / c.positive)}), ${c.ignored} ignored; ${c.objects} objects, ${A} anchors × ${CLASSES} classes per position`);
if (result.alphaSearch.length) {
  log(`cross-entropy's α: best validation AP (seed ${result.seeds[0]}, never the test signals) of ${result.alphaSearch.map((s) => `α ${s.alpha} → ${s.ap.toFixed(3)}`).join(', ')}: α = ${result.ceAlpha}`);
} else {
  log(`cross-entropy's α: ${result.ceAlpha} (given; no search)`);
}
log('');
const W = Math.max(30, ...result.table.map((t) => t.label.length + 2));
log(`${'loss'.padEnd(W)}${'AP'.padEnd(15)}${'AP50'.padEnd(15)}${'AP75'.padEnd(15)}${'cls/box grad'.padEnd(14)}ΔAP vs CE by seed (mean; wins; min..max)`);
log('─'.repeat(W + 59 + 40));
for (const t of result.table) {
  const delta = t.delta ? `${sign(t.delta.mean)}; ${t.delta.wins}/${t.delta.n}; ${sign(t.delta.min)}..${sign(t.delta.max)}` : '—';
  log(`${t.label.padEnd(W)}${pm(t.ap).padEnd(15)}${pm(t.ap50).padEnd(15)}${pm(t.ap75).padEnd(15)}${`${t.trunkRatio.mean.toFixed(2)}×`.padEnd(14)}${delta}`);
}
log('(mean ± sd over seeds; "cls/box grad": norm of the classification vs box-regression gradient reaching the shared trunk)');
const fl = result.table.find((t) => t.key === 'fl');
if (fl?.delta) {
  const d = fl.delta;
  const verdict = d.n < 2
    ? 'one seed: no spread to judge it by'
    : d.wins === d.n
      ? 'ahead on every seed'
      : d.diffs.every((v) => v < 0)
        ? 'behind on every seed'
        : Math.abs(d.mean) <= d.sd
          ? `within its seed-to-seed spread (sd ${d.sd.toFixed(3)}): not a reliable difference at this size`
          : `on ${d.wins} of ${d.n} seeds (sd ${d.sd.toFixed(3)})`;
  log(`${fl.label} vs ${result.table[0].label}: ΔAP ${sign(d.mean)}, ${verdict}.${opts.preset === 'full' ? '' : ' `--full` trains the design notes\' size (6 seeds × 60 epochs, minutes).'}`);
}

if (result.fig4) {
  log('');
  log(`Figure 4 (paper): share of the loss carried by the hardest anchors; model trained with γ = ${result.gamma}, seed ${result.seeds[0]}, test anchors`);
  const f4 = result.fig4;
  const g0 = f4[String(FIG4_GAMMAS[0])];
  log(`(${g0.negatives.count} negative and ${g0.positives.count} positive (anchor, class) pairs; loss evaluated at each γ, α off)`);
  log(`${'loss at'.padEnd(9)}│ negatives: hardest 0.1%    1%     10% │ positives: hardest 10%    50%`);
  for (const g of FIG4_GAMMAS) {
    const { negatives: n, positives: p } = f4[String(g)];
    log(`${`γ = ${g}`.padEnd(9)}│ ${' '.repeat(17)}${n.shares[0].toFixed(3)}  ${n.shares[1].toFixed(3)}  ${n.shares[2].toFixed(3)} │ ${' '.repeat(17)}${p.shares[0].toFixed(3)}  ${p.shares[1].toFixed(3)}`);
  }
}

if (result.stability) {
  const s = result.stability;
  const tb = s.textbook;
  log('');
  log(`Stability: γ = ${s.gamma}, α = ${s.alpha}, float32 logits, seed ${s.seed}, ${s.epochs} epochs, the same run twice`);
  log(`  this package:       AP ${s.package.ap.toFixed(3)}, final cls loss ${r3(s.package.finalLoss)}, non-finite loss/gradient in ${s.package.nonFiniteSteps} steps`);
  const when = tb.firstNonFinite ? `first at step ${tb.firstNonFinite.step} (epoch ${tb.firstNonFinite.epoch}), in ${tb.nonFiniteSteps} steps` : 'never';
  log(`  textbook float32:   AP ${r3(tb.ap)}, final cls loss ${r3(tb.finalLoss)}, non-finite loss/gradient: ${when}${tb.paramsNonFinite ? '; the weights became NaN' : ''}`);
  const range = (r) => `${r.minLogit.toFixed(1)}..${r.maxLogit.toFixed(1)}`;
  log(`  logits seen in training: ${range(tb)} (the textbook gradient is 0·∞ = NaN for γ < 1 once float32 rounds p_t to 1: logit > 16.6 on a positive, < −17.3 on a negative)`);
  if (tb.worstAt) {
    const w = tb.worstAt;
    log(`  worst finite gradient error of the textbook version vs the package: ${w ? `${(tb.worstGradError * 100).toPrecision(3)}% (step ${w.step}, logit ${w.logit.toPrecision(4)}, ${w.target === w.cls ? 'positive' : 'negative'}: ${w.grad.toExponential(3)} vs ${w.reference.toExponential(3)})` : '—'}`);
  }
}
