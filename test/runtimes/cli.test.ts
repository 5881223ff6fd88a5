// Node (ESM and CJS), Deno and Bun, each in a child process importing `focal-loss` from a project's
// node_modules (so each runtime's export condition picks the entry), running every vector case in
// both dtypes and returning the bits of its results.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { binary, bundleHarness, makeFixture, parseReport, removeFixture, run } from './fixture';
import { expectMatchesNode } from './reference';

let dir = '';

// One script for Node, Deno and Bun (ESM); the runtime's name and version come from its globals.
const esmScript = `
import * as api from 'focal-loss';
import { readFileSync } from 'node:fs';
import { runVectors, errorBeforeInit } from './harness.mjs';
const runtime = globalThis.Deno ? 'deno' : globalThis.Bun ? 'bun' : 'node';
const version = globalThis.Deno?.version.deno ?? globalThis.Bun?.version ?? process.versions.node;
const beforeInit = errorBeforeInit(api); // null: these entries are ready once imported
const report = runVectors(api, JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8')));
console.log(JSON.stringify({ runtime, version, entry: import.meta.resolve('focal-loss'), beforeInit, ...report }));
`;

const cjsScript = `
const api = require('focal-loss');
const { readFileSync } = require('node:fs');
const { runVectors, errorBeforeInit } = require('./harness.cjs');
const beforeInit = errorBeforeInit(api);
const report = runVectors(api, JSON.parse(readFileSync(require('node:path').join(__dirname, 'vectors.json'), 'utf8')));
console.log(JSON.stringify({ runtime: 'node-cjs', version: process.versions.node, entry: require.resolve('focal-loss'), beforeInit, ...report }));
`;

beforeAll(async () => {
  dir = makeFixture();
  await bundleHarness(join(dir, 'harness.mjs'), 'esm');
  await bundleHarness(join(dir, 'harness.cjs'), 'cjs');
  writeFileSync(join(dir, 'run.mjs'), esmScript);
  writeFileSync(join(dir, 'run.cjs'), cjsScript);
});

afterAll(() => removeFixture(dir));

describe('runtimes started as processes', () => {
  test('Node ESM: import resolves to dist/node.js, ready at import, all vectors, bits as in-process', () => {
    const r = parseReport(run(process.execPath, ['run.mjs'], dir).stdout);
    expect(r.entry).toMatch(/node_modules\/focal-loss\/dist\/node\.js$/);
    expect(r.beforeInit).toBeNull();
    expectMatchesNode(r);
  });

  test('Node CJS: require resolves to dist/node.cjs, ready at require, all vectors, same bits', () => {
    const r = parseReport(run(process.execPath, ['run.cjs'], dir).stdout);
    expect(r.entry).toMatch(/node_modules[\\/]focal-loss[\\/]dist[\\/]node\.cjs$/);
    expect(r.beforeInit).toBeNull();
    expectMatchesNode(r);
  });

  test('Deno: the deno entry (a source-phase import of the .wasm: no --allow-read for the package), all vectors, same bits', () => {
    const deno = binary('deno');
    // Read permission for the vectors file only (the script reads it with node:fs): the package's
    // focal_loss.wasm is loaded as a module, which needs no permission.
    const r = parseReport(
      run(
        deno,
        ['run', `--allow-read=${join(dir, 'vectors.json')}`, '--no-config', '--node-modules-dir=manual', 'run.mjs'],
        dir,
        {
          DENO_DIR: join(dir, '.deno'),
          DENO_NO_UPDATE_CHECK: '1',
          DENO_NO_PROMPT: '1',
        },
      ).stdout,
    );
    expect(r.runtime).toBe('deno');
    expect(r.entry).toMatch(/node_modules\/focal-loss\/dist\/deno\.js$/);
    expect(r.beforeInit).toBeNull();
    console.log(`deno ${r.version}: ${r.checked} vector checks`);
    expectMatchesNode(r);
  });

  test('Bun: the node entry (bun resolves the node condition), all vectors, same bits', () => {
    const r = parseReport(run(binary('bun'), ['run.mjs'], dir, { BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0' }).stdout);
    expect(r.runtime).toBe('bun');
    expect(r.entry).toMatch(/node_modules\/focal-loss\/dist\/node\.js$/);
    expect(r.beforeInit).toBeNull();
    console.log(`bun ${r.version}: ${r.checked} vector checks`);
    expectMatchesNode(r);
  });
});
