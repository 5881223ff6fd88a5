#!/usr/bin/env node
// @ts-check
// `npm start`: a small one-stage dense detector on synthetic 1-D signals (the design notes' regime by
// default), trained with α-balanced cross-entropy and with focal loss through focal-loss's
// sigmoidFocalLossWithGrad on every seed, the seeds' runs spread over worker threads; AP over seeds with
// paired differences, the paper's Figure 4 measured on the trained model, and a textbook float32 focal loss
// beside the package for as long as the models train. `node examples/detector/cli.js --help` for the options.
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { A, CLASS_NAMES, DEFAULTS, FIG4_GAMMAS, WIDTHS } from './detector.js';
import { GAMMA_GRID, PRESETS, STABILITY_GAMMA, createSerialPool, runExperiment } from './experiment.js';
import { createThreadPool, defaultWorkers, threadCpuSeconds } from './pool.js';

const D = PRESETS.default;
const C3 = PRESETS.classes3;
const HELP = `Usage: npm start -- [options]     (or: node examples/detector/cli.js [options])

Trains a one-stage 1-D detector (shared conv trunk, classification head of sigmoid logits per anchor, box head
with smooth L1; anchors of widths ${WIDTHS.join('/')} at every 2nd sample; π = 0.01 bias init) on synthetic signals
with objects among clutter and look-alike distractors. Every seed trains: cross-entropy (γ = 0) with α chosen on
validation signals from a grid, the same with the classification loss ×0.1, and focal loss (γ ${DEFAULTS.gamma}, α ${DEFAULTS.alpha});
the classification loss is summed over anchors and classes and divided by the number of positive anchors (the
package's \`normalizer\`). The runs are spread over worker threads; each run gives the same numbers wherever it runs.
Prints AP (COCO-style, IoU 0.50:0.05:0.95, 101-point), AP50, AP75 on held-out signals as mean ± sd over seeds,
the paired difference to cross-entropy with its 95% interval and seeds won, the trunk-gradient ratio, Figure 4
of the paper measured on the focal model, a γ = ${STABILITY_GAMMA} run with a textbook float32 focal loss beside the
package, and the wall and CPU time.

Default: the design notes' detector: 1 class (${CLASS_NAMES[0]}), ${D.seeds} seeds × ${D.epochs} epochs, ${D.train} training / ${D.test} test signals per seed.

Options:
  --classes <1|3>  1 (default) or 3 classes (${CLASS_NAMES.join(', ')}): the earlier default, ${C3.seeds} seeds × ${C3.epochs} epochs, ${C3.test} test signals
  --seeds <n>      seeds (default ${D.seeds}; each seed: its own data, initial weights, minibatch order)
  --seed <n>       the first seed (default ${DEFAULTS.seed})
  --epochs <n>     epochs per run (default ${D.epochs})
  --gamma <g>      the focal run's γ, >= 0 (default ${DEFAULTS.gamma})
  --alpha <a>      the focal run's α in [0, 1] (default ${DEFAULTS.alpha})
  --ce-alpha <a>   cross-entropy's α (default: the best of ${D.alphaGrid.join(', ')} on validation signals)
  --grid           also train the paper's γ grid {${GAMMA_GRID.join(', ')}} at the focal run's α
  --stability-epochs <n>  epochs of the textbook-vs-package run (default ${D.stabilityEpochs}, the models' full length)
  --no-stability   skip the textbook-vs-package run
  --workers <n>    worker threads (default: the cores, here ${defaultWorkers()}); 0 runs everything in this thread
  --quick          a smaller run: ${PRESETS.quick.seeds} seeds × ${PRESETS.quick.epochs} epochs, ${PRESETS.quick.train} training signals, CE α = ${PRESETS.quick.ceAlpha}
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
        classes: { type: 'string' },
        seeds: { type: 'string' },
        seed: { type: 'string' },
        epochs: { type: 'string' },
        gamma: { type: 'string' },
        alpha: { type: 'string' },
        'ce-alpha': { type: 'string' },
        workers: { type: 'string' },
        'stability-epochs': { type: 'string' },
        grid: { type: 'boolean' },
        'no-stability': { type: 'boolean' },
        quick: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
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
  const number = (name, check, expected) => {
    const text = values[name];
    if (text === undefined) return undefined;
    const v = Number(text);
    if (text.trim() === '' || !Number.isFinite(v) || !check(v)) fail(`--${name} ${text}: expected ${expected}`);
    return v;
  };
  const classes = number('classes', (v) => v === 1 || v === 3, '1 or 3') ?? 1;
  if (values.quick && classes === 3) fail('--quick and --classes 3 cannot be combined');
  const preset = values.quick ? PRESETS.quick : classes === 3 ? PRESETS.classes3 : PRESETS.default;
  const ceAlpha = number('ce-alpha', (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  return {
    ...preset,
    seeds: number('seeds', (v) => Number.isInteger(v) && v >= 1 && v <= 100, 'an integer in [1, 100]') ?? preset.seeds,
    seed:
      number('seed', (v) => Number.isInteger(v) && v >= 0 && v < 2 ** 31, 'an integer in [0, 2^31)') ?? DEFAULTS.seed,
    epochs: number('epochs', (v) => Number.isInteger(v) && v >= 1 && v <= 10000, 'an integer >= 1') ?? preset.epochs,
    gamma: number('gamma', (v) => v >= 0 && v <= 20, 'a number in [0, 20]') ?? DEFAULTS.gamma,
    alpha: number('alpha', (v) => v >= 0 && v <= 1, 'a number in [0, 1]') ?? DEFAULTS.alpha,
    ceAlpha: ceAlpha ?? preset.ceAlpha,
    gammaGrid: Boolean(values.grid),
    stability: !values['no-stability'],
    stabilityEpochs:
      number('stability-epochs', (v) => Number.isInteger(v) && v >= 1 && v <= 10000, 'an integer >= 1') ??
      preset.stabilityEpochs,
    workers:
      number('workers', (v) => Number.isInteger(v) && v >= 0 && v <= 64, 'an integer in [0, 64]') ?? defaultWorkers(),
    json: Boolean(values.json),
  };
}

const opts = parseOptions(process.argv.slice(2));
const { sigmoidFocalLoss, sigmoidFocalLossWithGrad } = await import('focal-loss').catch((error) => {
  fail(`cannot load the focal-loss package (${error.message.split('\n')[0]}); run \`npm run build\` first`);
  throw error;
});

