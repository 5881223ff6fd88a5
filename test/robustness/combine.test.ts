// combineFocalPartials validates its input like every other function (a TypeError / RangeError naming
// parts, parts[i] or parts[i].<key>), and a valid list still combines exactly: shards' partials add up
// to the whole batch's correctly rounded sum, whatever the split and the order.
import { describe, expect, test } from 'vitest';
import {
  combineFocalPartials,
  sigmoidFocalLossPartial,
  softmaxFocalLoss,
  softmaxFocalLossPartial,
  type FocalPartial,
} from 'focal-loss';
import { fsum } from '../helpers/fsum';
import { expectPackageError, rng } from './helpers';
import { refSigmoid, refSoftmax } from '../reference';

const ok = { sum: 1.5, residual: 0, count: 3 };

describe('invalid parts', () => {
  test('a sum that is not a number: TypeError naming parts[i].sum', () => {
    expectPackageError(
      () => combineFocalPartials([{ sum: '1', residual: 0, count: 1 } as any]),
      TypeError,
      'parts[0].sum',
    );
    expectPackageError(
      () => combineFocalPartials([ok, { sum: null, residual: 0, count: 1 } as any]),
      TypeError,
      'parts[1].sum',
    );
    expectPackageError(
      () => combineFocalPartials([ok, ok, { residual: 0, count: 1 } as any]),
      TypeError,
      'parts[2].sum',
    );
    expectPackageError(
      () => combineFocalPartials([{ sum: 10n, residual: 0, count: 1 } as any]),
      TypeError,
      'parts[0].sum',
    );
  });

  test('a residual that is not a number: TypeError naming parts[i].residual', () => {
    expectPackageError(
      () => combineFocalPartials([{ sum: 1, residual: '0', count: 1 } as any]),
      TypeError,
      'parts[0].residual',
    );
    expectPackageError(
      () => combineFocalPartials([ok, { sum: 1, residual: Symbol('r'), count: 1 } as any]),
      TypeError,
      'parts[1].residual',
    );
  });

  test('a count that is not a non-negative integer: TypeError / RangeError naming parts[0].count', () => {
    expectPackageError(
      () => combineFocalPartials([{ sum: 1, residual: 0, count: '2' } as any]),
      TypeError,
      'parts[0].count',
    );
    expectPackageError(() => combineFocalPartials([{ sum: 1, residual: 0 } as any]), TypeError, 'parts[0].count');
    for (const count of [0.5, -1, NaN, Infinity, -Infinity]) {
      let thrown: unknown;
      try {
        combineFocalPartials([{ sum: 1, residual: 0, count }]);
      } catch (e) {
        thrown = e;
      }
      expect(thrown, `count ${count} was accepted`).toBeDefined();
      const e = thrown as Error;
      expect(e instanceof TypeError || e instanceof RangeError, `count ${count}: ${e}`).toBe(true);
      expect(e.constructor === TypeError || e.constructor === RangeError).toBe(true);
      expect(e.message.startsWith('focal-loss: '), e.message).toBe(true);
      expect(e.message, `count ${count}`).toContain('parts[0].count');
    }
  });

  test('a part that is not an object: TypeError naming parts[i]', () => {
    expectPackageError(() => combineFocalPartials([null as any]), TypeError, 'parts[0]');
    expectPackageError(() => combineFocalPartials([ok, undefined as any]), TypeError, 'parts[1]');
    expectPackageError(() => combineFocalPartials([ok, ok, 5 as any]), TypeError, 'parts[2]');
    expectPackageError(() => combineFocalPartials(['x' as any]), TypeError, 'parts[0]');
    const { proxy, revoke } = Proxy.revocable({ ...ok }, {});
    revoke();
    expectPackageError(() => combineFocalPartials([proxy]), TypeError, 'parts[0]');
  });

  test('not an iterable: TypeError naming parts', () => {
    for (const parts of [5, null, undefined, {}, { length: 1, 0: ok }, Symbol('p'), 10n, true, () => [ok]]) {
      expectPackageError(() => combineFocalPartials(parts as any), TypeError, 'parts');
    }
    const { proxy, revoke } = Proxy.revocable([ok], {});
    revoke();
    expectPackageError(() => combineFocalPartials(proxy), TypeError, 'parts');
  });

  test('printing a bad value never throws', () => {
    const nasty = {
      [Symbol.toPrimitive]() {
        throw new Error('user toPrimitive');
      },
    };
    expectPackageError(
      () => combineFocalPartials([{ sum: nasty, residual: 0, count: 1 } as any]),
      TypeError,
      'parts[0].sum',
    );
    expectPackageError(
      () => combineFocalPartials([{ sum: 1, residual: 0, count: Object.create(null) } as any]),
      TypeError,
      'parts[0].count',
    );
  });
});

