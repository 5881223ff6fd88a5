// Vercel's Edge runtime (the `edge-runtime` package: the same VM and globals as Vercel Edge
// Functions). Bundled as Vercel's bundler does: `focal-loss` resolved with the `edge-light`
// condition, and `import m from './focal_loss.wasm?module'` bound to a WebAssembly.Module that the
// host compiles before the code runs (here: compiled inside the VM's own realm, then bound as a global).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { EdgeRuntime } from 'edge-runtime';
import type { Plugin } from 'esbuild';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { bundleHarness, bundleWorker, dist, makeFixture, removeFixture, allVectorsFile, type Report } from './fixture';
import { expectMatchesNode } from './reference';

const edgeVersion = createRequire(import.meta.url)('edge-runtime/package.json').version as string;
let dir = '';
let bundle = '';

// What Vercel's bundler does with `?module` wasm imports: a binding to a precompiled module.
const wasmModuleBinding: Plugin = {
  name: 'vercel-wasm-module',
  setup(build) {
    build.onResolve({ filter: /\.wasm\?module$/ }, (args) => ({ path: args.path, namespace: 'wasm-binding' }));
    build.onLoad({ filter: /.*/, namespace: 'wasm-binding' }, () => ({
      contents: 'export default globalThis.__focal_loss_wasm;',
      loader: 'js',
    }));
  },
};

const edgeFunction = `
import * as api from 'focal-loss';
import { errorBeforeInit, runVectors } from './harness.mjs';
addEventListener('fetch', (event) => {
  event.respondWith((async () => {
    const beforeInit = errorBeforeInit(api);
    const report = runVectors(api, await event.request.json());
    return Response.json({ runtime: 'edge-runtime', version: EdgeRuntime, entry: 'edge-light', beforeInit, ...report });
  })());
});
`;

beforeAll(async () => {
  dir = makeFixture();
  await bundleHarness(join(dir, 'harness.mjs'), 'esm');
  writeFileSync(join(dir, 'edge.mjs'), edgeFunction);
  await bundleWorker({
    entry: join(dir, 'edge.mjs'),
    outfile: join(dir, 'out', 'edge.js'),
    conditions: ['edge-light', 'worker', 'browser'],
    format: 'iife',
    plugins: [wasmModuleBinding],
  });
  bundle = readFileSync(join(dir, 'out', 'edge.js'), 'utf8');
});

afterAll(() => removeFixture(dir));

test('the bundle uses the edge-light entry', () => {
  expect(bundle).toContain('node_modules/focal-loss/dist/edge-light.js');
  expect(bundle).not.toContain('node:fs');
});

test(`edge-runtime ${edgeVersion}: every vector case in both dtypes, bit-identical to Node`, async () => {
  const runtime = new EdgeRuntime({
    extend: (context) =>
      Object.assign(context, { __focal_loss_bytes: new Uint8Array(readFileSync(join(dist, 'focal_loss.wasm'))) }),
    initialCode: `globalThis.__focal_loss_wasm = new WebAssembly.Module(__focal_loss_bytes);\n${bundle}`,
  });
  const response = await runtime.dispatchFetch('http://localhost/', {
    method: 'POST',
    body: readFileSync(allVectorsFile(), 'utf8'),
  });
  expect(response.status).toBe(200);
  const report = (await response.json()) as Report & { beforeInit: string | null };
  expect(report.beforeInit).toBeNull(); // instantiated when the module is evaluated: no init() needed
  expectMatchesNode(report);
});
