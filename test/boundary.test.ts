// The wasm boundary written once per side, and a test for every place the two sides must agree:
// the status codes (every FocalError triggered through a raw kernel call, bypassing the TypeScript
// validation, and turned into its package error by abi.ts's one table), the loss kinds, the flags,
// the ABI version, and the constants both sides use (the probability-sum tolerance, the default
// ignore index). The Rust side is read from its sources (crate/src/lib.rs, crate/src/ffi.rs and, for the
// loss kinds, crate/src/family/: its list of losses and each module's `KIND`), so a
// code, kind or constant added or changed on one side only fails here.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import * as FL from 'focal-loss';
import {
  ABI_VERSION,
  Flag,
  HEADER_FIELDS,
  LossKind,
  readHeaderField,
  Status,
  STATUS_MESSAGES,
  statusError,
  writeHeader,
  type FocalExports,
  type Header,
} from '../ts/abi';
import { PROBABILITY_SUM_TOLERANCE } from '../ts/options';

const crate = (file: string) => readFileSync(new URL(`../crate/src/${file}`, import.meta.url), 'utf8');
const lib = crate('lib.rs');
const ffi = crate('ffi.rs');
const module = new WebAssembly.Module(
  readFileSync(new URL('../dist/focal_loss.wasm', import.meta.url)) as Uint8Array<ArrayBuffer>,
);

/**
 * `Name => KIND` of the element-wise losses: each entry `Name = module { … }` of the `element_losses!` list in
 * crate/src/family/mod.rs, with the `pub(crate) const KIND: u32 = N;` of crate/src/family/<module>.rs.
 */
function rustKinds(): Record<string, number> {
  const family = crate('family/mod.rs');
  const list = family.slice(family.indexOf('element_losses! {'));
  const entries = [...list.matchAll(/^ {4}(\w+) = (\w+) \{$/gm)];
  expect(entries.length).toBeGreaterThanOrEqual(4);
  return Object.fromEntries(
    entries.map(([, name, module]) => {
      const kind = /^pub\(crate\) const KIND: u32 = (\d+);$/m.exec(crate(`family/${module}.rs`));
      expect(kind, `crate/src/family/${module}.rs: KIND`).not.toBeNull();
      return [name, Number(kind?.[1])];
    }),
  );
}

/** SCREAMING_SNAKE (Rust constants) → PascalCase (the TypeScript tables' keys). */
const pascal = (s: string) => s.toLowerCase().replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());

