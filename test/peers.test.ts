// The peers' own numbers (test/vectors/peers/peers.json, README.md there): values copied from the test suites
// of mmcv, mmpretrain, optax, kornia and Keras, and values computed with mpmath from formulas quoted from
// mmdetection, timm / the ASL authors, torchvision and kornia. For every case the package must reproduce
// (a) this package's definition at 50 digits, within the vectors' tolerance, and (b) the peer's number within
// the peer's own tolerance wherever the semantics coincide (`check.package_within_peer_tolerance`); the cases
// marked -DIFFERS document where a peer's semantics differ (an eps clamp, another soft-target formula).
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import * as api from 'focal-loss';
import { functionsOf, KINDS, type FocalApi, type Kind } from './helpers/vectors';

interface PeerCase {
  id: string;
  kind: Kind;
  transcribed: boolean;
  inputs: {
    logits: (number | string)[];
    targets?: number[];
    scores?: number[];
    target_probabilities?: number[];
    shape?: number[];
    /** How the targets are given: 'class indices …', 'dense …', 'probability targets …'. */
    target_form?: string;
  };
  options: Record<string, unknown>;
  expected: { peer: Record<string, unknown>; package: Record<string, unknown> };
  peer_tolerance?: { rtol?: number; atol?: number };
  check: Record<string, boolean>;
}

const peers: { cases: PeerCase[] } = JSON.parse(
  readFileSync(new URL('./vectors/peers/peers.json', import.meta.url), 'utf8'),
);
const num = (v: unknown): number => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === 'nan' ? NaN : Number(v));
const nums = (v: unknown): number[] => (v as unknown[]).map(num);

/** The package call a case describes (float64). */
function run(c: PeerCase, extra: Record<string, unknown> = {}) {
  const f = functionsOf(api as unknown as FocalApi, c.kind);
  const logits = Float64Array.from(nums(c.inputs.logits));
  const options: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c.options)) {
    if (k === 'alpha' && v === null && c.kind === 'softmax') continue; // none
    options[k] = Array.isArray(v) && k !== 'shape' ? Float64Array.from(v as number[]) : v;
  }
  Object.assign(options, extra);
  const indices = c.kind === 'softmax' || c.inputs.target_form?.startsWith('class indices');
  const targets = c.inputs.target_probabilities
    ? Float64Array.from(c.inputs.target_probabilities)
    : c.inputs.scores
      ? Float64Array.from(c.inputs.scores)
      : indices
        ? Int32Array.from(c.inputs.targets!)
        : Float64Array.from(c.inputs.targets!);
  return f.withGrad(logits, targets, options);
}

const within = (got: number, want: number, rtol: number, atol: number) =>
  Math.abs(got - want) <= atol + rtol * Math.abs(want) || (Number.isNaN(got) && Number.isNaN(want)) || got === want;

/**
 * Every entry within atol + rtol·|want|; `floor` (a fraction) adds rtol·floor·max|want| to atol — the 50-digit
 * check's scale for entries far below the largest of their array (a gradient entry that is a small difference of
 * terms the size of the others), since the peers' files give no per-entry scale.
 */
function expectClose(
  got: ArrayLike<number> | number,
  want: ArrayLike<number> | number,
  rtol: number,
  atol: number,
  what: string,
  floor = 0,
) {
  const g = typeof got === 'number' ? [got] : Array.from(got);
  const w = typeof want === 'number' ? [want] : Array.from(want);
  expect(g.length, what).toBe(w.length);
  const largest = Math.max(0, ...w.filter(Number.isFinite).map(Math.abs));
  for (let i = 0; i < w.length; i++)
    expect(within(g[i], w[i], rtol, atol + rtol * floor * largest), `${what}[${i}]: ${g[i]} vs ${w[i]}`).toBe(true);
}

/** The package's outputs under the names the file uses. */
function outputs(c: PeerCase): Record<string, number | ArrayLike<number>> {
  const reduced = run(c);
  const none = run(c, { reduction: 'none', normalizer: undefined });
  const sum = run(c, { reduction: 'sum', normalizer: undefined });
  const losses = none.loss as Float64Array;
  const rows = c.inputs.shape?.[0] ?? 1;
  const perRow = losses.length / rows;
  const out: Record<string, number | ArrayLike<number>> = {
    loss: reduced.loss as number | Float64Array,
    grad: reduced.grad,
    loss_none: losses,
    grad_of_sum: sum.grad,
    row_means_of_loss_none: Array.from(
      { length: rows },
      (_, r) => losses.subarray(r * perRow, (r + 1) * perRow).reduce((a, v) => a + v, 0) / perRow,
    ),
  };
  if (c.kind === 'asymmetric') out.grad_detachFocalWeight = run(c, { detachFocalWeight: true }).grad;
  return out;
}

describe.each(peers.cases.map((c) => [c.id, c] as const))('%s', (_id, c) => {
  test('matches this package’s definition at 50 digits', () => {
    const got = outputs(c);
    for (const [key, want] of Object.entries(c.expected.package)) {
      expect(got[key], `${key} is produced`).toBeDefined();
      expectClose(got[key], Array.isArray(want) ? nums(want) : num(want), 1e-10, 1e-300, key, 1e-3);
    }
  });

  const tol = c.peer_tolerance ?? { rtol: 1e-6, atol: 1e-8 };
  if (c.check.package_within_peer_tolerance) {
    test(`reproduces the peer’s ${c.transcribed ? 'tested' : 'formula’s'} numbers within its tolerance`, () => {
      const got = outputs(c);
      const peerKeys: Record<string, string> = {
        loss: 'loss',
        grad: 'grad',
        loss_none: 'loss_none',
        loss_per_sample: 'row_means_of_loss_none',
        loss_per_row: 'loss_none',
      };
      let compared = 0;
      for (const [key, ours] of Object.entries(peerKeys)) {
        const want = c.expected.peer[key]; // a number copied from a test, or a 50-digit string computed from a formula
        if (typeof want !== 'number' && typeof want !== 'string' && !Array.isArray(want)) continue;
        expectClose(
          got[ours],
          Array.isArray(want) ? nums(want) : num(want),
          tol.rtol ?? 0,
          tol.atol ?? 0,
          `peer ${key}`,
        );
        compared++;
      }
      expect(compared).toBeGreaterThan(0);
    });
  }
});

test('the file covers every peer and every family member', () => {
  expect(peers.cases.length).toBeGreaterThan(60);
  expect(new Set(peers.cases.map((c) => c.kind))).toEqual(new Set(KINDS));
  expect(peers.cases.filter((c) => c.transcribed).length).toBeGreaterThan(50);
});