describe('valid parts combine exactly', () => {
  const r = rng(0xc0);
  const M = 1000;
  const C = 5;
  const logits = Float64Array.from({ length: M * C }, () => (r() - 0.5) * 8);
  const targets = Int32Array.from({ length: M }, () => (r() < 0.2 ? -100 : Math.floor(r() * C)));

  /** Uneven shards: cut points drawn from the generator. */
  function shards(n: number, k: number, seed: number): [number, number][] {
    const g = rng(seed);
    const cuts = new Set<number>();
    while (cuts.size < k - 1) cuts.add(1 + Math.floor(g() * (n - 1)));
    const sorted = [0, ...[...cuts].sort((a, b) => a - b), n];
    return sorted.slice(1).map((end, i) => [sorted[i], end]);
  }

  test('softmax: Σ of 7 uneven shards = the whole batch (1e-15 relative), any order, nested', () => {
    const whole = softmaxFocalLossPartial(logits, targets, { classes: C });
    const parts = shards(M, 7, 1).map(([a, b]) =>
      softmaxFocalLossPartial(logits.subarray(a * C, b * C), targets.subarray(a, b), { classes: C }),
    );
    const combined = combineFocalPartials(parts);
    expect(Math.abs(combined.sum - whole.sum)).toBeLessThanOrEqual(1e-15 * whole.sum);
    expect(combined.count).toBe(whole.count);
    expect(combined.count).toBe(Array.from(targets).filter((t) => t !== -100).length);
    // Against the float64 reference: the exact sum of the item losses.
    const ref = fsum(refSoftmax(logits, targets, { classes: C }).losses);
    expect(Math.abs(combined.sum - ref)).toBeLessThanOrEqual(1e-12 * ref);
    expect(Math.abs(combined.mean - softmaxFocalLoss(logits, targets, { classes: C }))).toBeLessThanOrEqual(
      1e-13 * combined.mean,
    );
    // Any order, any iterable, and combining combined partials.
    const reversed = combineFocalPartials(new Set([...parts].reverse()));
    expect(reversed.sum).toBe(combined.sum);
    expect(reversed.residual).toBe(combined.residual);
    const nested = combineFocalPartials([
      combineFocalPartials(parts.slice(0, 3)),
      combineFocalPartials(parts.slice(3)),
    ] as FocalPartial[]);
    expect(Math.abs(nested.sum - combined.sum)).toBeLessThanOrEqual(1e-15 * combined.sum);
    expect(nested.count).toBe(combined.count);
    const generated = combineFocalPartials(
      (function* gen() {
        yield* parts;
      })(),
    );
    expect(generated.sum).toBe(combined.sum);
  });

  test('sigmoid: Σ of 5 uneven shards of a Float32Array batch = the whole batch', () => {
    const n = 30_000;
    const x = Float32Array.from({ length: n }, () => (r() - 0.5) * 10);
    const y = Float32Array.from({ length: n }, () => (r() < 0.3 ? 1 : 0));
    const whole = sigmoidFocalLossPartial(x, y, { alpha: 0.3 });
    const parts = shards(n, 5, 2).map(([a, b]) =>
      sigmoidFocalLossPartial(x.subarray(a, b), y.subarray(a, b), { alpha: 0.3 }),
    );
    const combined = combineFocalPartials(parts);
    expect(Math.abs(combined.sum - whole.sum)).toBeLessThanOrEqual(1e-15 * whole.sum);
    expect(combined.count).toBe(n);
    const ref = fsum(refSigmoid(Array.from(x), Array.from(y), { alpha: 0.3 }).losses);
    expect(Math.abs(combined.sum - ref)).toBeLessThanOrEqual(3e-5 * ref);
  });

  test('the empty list, and parts with a count of 0', () => {
    const empty = combineFocalPartials([]);
    expect([empty.sum, empty.residual, empty.count, empty.mean]).toEqual([0, 0, 0, 0]);
    expect(combineFocalPartials([{ sum: 0, residual: 0, count: 0 }]).mean).toBe(0);
  });

  test('after the throws above, a valid list still combines exactly', () => {
    try {
      combineFocalPartials([{ sum: '1', residual: 0, count: 1 } as any]);
    } catch {
      /* expected */
    }
    try {
      combineFocalPartials([null as any]);
    } catch {
      /* expected */
    }
    const a = { sum: 0.1, residual: 0, count: 1 };
    const b = { sum: 0.2, residual: 0, count: 2 };
    const c = combineFocalPartials([a, b]);
    expect(c.sum).toBe(fsum([0.1, 0.2]));
    expect(c.count).toBe(3);
  });
});

