// The family: one descriptor per loss, the one place a loss is spelled on the TypeScript side. Each
// entry says the loss's name (the tfjs adapter's `kind`), its public function, its kernel and kernel
// kind, its option keys in the order messages list them, and its own parameters: default, rule and
// the header field each is written into. From it come index.ts's exports (elementFunctions), the
// option keys ts/options.ts validates against and reads (its masks and read-once record), abi.ts's
// LossKind, the tfjs adapter's kinds and options, the test helpers, and test/api-reference.test.ts's
// check of CONTRACT.md. Adding a loss: HACKING.md.
//
// Plain data with type-only imports, so the tfjs adapter's bundle carries only this.

import type { Flag, HeaderField } from './abi.js';

export type FloatArray = Float32Array | Float64Array;
export type Reduction = 'mean' | 'sum' | 'none';

/** Options every loss shares. */
interface CommonOptions<L extends FloatArray> {
  /** 'mean' (default): sum over counted items / their number; 'sum'; 'none': one value per item (element). */
  reduction?: Reduction;
  /** Replaces the 'mean' divisor (RetinaNet's number of positive anchors; mmdet's avg_factor): Σ w·l / normalizer. Only with 'mean'. */
  normalizer?: number;
  /** Receives the gradient (the logits' type and length); no allocation. */
  out?: L | null;
}

/** Options every element-wise (sigmoid) loss shares: dense targets, or class indices with `classes` / `shape`. */
export interface ElementOptions<L extends FloatArray = FloatArray> extends CommonOptions<L> {
  /** C: logits [M, C]; with it, integer targets are class indices (t = C is background). */
  classes?: number;
  /** [N, C, ...spatial], channels-first; with it, integer targets are class indices per position. */
  shape?: readonly number[];
  /**
   * What integer targets are: 'indices' (one class index per item, t = C background; needs `classes` / `shape`)
   * or 'dense' (one value in [0, 1] per logit). Without it, integer targets with `classes` / `shape` are class
   * indices, and with one class (C = 1, where either reading is possible) they are refused.
   */
  targetForm?: 'indices' | 'dense';
  /** Class-index targets equal to it add 0 and are not counted (default -100). */
  ignoreIndex?: number;
  /** One non-negative weight per element (dense targets) or per item (class-index targets). */
  weights?: ArrayLike<number> | null;
}

/**
 * How a parameter is checked (in the kernel's precision: float32 logits round it first) and read; the
 * messages are options.ts's:
 * - 'gamma': a number, finite and >= 0 (the number itself >= 0);
 * - 'nonNegative': a number, finite and >= 0 as the kernel sees it;
 * - 'belowOne': a number in [0, 1) as the kernel sees it;
 * - 'finite': any finite number;
 * - 'alphaOrOff': a number in [0, 1] (stored rounded), or null / -1 for "off" (stored as -1);
 * - 'perClass': a number as 'nonNegative', or one finite value >= 0 per class (an array, which goes to
 *   the header's per-class pointer: `alpha` for the softmax kernel, `pos_weight` for the element-wise one);
 * - 'flag': true or false, setting a bit of the header's `flags`.
 */
export type ParamRule = 'gamma' | 'nonNegative' | 'belowOne' | 'finite' | 'alphaOrOff' | 'perClass' | 'flag';

/** The header's scalar fields a parameter can be written into (crate/src/ffi.rs CallHeader). */
export type ScalarField = Extract<
  HeaderField,
  'alpha_scalar' | 'gamma' | 'gamma_neg' | 'beta' | 'clip' | 'pos_weight_scalar' | 'poly_epsilon' | 'label_smoothing'
>;

/** One of a loss's own parameters, in the order the loss validates them. */
export type ParamSpec<K extends string = string> =
  | {
      readonly key: K;
      readonly rule: Exclude<ParamRule, 'flag'>;
      /** The value when the option is not given; null: none (for 'perClass': the kernel then reads 1). */
      readonly default: number | null;
      readonly field: ScalarField;
    }
  | { readonly key: K; readonly rule: 'flag'; readonly default: boolean; readonly flag: keyof typeof Flag };

/** A loss: everything about it that is not code shared by the family. */
export interface LossDescriptor<O = Record<string, unknown>> {
  /** Its public function; `${fn}WithGrad` and `${fn}Partial` are its twins. */
  readonly fn: string;
  /** Which kernel computes it (focal_softmax_* or focal_elementwise_*). */
  readonly kernel: 'softmax' | 'elementwise';
  /**
   * Its header `loss_kind` (element-wise kernel): `name` is an entry `Name = module` of crate/src/family/mod.rs's
   * `element_losses!` list, `code` that module's `KIND`.
   */
  readonly kind: { readonly name: string; readonly code: number } | null;
  /** Every option key, in the order messages list them. */
  readonly keys: readonly (keyof O & string)[];
  /** Its own parameters (the shared options are options.ts's code), in the order they are validated. */
  readonly params: readonly ParamSpec<keyof O & string>[];
}

