// The CommonJS entry finds its .wasm from __filename (pathToFileURL), so it loads from a folder whose
// name holds URL syntax ('#', '%41') and when a DOM polyfill has defined a global `document` — the
// two cases where a URL built from the path by string concatenation (tsup's import.meta.url shim)
// pointed elsewhere.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { softmaxFocalLoss } from 'focal-loss';

const root = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'focal-cjs-'));
const dir = join(tmp, 'a#b%41c', 'focal-loss');
cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const logits = [2, 0.5, -1, 0, 3, 0.1];
const expected = softmaxFocalLoss(Float64Array.from(logits), [0, 1], { classes: 3 }) as number;

function loadCjs(prelude: string): number {
  const script = `${prelude}
const { softmaxFocalLoss } = require(${JSON.stringify(join(dir, 'dist', 'node.cjs'))});
console.log(String(softmaxFocalLoss(Float64Array.from(${JSON.stringify(logits)}), [0, 1], { classes: 3 })));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return Number(r.stdout.trim());
}

test("require('focal-loss') from a folder named a#b%41c gives the ESM entry's value", () => {
  expect(expected).toBeGreaterThan(0);
  expect(loadCjs('')).toBe(expected);
});

test('with a global document (a DOM polyfill) the Node CJS entry still reads its own .wasm', () => {
  expect(loadCjs("globalThis.document = { baseURI: 'http://localhost/', currentScript: null };")).toBe(expected);
});
