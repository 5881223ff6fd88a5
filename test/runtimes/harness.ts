// Runs inside every runtime under test (bundled by test/runtimes/fixture.ts with esbuild): checks
// every case of the shared vectors in each of its dtypes against the 60-digit references
// (test/helpers/vectors.ts), and hashes the exact bits of every result so the Node test can assert
// that all runtimes return bit-identical losses and gradients. Pure code: no runtime APIs.
import {
  caseArguments,
  evaluateCase,
  formatMismatches,
  functionsOf,
  parseVectors,
  type FloatArray,
  type FocalApi,
} from '../helpers/vectors';

export interface RuntimeReport {
  /** Number of (case, dtype) pairs checked against the references. */
  checked: number;
  /** Formatted mismatches (at most 50), [] when every value is within tolerance. */
  mismatches: string[];
  /** `${case} [${dtype}]` → hash of the bits of loss and gradient (withGrad) and loss (loss-only). */
  digests: Record<string, string>;
}

/** A 64-bit FNV-1a-style hash (two 32-bit lanes) over the bits of numbers; every NaN hashes alike. */
class Hasher {
  private a = 0x811c9dc5;
  private b = 0x01000193 ^ 0x5bd1e995;
  private readonly f64 = new Float64Array(1);
  private readonly u32 = new Uint32Array(this.f64.buffer);
  private word(w: number): void {
    this.a = Math.imul(this.a ^ w, 0x01000193) >>> 0;
    this.b = Math.imul(this.b ^ (w >>> 16) ^ (w << 16), 0x5bd1e995) >>> 0;
  }
  values(v: number | FloatArray): void {
    if (typeof v === 'number') return this.number(v, 64);
    this.word(v.length);
    const bits = v instanceof Float32Array ? 32 : 64;
    for (let i = 0; i < v.length; i++) this.number(v[i], bits);
  }
  private number(x: number, bits: 32 | 64): void {
    if (Number.isNaN(x)) return this.word(0x7ff80000 ^ bits);
    this.f64[0] = x; // a float32 widens exactly, so its double bits identify it
    this.word(this.u32[0]);
    this.word(this.u32[1]);
  }
  hex(): string {
    return this.a.toString(16).padStart(8, '0') + this.b.toString(16).padStart(8, '0');
  }
}

/** Deterministic inputs larger than the 256 KiB scratch area (several chunks per call). */
function bigCases(): { name: string; run: (api: FocalApi) => Array<number | FloatArray> }[] {
  let s = 0x12345678;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const rows = 40_000,
    C = 10;
  const logits = Array.from({ length: rows * C }, () => (next() - 0.5) * 24);
  const classes = Int32Array.from({ length: rows }, () => Math.floor(next() * C));
  const y = Array.from({ length: 150_000 }, () => (next() < 0.3 ? 1 : next() < 0.5 ? 0 : next()));
  const x = Array.from({ length: y.length }, () => (next() - 0.5) * 40);
  const out: { name: string; run: (api: FocalApi) => Array<number | FloatArray> }[] = [];
  for (const F of [Float32Array, Float64Array]) {
    out.push({
      name: `big/softmax ${rows}x${C} ${F.name}`,
      run: (api) => {
        const r = api.softmaxFocalLossWithGrad(F.from(logits), classes, {
          classes: C,
          gamma: 1.5,
          alpha: 0.5,
          reduction: 'mean',
        });
        const n = api.softmaxFocalLoss(F.from(logits), classes, { classes: C, gamma: 0.5, reduction: 'none' });
        return [r.loss, r.grad, n];
      },
    });
    out.push({
      name: `big/sigmoid ${y.length} ${F.name}`,
      run: (api) => {
        const r = api.sigmoidFocalLossWithGrad(F.from(x), F.from(y), { gamma: 2, reduction: 'sum' });
        const n = api.sigmoidFocalLoss(F.from(x), F.from(y), { gamma: 0.25, alpha: null, reduction: 'none' });
        return [r.loss, r.grad, n];
      },
    });
  }
  return out;
}

/** Checks every case in every dtype it lists, and hashes every result. */
export function runVectors(api: FocalApi, vectorsJson: unknown): RuntimeReport {
  const report: RuntimeReport = { checked: 0, mismatches: [], digests: {} };
  for (const c of parseVectors(vectorsJson)) {
    for (const dtype of c.dtypes) {
      const key = `${c.name} [${dtype}]`;
      const bad = evaluateCase(api, c, dtype).mismatches;
      report.checked++;
      if (bad.length && report.mismatches.length < 50) report.mismatches.push(formatMismatches(bad.slice(0, 3)));
      const h = new Hasher();
      try {
        const [logits, targets, options] = caseArguments(c, dtype);
        const { withGrad, loss: lossOnly } = functionsOf(api, c.kind);
        const r = withGrad(logits, targets, options);
        h.values(r.loss);
        h.values(r.grad);
        h.values(lossOnly(logits, targets, options));
        report.digests[key] = h.hex();
      } catch (error) {
        report.digests[key] = `threw ${String(error)}`;
      }
    }
  }
  for (const b of bigCases()) {
    const h = new Hasher();
    for (const v of b.run(api)) h.values(v);
    report.digests[b.name] = h.hex();
  }
  return report;
}

/** The error the API throws when called before the module is loaded (null if it does not throw). */
export function errorBeforeInit(api: FocalApi): string | null {
  try {
    api.sigmoidFocalLoss(new Float32Array([1]), new Float32Array([1]));
    return null;
  } catch (error) {
    return String(error);
  }
}
