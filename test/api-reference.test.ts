// The README's API reference and CONTRACT.md are written by hand; this keeps them honest. README:
// every function the package exports is listed in its API block (and nothing else is), and the option
// tables name exactly the options each loss accepts (read back from the facade's own unknown-option
// error). CONTRACT.md: see the describe block at the end.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import * as api from 'focal-loss';
import { focalLoss } from 'focal-loss/tfjs';
import { ALIASES, FAMILY, NOT_PARTIAL, SHARED_DEFAULTS, type LossName, type ParamSpec } from '../ts/family';
import { PROBABILITY_SUM_TOLERANCE } from '../ts/options';
import { RTOL, TINY } from './helpers/vectors';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The text of `heading` in `doc`, up to the next heading of level 2 or 3. */
function sectionOf(doc: string, heading: string): string {
  const start = doc.indexOf(`\n${heading}\n`);
  expect(start, heading).toBeGreaterThan(0);
  const rest = doc.slice(start + heading.length + 2);
  const end = rest.search(/\n#{2,3} /);
  return end < 0 ? rest : rest.slice(0, end);
}
const section = (heading: string) => sectionOf(readme, heading);

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

test('the family table names exactly the own options of each element-wise loss but the sigmoid', () => {
  const table = section('### Quality focal, varifocal and asymmetric options');
  const common = ['classes', 'shape', 'targetForm', 'ignoreIndex', 'weights', 'reduction', 'normalizer', 'out'];
  // Every element-wise loss but the sigmoid, which has its own table.
  const fns = (Object.keys(FAMILY) as LossName[])
    .filter((n) => FAMILY[n].kernel === 'elementwise' && n !== 'sigmoid')
    .map((n) => FAMILY[n].fn as 'qualityFocalLoss');
  expect(fns.length).toBeGreaterThanOrEqual(3);
  for (const fn of fns) {
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

// CONTRACT.md is the one home of the rules; this keeps it from drifting from the code. Each check reads
// a statement of CONTRACT.md and compares it with the code's own source of that fact: the family's
// descriptors (ts/family.ts: option keys, defaults, kinds), the exported functions, the probability-sum
// tolerance, the ignore index, the shape limit, the accepted aliases, the partials' refused options, the
// enforced tolerances (test/helpers/vectors.ts), the example messages (produced here by real calls) and
// the files it cites. Every parse asserts that it found what it looks for, so a reworded CONTRACT fails
// here instead of checking nothing.
describe('CONTRACT.md says what the code does', () => {
  const contract = readFileSync(new URL('../CONTRACT.md', import.meta.url), 'utf8');
  const part = (heading: string) => sectionOf(contract, heading);

  /** A documented default as CONTRACT's tables write it: `'mean'`, a number, none (no value) or — (required). */
  const shown = (v: unknown) =>
    v === undefined ? '—' : v === null ? 'none' : typeof v === 'string' ? `\`'${v}'\`` : String(v);
  /** loss N's default of option `key`: its own parameter's, or the shared one's. */
  const defaultOf = (n: LossName, key: string): unknown => {
    const own = (FAMILY[n].params as readonly ParamSpec[]).find((p) => p.key === key);
    return own ? own.default : SHARED_DEFAULTS[key as keyof typeof SHARED_DEFAULTS];
  };
  /** `option → default` of an options table (a row may name several options: `classes`, `shape`). */
  const tableDefaults = (text: string) => {
    const rows = [...text.matchAll(/^\| ((?:`\w+`(?:, )?)+) \| ([^|]+) \|/gm)];
    return Object.fromEntries(
      rows.flatMap((m) => [...m[1].matchAll(/`(\w+)`/g)].map((k) => [k[1], m[2].trim()] as const)),
    );
  };

  test('the API block lists every exported function, and only those', () => {
    const block = /```ts\n([\s\S]*?)```/.exec(part('## API'))![1];
    const exported = Object.entries(api)
      .filter(([, v]) => typeof v === 'function')
      .map(([k]) => k);
    expect(exported.length).toBeGreaterThan(15);
    // The family's twins are written "qualityFocalLoss / … and their *WithGrad twins".
    const twins = /([\w /]+)\(logits, targets, options\?\) and their \*WithGrad twins/.exec(block);
    expect(twins).not.toBeNull();
    const twinned = twins![1].split(' / ').map((s) => `${s.trim()}WithGrad`);
    const named = new Set([...[...block.matchAll(/\b([a-z]\w+)\b/g)].map((m) => m[1]), ...twinned]);
    for (const f of exported) expect(named.has(f), `CONTRACT's API block does not name ${f}`).toBe(true);
    const called = [...block.matchAll(/^\s*(\w+)(?: \/ \w+)*\(/gm)].map((m) => m[1]);
    const listed = [...block.matchAll(/^(\w+(?:, \w+)*)\n\s+\(/gm)].flatMap((m) => m[1].split(', '));
    for (const f of [...called, ...listed]) expect(exported, `CONTRACT's API block names ${f}`).toContain(f);
  });

  for (const [n, heading] of [
    ['softmax', '### Softmax options'],
    ['sigmoid', '### Sigmoid options'],
  ] as const) {
    test(`§ ${heading.slice(4)}: the table's options and defaults are FAMILY.${n}'s`, () => {
      const documented = tableDefaults(part(heading));
      expect(Object.keys(documented).sort()).toEqual([...FAMILY[n].keys].sort());
      for (const key of FAMILY[n].keys) expect(documented[key], `${n} ${key}`).toBe(shown(defaultOf(n, key)));
    });
  }

  test("§ Detection and multi-label: each family member's own options and defaults are its descriptor's", () => {
    const text = part('## Detection and multi-label');
    const signatures = [...text.matchAll(/\*\*`(\w+)\(logits, \w+, \{ ([^}]*) \}\)`\*\*/g)];
    const byFn = Object.fromEntries(signatures.map((m) => [m[1], m[2]]));
    const members = (Object.keys(FAMILY) as LossName[]).filter((n) => n !== 'softmax' && n !== 'sigmoid');
    expect(members.length).toBeGreaterThanOrEqual(3);
    expect(Object.keys(byFn).sort()).toEqual(members.map((n) => FAMILY[n].fn).sort());
    for (const n of members) {
      const documented = Object.fromEntries(byFn[FAMILY[n].fn].split(', ').map((kv) => kv.split(' = ')));
      const own = FAMILY[n].params as readonly ParamSpec[];
      expect(Object.keys(documented), n).toEqual(own.map((p) => p.key).sort((a, b) => order(n, a) - order(n, b)));
      for (const p of own) expect(documented[p.key], `${n} ${p.key}`).toBe(String(p.default));
    }
    // The shared ignore index, written with a minus sign.
    expect(/`ignoreIndex` \(default (−?\d+)\)/.exec(text)?.[1].replace('−', '-')).toBe(
      String(SHARED_DEFAULTS.ignoreIndex),
    );
    // The adapter's kinds are the family.
    const kinds = /`kind` is one of ((?:`'\w+'`(?:, | or )?)+)/.exec(text);
    expect(kinds).not.toBeNull();
    expect([...kinds![1].matchAll(/'(\w+)'/g)].map((m) => m[1])).toEqual(Object.keys(FAMILY));
  });
  /** A key's place in loss n's message order (CONTRACT lists own options in that order). */
  const order = (n: LossName, key: string) => (FAMILY[n].keys as readonly string[]).indexOf(key);

  test('the probability-sum tolerance, the shape limit and the aliases are the code’s', () => {
    const tolerances = [...contract.matchAll(/sum to 1 (?:\*\*)?within (\d+(?:\.\d+)?(?:e-?\d+)?)/g)].map((m) =>
      Number(m[1]),
    );
    expect(tolerances).toHaveLength(2); // § Softmax options and § Departures 1
    for (const t of tolerances) expect(t).toBe(PROBABILITY_SUM_TOLERANCE);
    const limit = Number(/`shape` may have at most (\d+) dimensions/.exec(contract)?.[1]);
    expect(limit).toBe(64);
    const logits = new Float32Array(2);
    const dims = (k: number) => [2, 1, ...Array(k - 2).fill(1)];
    expect(api.softmaxFocalLoss(logits, [0, 0], { shape: dims(limit) })).toBeTypeOf('number');
    expect(() => api.softmaxFocalLoss(logits, [0, 0], { shape: dims(limit + 1) })).toThrow(
      new RangeError(`focal-loss: options.shape has ${limit + 1} dimensions, more than ${limit}`),
    );
    const hinted = /"did you mean" hint \(((?:`\w+`(?:,\s+)?)+)\)/.exec(
      part('## Departures from the upstream specification'),
    );
    expect(hinted).not.toBeNull();
    expect([...hinted![1].matchAll(/`(\w+)`/g)].map((m) => m[1]).sort()).toEqual(Object.keys(ALIASES).sort());
  });

  test('the options the partial functions refuse are NOT_PARTIAL, and each is refused', () => {
    const partials = part('### Partials');
    const departures = part('## Departures from the upstream specification');
    const refused = [
      ...(/options except `(\w+)`\s+and `(\w+)`/.exec(partials) ?? []).slice(1),
      /partial functions also refuse `(\w+)`/.exec(departures)![1],
    ];
    expect(refused.sort()).toEqual([...NOT_PARTIAL].sort());
    for (const key of refused) {
      expect(() => api.sigmoidFocalLossPartial(new Float32Array(1), [1], { [key]: undefined } as never)).toThrow(
        TypeError,
      );
    }
  });

  test("the tfjs adapter takes each kind's options except those CONTRACT says it refuses", () => {
    const detection = part('## Detection and multi-label');
    const departures = part('## Departures from the upstream specification');
    const except = /The options are those of the matching function except `(\w+)` and `(\w+)`/.exec(detection);
    const also = /adapter\*\* also refuses ((?:`\w+`(?:,? and |, )?)+)/.exec(departures);
    expect(except).not.toBeNull();
    expect(also).not.toBeNull();
    const refused = [except![1], except![2], ...[...also![1].matchAll(/`(\w+)`/g)].map((m) => m[1])];
    expect(refused).toHaveLength(5);
    for (const kind of Object.keys(FAMILY) as LossName[]) {
      for (const key of refused) {
        expect(() => focalLoss({ kind, [key]: undefined } as never), `${kind} ${key}`).toThrow(
          `focal-loss/tfjs: focalLoss does not take option '${key}'`,
        );
      }
      let listed = '';
      try {
        focalLoss({ kind, bogus: 1 } as never);
      } catch (error) {
        listed = /options are (.*)$/.exec((error as Error).message)?.[1] ?? '';
      }
      const accepted = FAMILY[kind].keys.filter((k) => !refused.includes(k));
      expect(listed.split(', '), kind).toEqual(['kind', 'fromLogits', ...accepted]);
    }
  });

  test('§ Accuracy: the enforced tolerances are test/helpers/vectors.ts’s', () => {
    const accuracy = part('## Accuracy');
    const rtol = /rtol is \*\*([\d.e-]+) for Float64\*\* and \*\*([\d.e-]+) for Float32\*\*/.exec(accuracy);
    expect(rtol).not.toBeNull();
    expect([Number(rtol![1]), Number(rtol![2])]).toEqual([RTOL.f64, RTOL.f32]);
    const tiny = /smallest normal number: ([\d.e-]+) for Float64 and ([\d.e-]+) for\s+Float32/.exec(accuracy);
    expect(tiny).not.toBeNull();
    expect([Number(tiny![1]), Number(tiny![2])]).toEqual([TINY.f64, TINY.f32]);
    const departed = /hold Float64 to ([\d.e-]+) and Float32 to ([\d.e-]+) relative/.exec(contract);
    expect(departed).not.toBeNull();
    expect([Number(departed![1]), Number(departed![2])]).toEqual([RTOL.f64, RTOL.f32]);
  });

  test('every example message is the one a real call throws', () => {
    const f32 = (n: number) => new Float32Array(n);
    /** Each message CONTRACT quotes, and a call that must throw exactly it (… stands for the rest). */
    const calls: Record<string, () => unknown> = {
      'focal-loss: targets[17] = 12 is not a class index in [0, 10) or ignoreIndex -100': () =>
        api.softmaxFocalLoss(
          f32(180),
          Array.from({ length: 18 }, (_, i) => (i === 17 ? 12 : 0)),
          { classes: 10 },
        ),
      'focal-loss: options.weights[3] = -1 must be a finite number >= 0': () =>
        api.softmaxFocalLoss(f32(4), [0, 0, 0, 0], { classes: 1, weights: [1, 1, 1, -1] }),
      'focal-loss: options.out.length = 5 must equal logits.length = 6': () =>
        api.sigmoidFocalLossWithGrad(f32(6), f32(6), { out: f32(5) }),
      "focal-loss: softmaxFocalLoss has no option 'ignore_index' (did you mean ignoreIndex?); options are …": () =>
        api.softmaxFocalLoss(f32(2), [0], { classes: 2, ignore_index: -1 } as never),
    };
    const quoted = [...contract.matchAll(/`(focal-loss(?:\/tfjs)?: [^`]+)`/g)].map((m) => m[1]);
    expect(quoted.length).toBeGreaterThanOrEqual(4);
    expect(quoted.sort()).toEqual(Object.keys(calls).sort());
    for (const [message, call] of Object.entries(calls)) {
      let thrown: unknown;
      try {
        call();
      } catch (error) {
        thrown = error;
      }
      expect(thrown, message).toBeInstanceOf(Error);
      const got = (thrown as Error).message;
      if (message.endsWith('…')) expect(got.startsWith(message.slice(0, -1)), got).toBe(true);
      else expect(got).toBe(message);
    }
  });

  test('every file of the repository CONTRACT cites exists', () => {
    const cited = [
      ...new Set([...contract.matchAll(/`((?:crate|ts|test|bench|scripts)\/[\w./-]+\.\w+)`/g)].map((m) => m[1])),
    ];
    expect(cited.length).toBeGreaterThanOrEqual(5);
    for (const path of cited) expect(existsSync(new URL(`../${path}`, import.meta.url)), path).toBe(true);
  });
});