/** `name => code` of FocalError::code in crate/src/lib.rs. */
function rustStatusCodes(): Record<string, number> {
  const body = lib.slice(lib.indexOf('pub fn code(self) -> i32'), lib.indexOf('pub fn index(self)'));
  const codes = Object.fromEntries(
    [...body.matchAll(/FocalError::(\w+)(?: \{ \.\. \})? => (\d+),/g)].map((m) => [m[1], Number(m[2])]),
  );
  // Every variant of the enum has a code (the match is exhaustive in Rust; the parse must be too).
  const variants = [
    ...lib.slice(lib.indexOf('pub enum FocalError'), lib.indexOf('impl FocalError')).matchAll(/^ {4}(\w+)(?: \{|,)/gm),
  ].map((m) => m[1]);
  expect(Object.keys(codes).sort()).toEqual([...variants].sort());
  return codes;
}

/** `pub const PREFIX_NAME: u32 = N;` of crate/src/ffi.rs as { Name: N }. */
function rustConstants(prefix: string): Record<string, number> {
  return Object.fromEntries(
    [...ffi.matchAll(new RegExp(`pub const ${prefix}_(\\w+): u32 = (\\d+);`, 'g'))].map((m) => [
      pascal(m[1]),
      Number(m[2]),
    ]),
  );
}

describe('the two sides agree, read from their sources', () => {
  test('status codes: ts/abi.ts Status is FocalError::code, name for name (13 errors and Ok), and each has a message', () => {
    const rust = rustStatusCodes();
    expect(Object.keys(rust)).toHaveLength(13);
    const { Ok, ...errors } = Status;
    expect(Ok).toBe(0);
    expect(errors).toEqual(rust);
    expect(
      Object.keys(STATUS_MESSAGES)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual(Object.values(rust).sort((a, b) => a - b));
  });

  test('loss kinds, flags and the ABI version: ts/abi.ts is crate/src/family/ and crate/src/ffi.rs', () => {
    expect(rustKinds()).toEqual(LossKind);
    expect(Object.keys(LossKind).length).toBeGreaterThanOrEqual(4); // one per element-wise loss of ts/family.ts
    expect(rustConstants('FLAG')).toEqual(Flag);
    expect(Object.keys(Flag)).toHaveLength(2);
    expect(Number(/pub const ABI_VERSION: u32 = (\d+);/.exec(ffi)?.[1])).toBe(ABI_VERSION);
    expect(new WebAssembly.Instance(module, {}).exports.focal_abi_version).toBeTypeOf('function');
  });

  test('PROBABILITY_SUM_TOLERANCE: ts/options.ts is crate/src/lib.rs', () => {
    expect(Number(/pub const PROBABILITY_SUM_TOLERANCE: f64 = ([0-9.e-]+);/.exec(lib)?.[1])).toBe(
      PROBABILITY_SUM_TOLERANCE,
    );
  });

  test("the default ignore index: the crate's SoftmaxOptions::default() and the package's default are both -100", () => {
    const rustDefault = Number(/impl<T: Real> Default for SoftmaxOptions[\s\S]*?ignore_index: (-?\d+),/.exec(lib)?.[1]);
    expect(rustDefault).toBe(-100);
    const z = new Float64Array([1, 2, 3, 0, -1, 0.5]);
    // Without ignoreIndex, a target equal to the crate's default is not counted (and not an error).
    expect(FL.softmaxFocalLossPartial(z, [rustDefault, 2], { classes: 3 }).count).toBe(1);
    expect(
      FL.softmaxFocalLossPartial(z, [rustDefault + 1, 2], { classes: 3, ignoreIndex: rustDefault + 1 }).count,
    ).toBe(1);
    expect(() => FL.softmaxFocalLossPartial(z, [rustDefault + 1, 2], { classes: 3 })).toThrow(RangeError);
    expect(FL.sigmoidFocalLossPartial(z, [rustDefault, 3], { classes: 3 }).count).toBe(3);
  });
});

// ------------------------------------------------------------------------------------------------
// Every status through a raw kernel call

type KernelName = 'focal_softmax_f64' | 'focal_elementwise_f64';

/** A fresh instance with a valid f64 call in its scratch area: 2 items × 3 classes of logits, class indices [0, 2]. */
function setup() {
  const x = new WebAssembly.Instance(module, {}).exports as unknown as FocalExports;
  const base = x.focal_scratch_ptr();
  const p = {
    header: base,
    logits: base + 256,
    indices: base + 512,
    values: base + 768,
    weights: base + 1024,
    grad: base + 1280,
  };
  new Float64Array(x.memory.buffer, p.logits, 6).set([1, 2, 3, 0, -1, 0.5]);
  new Int32Array(x.memory.buffer, p.indices, 2).set([0, 2]);
  /** Runs `kernel` on the valid call changed by `over`; the status and the error's position. */
  const call = (kernel: KernelName, over: Partial<Header>) => {
    const zero = Object.fromEntries(HEADER_FIELDS.map(([name]) => [name, 0])) as Header;
    const softmax = kernel === 'focal_softmax_f64';
    writeHeader(x.memory.buffer, p.header, {
      ...zero,
      ignore_index: -100,
      alpha_scalar: softmax ? 1 : 0.25,
      pos_weight_scalar: 1,
      grad_scale: 1,
      gamma: 2,
      batch: 2,
      classes: 3,
      spatial: 1,
      logits: p.logits,
      target_indices: p.indices,
      grad_out: p.grad,
      ...over,
    });
    const status = x[kernel](p.header);
    return { status, index: readHeaderField(x.memory.buffer, p.header, 'error_index') };
  };
  return { x, p, call };
}

describe('every FocalError through a raw kernel call becomes its package error', () => {
  const { x, p, call } = setup();
  const f64 = (at: number, values: number[]) => new Float64Array(x.memory.buffer, at, values.length).set(values);
  /** Each status the kernels can return, the raw call that returns it, and what its message must name. */
  const cases: { status: number; run: () => { status: number; index: number }; names: string; index?: number }[] = [
    { status: Status.InvalidShape, names: 'shape', run: () => call('focal_softmax_f64', { classes: 0 }) },
    { status: Status.InvalidGamma, names: 'gamma', run: () => call('focal_softmax_f64', { gamma: -1 }) },
    { status: Status.InvalidAlpha, names: 'alpha', run: () => call('focal_softmax_f64', { alpha_scalar: -1 }) },
    {
      status: Status.InvalidLabelSmoothing,
      names: 'labelSmoothing',
      run: () => call('focal_softmax_f64', { label_smoothing: 1 }),
    },
    {
      status: Status.InvalidWeight,
      names: 'weights[1]',
      index: 1,
      run: () => (f64(p.weights, [1, -1]), call('focal_softmax_f64', { weights: p.weights })),
    },
    {
      status: Status.TargetOutOfRange,
      names: 'targets[1]',
      index: 1,
      run: () => {
        new Int32Array(x.memory.buffer, p.indices, 2).set([0, 3]);
        const r = call('focal_softmax_f64', {});
        new Int32Array(x.memory.buffer, p.indices, 2).set([0, 2]);
        return r;
      },
    },
    {
      status: Status.InvalidProbability,
      names: 'targets[0]',
      index: 0,
      run: () => (
        f64(p.values, [1, 1, 0, 0, 0, 1]), call('focal_softmax_f64', { target_indices: 0, target_values: p.values })
      ),
    },
    { status: Status.InvalidArgument, names: 'wasm boundary', run: () => call('focal_softmax_f64', { logits: 0 }) },
    {
      status: Status.InvalidBeta,
      names: 'beta',
      run: () => (
        f64(p.values, [0, 1, 0, 0.5, 0, 1]),
        call('focal_elementwise_f64', {
          batch: 6,
          classes: 1,
          target_indices: 0,
          target_values: p.values,
          loss_kind: LossKind.Quality,
          beta: -1,
        })
      ),
    },
    {
      status: Status.InvalidClip,
      names: 'clip',
      run: () =>
        call('focal_elementwise_f64', { classes: 3, loss_kind: LossKind.Asymmetric, gamma: 1, gamma_neg: 4, clip: 1 }),
    },
    {
      status: Status.InvalidPosWeight,
      names: 'posWeight',
      run: () => call('focal_elementwise_f64', { pos_weight_scalar: -1 }),
    },
    {
      status: Status.InvalidPolyEpsilon,
      names: 'polyEpsilon',
      run: () => call('focal_softmax_f64', { poly_epsilon: NaN }),
    },
  ];

  // LengthMismatch is the one error no raw call can reach: ffi.rs makes every slice from the
  // header's own layout, so lengths always agree with it there (the crate's own tests reach it).
  const unreachable = [Status.LengthMismatch];

  test('the cases cover every status of FocalError::code but the unreachable LengthMismatch', () => {
    expect(cases.map((c) => c.status).sort((a, b) => a - b)).toEqual(
      Object.values(rustStatusCodes())
        .filter((s) => !(unreachable as number[]).includes(s))
        .sort((a, b) => a - b),
    );
    expect(cases).toHaveLength(12);
  });

  test.each(
    cases.map((c) => [Object.keys(Status).find((k) => Status[k as keyof typeof Status] === c.status)!, c] as const),
  )('%s: the raw kernel returns it, and its package error names what failed', (_, c) => {
    const { status, index } = c.run();
    expect(status).toBe(c.status);
    if (c.index !== undefined) expect(index).toBe(c.index);
    const error = statusError(status, index);
    expect(error).toBeInstanceOf(status === Status.InvalidArgument ? TypeError : RangeError);
    expect(error.message).toContain(c.names);
    expect(error.message).not.toContain('unknown status');
    expect(error.message).toMatch(
      new RegExp(`^focal-loss: .*\\(kernel status ${status}: validation let this through; please report it\\)$`),
    );
    // Still usable afterwards: the valid call is Ok.
    expect(call('focal_softmax_f64', {}).status).toBe(Status.Ok);
  });

  test('an unknown loss kind or flag is InvalidArgument', () => {
    expect(call('focal_elementwise_f64', { loss_kind: Object.keys(LossKind).length }).status).toBe(
      Status.InvalidArgument,
    );
    expect(call('focal_elementwise_f64', { flags: (Flag.IouWeighted | Flag.DetachFocalWeight) << 1 }).status).toBe(
      Status.InvalidArgument,
    );
    expect(
      call('focal_elementwise_f64', { loss_kind: LossKind.Varifocal, alpha_scalar: 0.75, flags: Flag.IouWeighted })
        .status,
    ).toBe(Status.Ok);
  });

  test('PROBABILITY_SUM_TOLERANCE is the tolerance of the kernel and of the package alike', () => {
    const inside = [0.5, 0.5 + 0.9 * PROBABILITY_SUM_TOLERANCE, 0, 0, 0, 1];
    const outside = [0.5, 0.5 + 1.1 * PROBABILITY_SUM_TOLERANCE, 0, 0, 0, 1];
    f64(p.values, inside);
    expect(call('focal_softmax_f64', { target_indices: 0, target_values: p.values }).status).toBe(Status.Ok);
    f64(p.values, outside);
    expect(call('focal_softmax_f64', { target_indices: 0, target_values: p.values })).toEqual({
      status: Status.InvalidProbability,
      index: 0,
    });
    const z = new Float64Array([1, 2, 3, 0, -1, 0.5]);
    expect(FL.softmaxFocalLoss(z, new Float64Array(inside), { classes: 3 })).toBeGreaterThan(0);
    expect(() => FL.softmaxFocalLoss(z, new Float64Array(outside), { classes: 3 })).toThrow(/row 0 sum to 1\.0011/);
  });
});