const load0 = loadavg();
const cpu0 = process.cpuUsage();
const pool =
  opts.workers === 0
    ? createSerialPool({
        lossWithGrad: sigmoidFocalLossWithGrad,
        lossNone: sigmoidFocalLoss,
        cpuSeconds: threadCpuSeconds,
      })
    : createThreadPool(opts.workers);

// Progress: a status line rewritten in place on a terminal; one line per finished run (in the order they
// finish) otherwise.
const tty = Boolean(process.stdout.isTTY) && !opts.json;
let lastLen = 0;
const log = opts.json ? () => {} : (/** @type {string} */ s) => console.log(s);
const r3 = (v) => (Number.isFinite(v) ? v.toFixed(3) : String(v));
const running = new Map();
let finished = 0;
let result;
try {
  result = await runExperiment({
    ...opts,
    pool,
    onProgress({ task, epoch, done }) {
      if (opts.json) return;
      const head = `${task.key.startsWith('stability') ? 'stability' : `seed ${task.seed}`}`.padEnd(10);
      if (done) {
        running.delete(task);
        finished++;
        const ap = task.val ? `val AP ${r3(done.val.ap)}, test AP ${r3(done.test.ap)}` : `AP ${r3(done.test.ap)}`;
        const cpu = done.timing.cpuSeconds === null ? '' : `, CPU ${done.timing.cpuSeconds.toFixed(1)} s`;
        const line = `${head}  ${task.label.padEnd(28)} ${task.epochs} epochs  cls loss ${r3(done.finalClsLoss)}  box loss ${r3(done.finalBoxLoss)}  ${ap}  (${done.timing.seconds.toFixed(1)} s${cpu})`;
        if (tty) process.stdout.write(`\r${' '.repeat(lastLen)}\r`);
        log(line);
        lastLen = 0;
      } else if (tty) {
        running.set(task, epoch.epoch);
        const line = `${finished} runs done; training: ${[...running].map(([t, e]) => `seed ${t.seed} ${t.label.split(' (')[0]} ${e}/${t.epochs}`).join(', ')}`;
        process.stdout.write(`\r${line.slice(0, 150)}${' '.repeat(Math.max(0, lastLen - line.length))}`);
        lastLen = Math.min(150, line.length);
      }
    },
  });
} finally {
  await pool.close();
}
const cpuAll = process.cpuUsage(cpu0);
const load1 = loadavg();
const processCpu = (cpuAll.user + cpuAll.system) / 1e6;