/** A descriptor of options type O (`O` is carried for the types derived from it; nothing holds a value). */
const describeLoss =
  <O>() =>
  <const D extends LossDescriptor<O>>(d: D): D & { readonly optionsType?: O } =>
    d;

/** The options every element-wise loss takes besides its own, in the order messages list them. */
const ELEMENT_KEYS = [
  'classes',
  'shape',
  'targetForm',
  'ignoreIndex',
  'weights',
  'reduction',
  'normalizer',
  'out',
] as const;

/** The shared options' defaults (their checks are options.ts's code): undefined means required / no default, null none. */
export const SHARED_DEFAULTS = {
  classes: undefined,
  shape: undefined,
  targetForm: undefined,
  reduction: 'mean',
  ignoreIndex: -100,
  normalizer: null,
  weights: null,
  out: null,
} as const satisfies Record<(typeof ELEMENT_KEYS)[number], unknown>;

// The losses: each one's options interface and its descriptor, which must name the same keys (KEYS_MATCH).

/** Options of the softmax (multi-class) focal loss. */
export interface SoftmaxFocalOptions<L extends FloatArray = FloatArray> extends CommonOptions<L> {
  /** C, for row-major logits of shape [M, C] (classes contiguous, channels-last). */
  classes?: number;
  /** [N, C, ...spatial], channels-first like PyTorch; targets are then [N, ...spatial]. */
  shape?: readonly number[];
  /** Focusing parameter γ ≥ 0 (default 2); 0 is exactly (weighted) cross-entropy. */
  gamma?: number;
  /** A weight for every class, or one per class (length C); none means 1. */
  alpha?: number | ArrayLike<number> | null;
  /** Items whose target equals it add 0 and are not counted by 'mean' (default -100). */
  ignoreIndex?: number;
  /** ε in [0, 1): target distribution q ← (1 − ε)·q + ε/C (default 0). */
  labelSmoothing?: number;
  /** Poly-1's ε (default 0): each target term gains ε·(1 − p)^(γ+1). */
  polyEpsilon?: number;
  /** One non-negative weight per item (row or position), multiplying that item's loss. */
  weights?: ArrayLike<number> | null;
}

const softmax = describeLoss<SoftmaxFocalOptions>()({
  fn: 'softmaxFocalLoss',
  kernel: 'softmax',
  kind: null,
  keys: [
    'classes',
    'shape',
    'gamma',
    'alpha',
    'reduction',
    'ignoreIndex',
    'labelSmoothing',
    'polyEpsilon',
    'normalizer',
    'weights',
    'out',
  ],
  params: [
    { key: 'gamma', rule: 'gamma', default: 2, field: 'gamma' },
    { key: 'labelSmoothing', rule: 'belowOne', default: 0, field: 'label_smoothing' },
    { key: 'polyEpsilon', rule: 'finite', default: 0, field: 'poly_epsilon' },
    { key: 'alpha', rule: 'perClass', default: null, field: 'alpha_scalar' },
  ],
});

/** Options of the sigmoid (binary, multi-label) focal loss. */
export interface SigmoidFocalOptions<L extends FloatArray = FloatArray> extends ElementOptions<L> {
  /** Focusing parameter γ ≥ 0 (default 2). */
  gamma?: number;
  /** α in [0, 1] weights positives, 1 − α negatives (default 0.25); null or -1 turns it off. */
  alpha?: number | null;
  /** ε in [0, 1): y ← y·(1 − ε) + ε/2 (default 0). */
  labelSmoothing?: number;
  /** The positive term's weight (BCEWithLogits pos_weight): a number, or one per class with `classes` / `shape`. */
  posWeight?: number | ArrayLike<number> | null;
  /** Poly-1's ε (default 0): each element gains ε·(1 − p_t)^(γ+1). */
  polyEpsilon?: number;
}

const sigmoid = describeLoss<SigmoidFocalOptions>()({
  fn: 'sigmoidFocalLoss',
  kernel: 'elementwise',
  kind: { name: 'Focal', code: 0 },
  keys: ['gamma', 'alpha', 'labelSmoothing', 'posWeight', 'polyEpsilon', ...ELEMENT_KEYS],
  params: [
    { key: 'alpha', rule: 'alphaOrOff', default: 0.25, field: 'alpha_scalar' },
    { key: 'gamma', rule: 'gamma', default: 2, field: 'gamma' },
    { key: 'labelSmoothing', rule: 'belowOne', default: 0, field: 'label_smoothing' },
    { key: 'polyEpsilon', rule: 'finite', default: 0, field: 'poly_epsilon' },
    { key: 'posWeight', rule: 'perClass', default: 1, field: 'pos_weight_scalar' },
  ],
});

/** Options of the quality focal loss (GFL). */
export interface QualityFocalOptions<L extends FloatArray = FloatArray> extends ElementOptions<L> {
  /** β ≥ 0 (default 2): the weight |y − σ(x)|^β. */
  beta?: number;
}

