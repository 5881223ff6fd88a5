// The peers' vectors (test/vectors/peers/peers.json) in the shape of the shared vectors' cases, so every
// runtime's harness checks them like the mpmath cases (f64: their inputs are binary64 values). The expected
// values are this package's definition at 50 digits (`expected.package`); the peers' own numbers are checked
// in Node by test/peers.test.ts. Pure code: the runtime fixture (test/runtimes/fixture.ts) calls it.

interface PeerCase {
  id: string;
  kind: string;
  inputs: {
    logits: unknown[];
    targets?: number[];
    scores?: number[];
    target_probabilities?: number[];
    target_form?: string;
  };
  options: Record<string, unknown>;
  expected: { package: Record<string, unknown> };
}

/** A 50-digit decimal string as the nearest double; 'inf' / '-inf' / 'nan' and numbers as they are. */
const double = (v: unknown) => (typeof v === 'string' && !['inf', '-inf', 'nan'].includes(v) ? Number(v) : v);
const doubles = (v: unknown) => (Array.isArray(v) ? v.map(double) : double(v));

/**
 * A gradient entry's tolerance scale: its magnitude, and at least 1e-3 of its array's largest (the peers give
 * no per-entry scale; an entry far below the others is a small difference of terms their size).
 */
function scales(grad: unknown[]): unknown[] {
  const values = grad.map(Number);
  const largest = Math.max(0, ...values.filter(Number.isFinite).map(Math.abs));
  return values.map((g) => (Number.isFinite(g) ? Math.max(Math.abs(g), 1e-3 * largest) : 'nan'));
}

/** The peers' cases that pin a gradient, as vectors.json cases (raw JSON form, numbers as the file writes them). */
export function peerVectors(json: { cases: PeerCase[] }): object[] {
  return json.cases
    .filter((c) => c.expected.package.grad ?? c.expected.package.grad_of_sum)
    .map((c) => {
      const { classes, shape, ...options } = c.options as { classes?: number; shape?: number[] } & Record<
        string,
        unknown
      >;
      if (c.kind === 'softmax' && options.alpha === null) delete options.alpha; // none
      const indices =
        c.kind === 'softmax'
          ? !c.inputs.target_probabilities
          : (c.inputs.target_form?.startsWith('class indices') ?? false);
      const pkg = c.expected.package;
      const reduction = (options.reduction as string | undefined) ?? 'mean';
      const loss = doubles(reduction === 'none' ? pkg.loss_none : pkg.loss);
      const grad = doubles(pkg.grad ?? pkg.grad_of_sum) as unknown[];
      const n = c.inputs.logits.length;
      const C = classes ?? shape?.[1] ?? 1;
      const targets = c.inputs.target_probabilities ?? c.inputs.scores ?? c.inputs.targets ?? [];
      const ignore = (options.ignoreIndex as number | undefined) ?? -100;
      const counted = indices ? targets.filter((t) => t !== ignore).length : 0;
      const count = c.kind === 'softmax' ? (indices ? counted : n / C) : indices ? counted * C : n;
      return {
        name: `peer/${c.id}`,
        kind: c.kind,
        dtypes: ['f64'],
        logits: c.inputs.logits,
        ...(classes !== undefined ? { classes } : {}),
        ...(shape !== undefined ? { shape } : {}),
        ...(c.kind === 'softmax' && !indices ? { probs: targets } : { targets }),
        ...(c.kind !== 'softmax' ? { targetKind: indices ? 'indices' : 'dense' } : {}),
        options,
        expected: { loss, grad, grad_scale: scales(grad), count },
      };
    });
}
