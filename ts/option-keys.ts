// The option keys of every loss, as data: ts/options.ts validates against them and the tfjs adapter
// (ts/tfjs.ts) lists and checks its options from them, instead of parsing the core's error messages.
// Plain data with no imports, so the adapter's bundle carries only this (and one lookup).

/** The options every element-wise loss takes besides its own. */
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

/** Every option of each loss, in the order messages list them. */
export const OPTION_KEYS = {
  softmax: [
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
  sigmoid: ['gamma', 'alpha', 'labelSmoothing', 'posWeight', 'polyEpsilon', ...ELEMENT_KEYS],
  quality: ['beta', ...ELEMENT_KEYS],
  varifocal: ['alpha', 'gamma', 'iouWeighted', ...ELEMENT_KEYS],
  asymmetric: ['gammaPos', 'gammaNeg', 'clip', 'detachFocalWeight', ...ELEMENT_KEYS],
} as const satisfies Record<string, readonly string[]>;

export type LossName = keyof typeof OPTION_KEYS;

/** Options a partial function does not take (a partial is always the sum of item losses, with no gradient). */
export const NOT_PARTIAL: readonly string[] = ['reduction', 'out', 'normalizer'];

/** Spellings users bring from PyTorch / Keras, and ours. */
const ALIASES: Readonly<Record<string, string>> = {
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