const quality = describeLoss<QualityFocalOptions>()({
  fn: 'qualityFocalLoss',
  kernel: 'elementwise',
  kind: { name: 'Quality', code: 1 },
  keys: ['beta', ...ELEMENT_KEYS],
  params: [{ key: 'beta', rule: 'nonNegative', default: 2, field: 'beta' }],
});

/** Options of the varifocal loss (VarifocalNet). */
export interface VarifocalOptions<L extends FloatArray = FloatArray> extends ElementOptions<L> {
  /** Weight of the negatives' focal term (default 0.75). */
  alpha?: number;
  /** γ ≥ 0 of the negatives' focal term (default 2). */
  gamma?: number;
  /** Weight positives by their target score q (default true). */
  iouWeighted?: boolean;
}

const varifocal = describeLoss<VarifocalOptions>()({
  fn: 'varifocalLoss',
  kernel: 'elementwise',
  kind: { name: 'Varifocal', code: 2 },
  keys: ['alpha', 'gamma', 'iouWeighted', ...ELEMENT_KEYS],
  params: [
    { key: 'alpha', rule: 'nonNegative', default: 0.75, field: 'alpha_scalar' },
    { key: 'gamma', rule: 'gamma', default: 2, field: 'gamma' },
    { key: 'iouWeighted', rule: 'flag', default: true, flag: 'IouWeighted' },
  ],
});

/** Options of the asymmetric loss (ASL). */
export interface AsymmetricOptions<L extends FloatArray = FloatArray> extends ElementOptions<L> {
  /** γ+ ≥ 0 of the positives (default 1). */
  gammaPos?: number;
  /** γ− ≥ 0 of the negatives (default 4). */
  gammaNeg?: number;
  /** Probability margin in [0, 1) shifted off the negatives (default 0.05). */
  clip?: number;
  /** Treat the focal factors as constants in the gradient (default false). */
  detachFocalWeight?: boolean;
}

const asymmetric = describeLoss<AsymmetricOptions>()({
  fn: 'asymmetricLoss',
  kernel: 'elementwise',
  kind: { name: 'Asymmetric', code: 3 },
  keys: ['gammaPos', 'gammaNeg', 'clip', 'detachFocalWeight', ...ELEMENT_KEYS],
  params: [
    { key: 'clip', rule: 'belowOne', default: 0.05, field: 'clip' },
    { key: 'gammaPos', rule: 'nonNegative', default: 1, field: 'gamma' },
    { key: 'gammaNeg', rule: 'nonNegative', default: 4, field: 'gamma_neg' },
    { key: 'detachFocalWeight', rule: 'flag', default: false, flag: 'DetachFocalWeight' },
  ],
});

/** The family, by name (the tfjs adapter's `kind`), in the order messages list the kinds. */
export const FAMILY = { softmax, sigmoid, quality, varifocal, asymmetric } as const;

export type LossName = keyof typeof FAMILY;
/** The losses of the element-wise kernel. */
export type ElementLossName = {
  [N in LossName]: (typeof FAMILY)[N]['kernel'] extends 'elementwise' ? N : never;
}[LossName];
/** The options interface of loss N. */
export type OptionsOf<N extends LossName> = NonNullable<(typeof FAMILY)[N]['optionsType']>;
/** Every option key of every loss. */
export type OptionKey = (typeof FAMILY)[LossName]['keys'][number];

// Compile-time tie between each descriptor's keys and its options interface: a key missing from
// either side makes `KEYS_MATCH` a type error that names the loss and the key.
type KeyMismatch<N extends LossName> = [
  Exclude<keyof OptionsOf<N>, (typeof FAMILY)[N]['keys'][number]>,
  Exclude<(typeof FAMILY)[N]['keys'][number], keyof OptionsOf<N>>,
] extends [never, never]
  ? never
  : {
      loss: N;
      notInKeys: Exclude<keyof OptionsOf<N>, (typeof FAMILY)[N]['keys'][number]>;
      notInInterface: Exclude<(typeof FAMILY)[N]['keys'][number], keyof OptionsOf<N>>;
    };
type Mismatches = { [N in LossName]: KeyMismatch<N> }[LossName];
export const KEYS_MATCH: [Mismatches] extends [never] ? true : Mismatches = true;

/** Options a partial function does not take (a partial is always the sum of item losses, with no gradient). */
export const NOT_PARTIAL: readonly string[] = ['reduction', 'out', 'normalizer'];

/** Spellings users bring from PyTorch / Keras, and ours (CONTRACT.md § Departures lists them). */
export const ALIASES: Readonly<Record<string, string>> = {
  ignore_index: 'ignoreIndex',
  label_smoothing: 'labelSmoothing',
  num_classes: 'classes',
  weight: 'weights',
  sample_weight: 'weights',
  from_logits: '(nothing: logits are always expected)',
  reduce: 'reduction',
};

/** The option a PyTorch / Keras spelling means (own entries only: 'toString' is no alias), or undefined. */
export function aliasOf(key: string): string | undefined {
  return Object.hasOwn(ALIASES, key) ? ALIASES[key] : undefined;
}