if (opts.json) {
  console.log(
    JSON.stringify(
      {
        ...result,
        timing: {
          ...result.timing,
          processCpuSeconds: processCpu,
          loadavg: { start: load0, end: load1 },
          cores: cpus().length,
        },
      },
      null,
      1,
    ),
  );
  process.exit(0);
}

const c = result.counts;
const pm = (s) => `${s.mean.toFixed(3)} ± ${s.sd.toFixed(3)}`;
const sign = (v) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(3)}`;
const seedsText =
  result.seeds.length > 2 ? `${result.seeds[0]}–${result.seeds[result.seeds.length - 1]}` : result.seeds.join(', ');
const classText =
  result.classes === 1
    ? `1 class (${CLASS_NAMES[0]})`
    : `${result.classes} classes (${CLASS_NAMES.slice(0, result.classes).join(', ')})`;
log('');
log(
  `${result.seeds.length} seeds (${seedsText}) × ${result.epochs} epochs, ${classText}; per seed ${result.sizes.train} training / ${result.sizes.test} test signals`,
);
log(
  `anchors (seed ${result.seeds[0]}, training): ${c.positive} positive, ${c.background} background (1 : ${Math.round(c.background / c.positive)}), ${c.ignored} ignored; ${c.objects} objects, ${A} anchors × ${result.classes} ${result.classes === 1 ? 'class' : 'classes'} per position`,
);
if (result.alphaSearch.length) {
  log(
    `cross-entropy's α: best validation AP (seed ${result.seeds[0]}, never the test signals) of ${result.alphaSearch.map((s) => `α ${s.alpha} → ${s.ap.toFixed(3)}`).join(', ')}: α = ${result.ceAlpha}`,
  );
} else {
  log(`cross-entropy's α: ${result.ceAlpha} (given; no search)`);
}
log('');
const W = Math.max(30, ...result.table.map((t) => t.label.length + 2));
log(
  `${'loss'.padEnd(W)}${'AP'.padEnd(15)}${'AP50'.padEnd(15)}${'AP75'.padEnd(15)}${'cls/box grad'.padEnd(14)}ΔAP vs CE, paired by seed (mean ± sd; wins; min..max)`,
);
log('─'.repeat(W + 59 + 54));
for (const t of result.table) {
  const delta = t.delta
    ? `${sign(t.delta.mean)} ± ${t.delta.sd.toFixed(3)}; ${t.delta.wins}/${t.delta.n}; ${sign(t.delta.min)}..${sign(t.delta.max)}`
    : '—';
  log(
    `${t.label.padEnd(W)}${pm(t.ap).padEnd(15)}${pm(t.ap50).padEnd(15)}${pm(t.ap75).padEnd(15)}${`${t.trunkRatio.mean.toFixed(2)}×`.padEnd(14)}${delta}`,
  );
}
log(
  '(mean ± sd over seeds; "cls/box grad": norm of the classification vs box-regression gradient reaching the shared trunk)',
);
for (const t of result.table) {
  if (!t.delta || (t.key !== 'fl' && t.key !== 'ce01')) continue;
  const d = t.delta;
  const verdict =
    d.n < 2
      ? 'one seed: no spread to judge it by'
      : `95% interval ${sign(d.lo)}..${sign(d.hi)} (t over ${d.n} paired seeds): ${d.resolved ? `resolved, ${d.mean > 0 ? 'ahead' : 'behind'}` : 'NOT resolved at this size (the interval includes 0)'}; won on ${d.wins} of ${d.n} seeds`;
  log(`${t.label} vs ${result.table[0].label}: ΔAP ${sign(d.mean)}, ${verdict}.`);
}

