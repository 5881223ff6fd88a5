#!/usr/bin/env node
// @ts-check
// `npm run demo:classes` (`npm start` before the detector of examples/detector/): trains the same small classifier twice on an imbalanced data set, with cross-entropy and
// with focal loss, through focal-loss's softmaxFocalLossWithGrad, and prints per-class results.
// Run `node examples/train/cli.js --help` for the options.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DataError, parseCsv } from './csv.js';
import { DEFAULTS, SYNTHETIC, alphaFor, trainBoth } from './train.js';

const HELP = `Usage: npm run demo:classes -- [options]     (or: node examples/train/cli.js [options])

Trains a one-hidden-layer softmax classifier twice, with the same seed, initial weights, minibatches,
optimizer (Adam) and learning rate: once with cross-entropy (gamma 0, no alpha), once with focal loss
(gamma ${DEFAULTS.gamma}, alpha from inverse class frequency), both through focal-loss's
softmaxFocalLossWithGrad. Prints per-class recall and precision on a held-out test split (30% of every
class), macro-F1 and the final loss.

Options:
  --gamma <g>      the focal run's gamma, >= 0 (default ${DEFAULTS.gamma})
  --alpha <a>      the focal run's alpha: inverse (1/class frequency, normalised to sum 1; default),
                   sqrt (1/sqrt(frequency), normalised), none, or one number per class (e.g. 0.6,0.3,0.1)
  --epochs <n>     passes over the training set (default ${DEFAULTS.epochs})
  --seed <n>       seed of the data, the split, the initial weights and the minibatch order (default ${DEFAULTS.seed})
  --data <file>    a CSV file instead of the embedded data: feature columns, then an integer label column;
                   a header line is optional
  -h, --help       this text

The embedded data: ${SYNTHETIC.counts.length} overlapping 2-D Gaussian clusters of ${SYNTHETIC.counts.join(' : ')} points (${SYNTHETIC.names.join(', ')}).`;

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
        gamma: { type: 'string' },
        alpha: { type: 'string' },
        epochs: { type: 'string' },
        seed: { type: 'string' },
        data: { type: 'string' },
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
  const number = (name, text, check, expected) => {
    if (text === undefined) return undefined;
    const v = Number(text);
    if (text.trim() === '' || !Number.isFinite(v) || !check(v)) fail(`--${name} ${text}: expected ${expected}`);
    return v;
  };
  return {
    gamma: number('gamma', values.gamma, (v) => v >= 0, 'a number >= 0'),
    epochs: number('epochs', values.epochs, (v) => Number.isInteger(v) && v >= 1 && v <= 100000, 'an integer >= 1'),
    seed: number('seed', values.seed, (v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32, 'an integer in [0, 2^32)'),
    alpha: values.alpha ?? 'inverse',
    data: values.data,
  };
}

function loadData(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = /** @type {NodeJS.ErrnoException} */ (error).code;
    fail(
      code === 'ENOENT'
        ? `cannot read ${path}: no such file`
        : `cannot read ${path}: ${/** @type {Error} */ (error).message}`,
    );
  }
  try {
    return parseCsv(/** @type {string} */ (text), path);
  } catch (error) {
    if (error instanceof DataError) fail(error.message);
    throw error;
  }
}

const opts = parseOptions(process.argv.slice(2));
// The package itself (dist/, built by `npm install` or `npm run build`).
const { softmaxFocalLossWithGrad } = await import('focal-loss').catch((error) => {
  fail(`cannot load the focal-loss package (${error.message.split('\n')[0]}); run \`npm run build\` first`);
  throw error;
});
const data = opts.data === undefined ? undefined : loadData(opts.data);
const classes = data?.classes ?? SYNTHETIC.counts.length;
let _alphaSpec;
try {
  _alphaSpec = alphaFor(opts.alpha, classes, null);
} catch (error) {
  fail(`--alpha ${opts.alpha}: ${/** @type {Error} */ (error).message}`);
}

