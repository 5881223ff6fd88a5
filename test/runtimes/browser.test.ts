// Chromium (Debian's /usr/bin/chromium driven by playwright-core): pages served from 127.0.0.1 load
// dist/browser.js as a native ES module (no bundler; an import map names the package), `init()`
// fetches focal_loss.wasm — once served as application/wasm (streaming compilation), once as
// application/octet-stream (the fallback) — and every vector case runs in both dtypes.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as api from 'focal-loss';
import { bundleHarness, makeFixture, removeFixture, root, type Report } from './fixture';
import { expectMatchesNode } from './reference';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let dir = '';
let server: Server;
let base = '';
let browser: Browser;
/** Every request the server answered: path and Content-Type. */
const served: { path: string; type: string }[] = [];

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm',
};

const page = `<!doctype html><meta charset="utf-8">
<script type="importmap">{ "imports": { "focal-loss": "./node_modules/focal-loss/dist/browser.js" } }</script>
<script type="module">
import * as api from 'focal-loss';
import { errorBeforeInit, runVectors } from './harness.mjs';
try {
  const beforeInit = errorBeforeInit(api);
  const pending = api.init();
  const duringInit = errorBeforeInit(api);
  await pending;
  await api.init(); // idempotent
  const json = await (await fetch('./vectors.json')).json();
  const report = runVectors(api, json);
  window.__report = { runtime: 'chromium', version: navigator.userAgent, entry: import.meta.resolve('focal-loss'), beforeInit, duringInit, ...report };
} catch (error) {
  window.__report = { error: String(error && error.stack || error) };
}
</script>`;

beforeAll(async () => {
  dir = makeFixture();
  await bundleHarness(join(dir, 'harness.mjs'), 'esm');
  writeFileSync(join(dir, 'vectors.html'), page);
  // /wasm/… and /octet/… serve the fixture (the .wasm with the right and the wrong MIME type);
  // /repo/… serves the repository's dist/ and examples/ (the example page).
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const [, mode, ...rest] = url.pathname.split('/');
    const rel = normalize(decodeURIComponent(rest.join('/')));
    const allowed = mode === 'repo' ? /^(dist|examples)\//.test(rel) : mode === 'wasm' || mode === 'octet';
    const file = join(mode === 'repo' ? root : dir, rel);
    if (!allowed || rel.startsWith('..') || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    const type = mode === 'octet' && extname(file) === '.wasm' ? 'application/octet-stream' : (types[extname(file)] ?? 'application/octet-stream');
    served.push({ path: url.pathname, type });
    res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
  removeFixture(dir);
});

async function runPage(url: string): Promise<Report & { beforeInit: string | null; duringInit: string | null; error?: string }> {
  const context = await browser.newContext();
  try {
    const tab = await context.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(String(e)));
    await tab.goto(url);
    await tab.waitForFunction(() => (window as unknown as { __report?: unknown }).__report !== undefined, undefined, { timeout: 90_000 });
    const report = await tab.evaluate(() => (window as unknown as { __report: unknown }).__report) as Report & { beforeInit: string | null; duringInit: string | null; error?: string };
    expect(errors).toEqual([]);
    return report;
  } finally {
    await context.close();
  }
}

describe('Chromium', () => {
  for (const mode of ['wasm', 'octet'] as const) {
    const mime = mode === 'wasm' ? 'application/wasm' : 'application/octet-stream (fallback)';
    test(`browser entry, .wasm served as ${mime}: all vectors, bit-identical to Node; clear error before init`, async () => {
      const r = await runPage(`${base}/${mode}/vectors.html`);
      expect(r.error).toBeUndefined();
      console.log(`chromium: ${r.version}`);
      expect(r.entry).toBe(`${base}/${mode}/node_modules/focal-loss/dist/browser.js`);
      expect(served).toContainEqual({ path: `/${mode}/node_modules/focal-loss/dist/focal_loss.wasm`, type: mode === 'wasm' ? 'application/wasm' : 'application/octet-stream' });
      expect(r.beforeInit).toMatch(/^Error: focal-loss: the WebAssembly module is not loaded; call `await init\(\)`/);
      expect(r.duringInit).toMatch(/^Error: focal-loss: init\(\) has not finished yet; await init\(\)/);
      expectMatchesNode(r);
    });
  }

  test('examples/browser computes the same loss and gradient as Node', async () => {
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(`${base}/repo/examples/browser/index.html`);
    await tab.waitForSelector('body[data-state="done"]', { timeout: 60_000 });
    const shown = JSON.parse(await tab.textContent('#out') ?? '') as { loss: number; grad: number[] };
    const want = api.softmaxFocalLossWithGrad(new Float64Array([2, 0.5, -1, 0, 3, 0.1]), [0, 1], { classes: 3, gamma: 2 });
    expect(shown).toEqual({ loss: want.loss, grad: Array.from(want.grad) });
    // A bad input gives the library's RangeError, shown on the page.
    await tab.fill('input[name="targets"]', '0, 5');
    await tab.click('button');
    await expect.poll(() => tab.textContent('#out')).toMatch(/^RangeError: .*targets\[1\] = 5/);
    await context.close();
  });
});
