// Cloudflare workerd (the real runtime, through Miniflare): workers bundled as wrangler does —
// `focal-loss` resolved with the `workerd` condition, `import './focal_loss.wasm'` kept for the host,
// which gives it as a compiled module (Workers refuse to compile WebAssembly from bytes).
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, expect, test } from 'vitest';
import * as api from 'focal-loss';
import {
  bundleHarness,
  bundleWorker,
  dist,
  makeFixture,
  removeFixture,
  root,
  allVectorsFile,
  type Report,
} from './fixture';
import { expectMatchesNode } from './reference';

let dir = '';
let mf: Miniflare;
const conditions = ['workerd', 'worker', 'browser'];
const workerdVersion = createRequire(import.meta.url)('miniflare/package.json').version as string;

const harnessWorker = `
import * as api from 'focal-loss';
import { errorBeforeInit, runVectors } from './harness.mjs';
export default {
  async fetch(request) {
    const beforeInit = errorBeforeInit(api);
    const report = runVectors(api, await request.json());
    return Response.json({ runtime: 'workerd', version: globalThis.navigator?.userAgent ?? 'workerd', entry: 'workerd', beforeInit, ...report });
  },
};
`;

beforeAll(async () => {
  dir = makeFixture();
  await bundleHarness(join(dir, 'harness.mjs'), 'esm');
  writeFileSync(join(dir, 'vectors-worker.mjs'), harnessWorker);
  copyFileSync(join(root, 'examples', 'worker', 'src', 'index.js'), join(dir, 'example-worker.mjs'));
  await bundleWorker({
    entry: join(dir, 'vectors-worker.mjs'),
    outfile: join(dir, 'out', 'vectors.mjs'),
    conditions,
    format: 'esm',
  });
  await bundleWorker({
    entry: join(dir, 'example-worker.mjs'),
    outfile: join(dir, 'out', 'example.mjs'),
    conditions,
    format: 'esm',
  });
  copyFileSync(join(dist, 'focal_loss.wasm'), join(dir, 'out', 'focal_loss.wasm'));
  const wasm = { type: 'CompiledWasm' as const, path: join(dir, 'out', 'focal_loss.wasm') };
  mf = new Miniflare({
    compatibilityDate: '2026-04-01',
    workers: [
      {
        name: 'vectors',
        routes: ['vectors.test/*'],
        modulesRoot: join(dir, 'out'),
        modules: [{ type: 'ESModule', path: join(dir, 'out', 'vectors.mjs') }, wasm],
      },
      {
        name: 'example',
        routes: ['example.test/*'],
        modulesRoot: join(dir, 'out'),
        modules: [{ type: 'ESModule', path: join(dir, 'out', 'example.mjs') }, wasm],
      },
    ],
  });
  await mf.ready;
});

afterAll(async () => {
  await mf?.dispose();
  removeFixture(dir);
});

test('the bundles use the workerd entry and import focal_loss.wasm as a module', () => {
  for (const name of ['vectors.mjs', 'example.mjs']) {
    const code = readFileSync(join(dir, 'out', name), 'utf8');
    expect(code).toContain('node_modules/focal-loss/dist/workerd.js');
    expect(code).toMatch(/import \w+ from "\.\/focal_loss\.wasm"/);
    expect(code).not.toContain('node:fs');
  }
});

test(`workerd (miniflare ${workerdVersion}): every vector case in both dtypes, bit-identical to Node`, async () => {
  const response = await mf.dispatchFetch('http://vectors.test/', {
    method: 'POST',
    body: readFileSync(allVectorsFile(), 'utf8'),
  });
  expect(response.status).toBe(200);
  const report = (await response.json()) as Report & { beforeInit: string | null };
  expect(report.beforeInit).toBeNull(); // instantiated at the worker's startup: no init() needed
  expectMatchesNode(report);
});

test("examples/worker: a JSON batch gives Node's loss and gradient exactly", async () => {
  const batch = {
    kind: 'softmax',
    logits: [2, 0.5, -1, 0, 3, 0.1, 30, 0, 0],
    targets: [0, 1, 0],
    options: { classes: 3, gamma: 0.5, alpha: [0.25, 0.5, 1] },
  };
  const response = await mf.dispatchFetch('http://example.test/', {
    method: 'POST',
    body: JSON.stringify(batch),
    headers: { 'Content-Type': 'application/json' },
  });
  expect(response.status).toBe(200);
  const got = (await response.json()) as { loss: number; grad: number[] };
  const want = api.softmaxFocalLossWithGrad(Float64Array.from(batch.logits), batch.targets, batch.options);
  expect(got.loss).toBe(want.loss);
  expect(got.grad).toEqual(Array.from(want.grad));

  const sig = { kind: 'sigmoid', logits: [3, -1, 0.5], targets: [1, 0, 0.5], options: { gamma: 2, reduction: 'none' } };
  const r2 = await mf.dispatchFetch('http://example.test/', { method: 'POST', body: JSON.stringify(sig) });
  const w2 = api.sigmoidFocalLossWithGrad(Float64Array.from(sig.logits), Float64Array.from(sig.targets), {
    gamma: 2,
    reduction: 'none',
  });
  expect(await r2.json()).toEqual({ loss: Array.from(w2.loss), grad: Array.from(w2.grad) });

  const bad = await mf.dispatchFetch('http://example.test/', {
    method: 'POST',
    body: JSON.stringify({ ...batch, targets: [0, 7, 0] }),
  });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { error: string }).error).toMatch(/RangeError: .*targets\[1\] = 7/);
});

test("examples/worker: a binary Float32 body gives Node's float32 gradient exactly", async () => {
  const rows = 1000,
    classes = 5;
  const logits = Float32Array.from({ length: rows * classes }, (_, i) => Math.sin(i * 12.9898) * 8);
  const targets = Int32Array.from({ length: rows }, (_, i) => (i * 7) % classes);
  const body = new Uint8Array(logits.byteLength + targets.byteLength);
  body.set(new Uint8Array(logits.buffer), 0);
  body.set(new Uint8Array(targets.buffer), logits.byteLength);
  const response = await mf.dispatchFetch(`http://example.test/softmax?classes=${classes}&gamma=2`, {
    method: 'POST',
    body,
  });
  expect(response.status).toBe(200);
  const grad = new Float32Array(await response.arrayBuffer());
  const want = api.softmaxFocalLossWithGrad(logits, targets, { classes, gamma: 2 });
  expect(Number(response.headers.get('X-Focal-Loss'))).toBe(want.loss);
  expect(grad).toEqual(want.grad);
});