// Progress: one line rewritten in place on a terminal; a line every tenth of the run otherwise.
const tty = Boolean(process.stdout.isTTY);
const label = { ce: 'cross-entropy', focal: 'focal' };
let lastLen = 0;
const started = performance.now();
const result = trainBoth({
  lossWithGrad: softmaxFocalLossWithGrad,
  data,
  seed: opts.seed,
  epochs: opts.epochs,
  gamma: opts.gamma,
  alpha: opts.alpha,
  onEpoch(run, e, epochs) {
    const line = `training ${label[run].padEnd(13)} epoch ${String(e.epoch).padStart(String(epochs).length)}/${epochs}  loss ${e.loss.toFixed(4)}  test macro-F1 ${e.macroF1.toFixed(3)}`;
    if (tty) {
      process.stdout.write(`\r${line}${' '.repeat(Math.max(0, lastLen - line.length))}`);
      lastLen = line.length;
    } else if (e.epoch === epochs || e.epoch % Math.max(1, Math.round(epochs / 4)) === 0) {
      console.log(line);
    }
  },
});
if (tty) process.stdout.write(`\r${' '.repeat(lastLen)}\r`);
const seconds = (performance.now() - started) / 1000;

// The table.
const { ce, focal, classNames, trainCounts, testCounts, rarest } = result;
const pct = (v) => (Number.isNaN(v) ? '    —' : v.toFixed(3).padStart(5));
const source = opts.data ? opts.data : `embedded data (seed ${result.seed})`;
const total = trainCounts.reduce((a, b) => a + b, 0);
console.log(
  `${source}: ${result.classes} classes, ${result.dims} features, ${total} training / ${testCounts.reduce((a, b) => a + b, 0)} test rows; ${result.epochs} epochs each (${seconds.toFixed(1)} s)`,
);
console.log(
  `focal run: gamma ${focal.gamma}, alpha ${focal.alpha ? `[${focal.alpha.map((a) => a.toPrecision(3)).join(', ')}]` : 'none'}`,
);
console.log('');
const nameWidth = Math.max(5, ...classNames.map((n) => n.length));
const head1 = `${'class'.padEnd(nameWidth)}  train   test │ cross-entropy (γ=0)  │ focal (γ=${focal.gamma}${focal.alpha ? ', α' : ''})`;
const head2 = `${''.padEnd(nameWidth)}   rows   rows │ recall  precision    │ recall  precision`;
console.log(head1);
console.log(head2);
console.log('─'.repeat(head2.length + 2));
for (let c = 0; c < result.classes; c++) {
  const mark = c === rarest ? ' ← rarest' : '';
  console.log(
    `${classNames[c].padEnd(nameWidth)} ${String(trainCounts[c]).padStart(6)} ${String(testCounts[c]).padStart(6)} │ ` +
      `${pct(ce.recall[c])}   ${pct(ce.precision[c])}        │ ${pct(focal.recall[c])}   ${pct(focal.precision[c])}${mark}`,
  );
}
console.log('─'.repeat(head2.length + 2));
const row = (name, a, b) => console.log(`${name.padEnd(nameWidth + 14)} │ ${a.padEnd(21)}│ ${b}`);
row('macro-F1', ce.macroF1.toFixed(3), focal.macroF1.toFixed(3));
row('accuracy', ce.accuracy.toFixed(3), focal.accuracy.toFixed(3));
row('final loss (train)', ce.trainLoss.toFixed(4), focal.trainLoss.toFixed(4));
row('final loss (test)', ce.testLoss.toFixed(4), focal.testLoss.toFixed(4));
console.log('');
const dr = focal.recall[rarest] - ce.recall[rarest];
console.log(
  `Rarest class (${classNames[rarest]}): recall ${ce.recall[rarest].toFixed(3)} with cross-entropy, ${focal.recall[rarest].toFixed(3)} with focal loss ` +
    `(${dr >= 0 ? '+' : ''}${dr.toFixed(3)}). Each loss is its own objective (focal values are smaller by design).`,
);
