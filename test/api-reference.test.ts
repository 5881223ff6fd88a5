// The README's API reference is written by hand; this keeps it honest: every function the package
// exports is listed in the README's API block (and nothing else is), and the option tables name
// exactly the options each loss accepts (read back from the facade's own unknown-option error).
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import * as api from 'focal-loss';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

function section(heading: string): string {
  const start = readme.indexOf(`\n${heading}\n`);
  expect(start, heading).toBeGreaterThan(0);
  const rest = readme.slice(start + heading.length + 2);
  const end = rest.search(/\n#{2,3} /);
  return end < 0 ? rest : rest.slice(0, end);
}

/** Option names listed by the facade when it rejects an unknown option. */
function acceptedOptions(call: () => unknown): string[] {
  try {
    call();
  } catch (error) {
    const m = /options are (.*)$/.exec((error as Error).message);
    if (m) return m[1].split(', ').sort();
  }
  throw new Error('expected an unknown-option TypeError listing the options');
}

/** Option names in the first column of a README options table. */
function tableOptions(text: string): string[] {
  return [...text.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]).sort();
}

test('the API block lists exactly the exported functions', () => {
  const block = /```ts\n([\s\S]*?)```/.exec(section('## API'))![1];
  const listed = [...block.matchAll(/^(\w+)\(/gm)].map((m) => m[1]).sort();
  const exported = Object.entries(api)
    .filter(([, v]) => typeof v === 'function')
    .map(([k]) => k)
    .sort();
  expect(listed).toEqual(exported);
});

test('the softmax options table names exactly the options softmaxFocalLoss accepts', () => {
  const accepted = acceptedOptions(() =>
    api.softmaxFocalLoss(new Float32Array(3), [0], { classes: 3, bogus: 1 } as never),
  );
  expect(tableOptions(section('### Softmax (multi-class) options'))).toEqual(accepted);
});

test('the sigmoid options table names exactly the options sigmoidFocalLoss accepts', () => {
  const accepted = acceptedOptions(() => api.sigmoidFocalLoss(new Float32Array(1), [1], { bogus: 1 } as never));
  expect(tableOptions(section('### Sigmoid (binary, multi-label) options'))).toEqual(accepted);
});

test('the documented defaults are the defaults: gamma 2, softmax alpha none, sigmoid alpha 0.25, mean, ignoreIndex -100', () => {
  const logits = new Float64Array([1.5, -0.5, 0.25, 2, 0, -1]);
  const targets = [2, -100];
  expect(api.softmaxFocalLoss(logits, targets, { classes: 3 })).toBe(
    api.softmaxFocalLoss(logits, targets, {
      classes: 3,
      gamma: 2,
      reduction: 'mean',
      ignoreIndex: -100,
      labelSmoothing: 0,
    }),
  );
  expect(api.softmaxFocalLoss(logits, targets, { classes: 3 })).toBe(
    api.softmaxFocalLoss(logits, targets, { classes: 3, alpha: 1 }),
  );
  const y = [1, 0, 0, 1, 0, 1];
  expect(api.sigmoidFocalLoss(logits, y)).toBe(
    api.sigmoidFocalLoss(logits, y, { gamma: 2, alpha: 0.25, reduction: 'mean', labelSmoothing: 0 }),
  );
  expect(api.sigmoidFocalLoss(logits, y)).not.toBe(api.sigmoidFocalLoss(logits, y, { alpha: null }));
});

test('the family table names exactly the own options of qualityFocalLoss, varifocalLoss and asymmetricLoss', () => {
  const table = section('### Quality focal, varifocal and asymmetric options');
  const common = ['classes', 'shape', 'targetForm', 'ignoreIndex', 'weights', 'reduction', 'normalizer', 'out'];
  for (const fn of ['qualityFocalLoss', 'varifocalLoss', 'asymmetricLoss'] as const) {
    const own = [...table.matchAll(/^\| `(\w+)` \| [^|]+ \| `(\w+)`:/gm)].filter((m) => m[2] === fn).map((m) => m[1]);
    const call = api[fn] as (l: Float32Array, t: number[], o: unknown) => unknown;
    const accepted = acceptedOptions(() => call(new Float32Array(1), [1], { bogus: 1 }));
    expect([...own, ...common].sort(), fn).toEqual(accepted);
  }
});

test('the family defaults are the documented ones', () => {
  const x = new Float64Array([1.5, -0.5, 0.25, 2, 0, -1]);
  const y = new Float64Array([0.8, 0, 0.3, 1, 0, 0.6]);
  expect(api.qualityFocalLoss(x, y)).toBe(api.qualityFocalLoss(x, y, { beta: 2, reduction: 'mean' }));
  expect(api.varifocalLoss(x, y)).toBe(api.varifocalLoss(x, y, { alpha: 0.75, gamma: 2, iouWeighted: true }));
  expect(api.asymmetricLoss(x, y)).toBe(
    api.asymmetricLoss(x, y, { gammaPos: 1, gammaNeg: 4, clip: 0.05, detachFocalWeight: false }),
  );
  expect(api.asymmetricLoss(x, y)).not.toBe(api.asymmetricLoss(x, y, { clip: 0 }));
});