if (result.fig4) {
  log('');
  log(
    `Figure 4 (paper): share of the loss carried by the hardest anchors; model trained with γ = ${result.gamma}, seed ${result.seeds[0]}, test anchors`,
  );
  const f4 = result.fig4;
  const g0 = f4[String(FIG4_GAMMAS[0])];
  log(
    `(${g0.negatives.count} negative and ${g0.positives.count} positive (anchor, class) pairs; loss evaluated at each γ, α off)`,
  );
  log(`${'loss at'.padEnd(9)}│ negatives: hardest 0.1%    1%     10% │ positives: hardest 10%    50%`);
  for (const g of FIG4_GAMMAS) {
    const { negatives: n, positives: p } = f4[String(g)];
    log(
      `${`γ = ${g}`.padEnd(9)}│ ${' '.repeat(17)}${n.shares[0].toFixed(3)}  ${n.shares[1].toFixed(3)}  ${n.shares[2].toFixed(3)} │ ${' '.repeat(17)}${p.shares[0].toFixed(3)}  ${p.shares[1].toFixed(3)}`,
    );
  }
}

if (result.stability) {
  const s = result.stability;
  const tb = s.textbook;
  const nonFinite = (r) =>
    r.firstNonFinite
      ? `first non-finite loss/gradient at step ${r.firstNonFinite.step} of ${s.steps} (epoch ${r.firstNonFinite.epoch}), non-finite in ${r.nonFiniteSteps} of ${s.steps} steps${r.paramsNonFinite ? '; the weights became NaN' : ''}`
      : `finite loss and gradient in all ${s.steps} steps`;
  log('');
  log(
    `Stability: γ = ${s.gamma}, α = ${s.alpha}, float32 logits, seed ${s.seed}, ${s.epochs} epochs (${s.steps} steps), the same run twice`,
  );
  log(`  textbook float32:   AP ${r3(tb.ap)}, final cls loss ${r3(tb.finalLoss)}; ${nonFinite(tb)}`);
  log(
    `  this package:       AP ${r3(s.package.ap)}, final cls loss ${r3(s.package.finalLoss)}; ${nonFinite(s.package)}`,
  );
  const range = (r) => `${r.minLogit.toFixed(1)}..${r.maxLogit.toFixed(1)}`;
  log(
    `  logits seen (package run): ${range(s.package)}; the textbook gradient is 0·∞ = NaN for γ < 1 once float32 rounds p_t to 1 (logit > 16.6 on a positive, < −17.3 on a negative)`,
  );
  if (tb.worstAt) {
    const w = tb.worstAt;
    log(
      `  worst finite gradient error of the textbook version vs the package: ${(tb.worstGradError * 100).toPrecision(3)}% (step ${w.step}, logit ${w.logit.toPrecision(4)}, ${w.target === w.cls ? 'positive' : 'negative'}: ${w.grad.toExponential(3)} vs ${w.reference.toExponential(3)})`,
    );
  }
}

// Time: wall clock, and CPU (each run's own thread, and the whole process) with the machine's load, because
// on a shared machine the wall time says more about the neighbours than about this program.
const t = result.timing;
const where = opts.workers === 0 ? 'this thread' : `${t.workers} worker threads`;
let cpuText = `CPU ${processCpu.toFixed(1)} s for the process`;
if (t.runCpuSeconds !== null) {
  // One seed's three losses: the mean CPU time of the non-stability runs, times three.
  const perRun = t.perRun
    .filter((r) => !r.key.startsWith('stability'))
    .map((r) => /** @type {number} */ (r.cpuSeconds));
  cpuText += `, ${t.runCpuSeconds.toFixed(1)} s in the runs' own threads (${(perRun.reduce((a, b) => a + b, 0) / perRun.length).toFixed(1)} s per ${result.epochs}-epoch run, ${((3 * perRun.reduce((a, b) => a + b, 0)) / perRun.length).toFixed(1)} s per seed)`;
}
log('');
log(`Time: ${t.seconds.toFixed(1)} s wall for ${t.runs} runs on ${where} (${cpus().length} cores); ${cpuText}`);
log(
  `load average (1 min) ${load0[0].toFixed(2)} at the start, ${load1[0].toFixed(2)} at the end, on ${cpus().length} cores`,
);