// Issue 17, findings 3, 7 and 9.
describe('huge or hostile lists of parts', () => {
  test('a holey array of length 2^32 − 1, or new Array(3e7): a TypeError naming parts[0], without copying the list first', () => {
    const p: unknown[] = [];
    p.length = 2 ** 32 - 1;
    const dense = new Array(3e7);
    const q: unknown[] = [ok, ok];
    q.length = 1e9;
    // The arrays above exist (new Array(3e7) is ~240 MB itself); the calls must add no list of their own.
    const before = process.memoryUsage().heapUsed;
    expectPackageError(() => combineFocalPartials(p as FocalPartial[]), TypeError, 'parts[0]');
    expectPackageError(() => combineFocalPartials(dense), TypeError, 'parts[0]');
    // A hole after valid parts is named where it is.
    expectPackageError(() => combineFocalPartials(q as FocalPartial[]), TypeError, 'parts[2]');
    // No list of 3e7 (or 2^32) entries was built: the heap grew by far less than one such list (≥ 240 MB).
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 2 ** 20);
  });

  test('an iterator that throws a revoked Proxy, an Error whose message getter throws, or a long message: a TypeError naming parts', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const badMessage = Object.defineProperty(new Error('x'), 'message', {
      get() {
        throw new Error('message getter');
      },
    });
    const throwing = (value: unknown) => ({
      [Symbol.iterator]: () => ({
        next() {
          throw value;
        },
      }),
    });
    for (const value of [proxy, badMessage, new Error('y'.repeat(100_000)), Symbol('s'), undefined]) {
      const e = expectPackageError(() => combineFocalPartials(throwing(value) as never), TypeError, 'parts');
      expect(e.message.length).toBeLessThan(300);
    }
    // A Symbol.iterator that is a revoked Proxy's getter, a next that is not a function, a result that is not an object.
    expectPackageError(
      () => combineFocalPartials({ [Symbol.iterator]: () => ({ next: 1 }) } as never),
      TypeError,
      'parts',
    );
    expectPackageError(
      () => combineFocalPartials({ [Symbol.iterator]: () => ({ next: () => 1 }) } as never),
      TypeError,
      'parts',
    );
    expectPackageError(() => combineFocalPartials({ [Symbol.iterator]: () => proxy } as never), TypeError, 'parts');
    // Parts from a generator are still read one by one, and a bad one is named by its position.
    function* gen() {
      yield ok;
      yield ok;
      yield { sum: 1, residual: 0, count: -1 };
    }
    expectPackageError(() => combineFocalPartials(gen()), RangeError, 'parts[2].count');
    expect(
      combineFocalPartials(
        (function* () {
          yield ok;
          yield ok;
        })(),
      ).count,
    ).toBe(6);
  });

  test('counts that add up past 2^53 − 1: a RangeError, not an imprecise count', () => {
    const big = { sum: 1, residual: 0, count: Number.MAX_SAFE_INTEGER };
    expectPackageError(() => combineFocalPartials([big, { sum: 1, residual: 0, count: 2 }]), RangeError, 'count');
    expectPackageError(
      () =>
        combineFocalPartials([
          { sum: 1, residual: 0, count: 2 ** 52 },
          { sum: 1, residual: 0, count: 2 ** 52 },
        ]),
      RangeError,
      'count',
    );
    // Right at the limit is fine, and can be fed back.
    const edge = combineFocalPartials([
      { sum: 1, residual: 0, count: Number.MAX_SAFE_INTEGER - 1 },
      { sum: 1, residual: 0, count: 1 },
    ]);
    expect(edge.count).toBe(Number.MAX_SAFE_INTEGER);
    expect(combineFocalPartials([edge]).count).toBe(Number.MAX_SAFE_INTEGER);
  });
});
