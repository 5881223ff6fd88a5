// The package as published: `npm pack` it, lint the tarball (publint --strict, and
// @arethetypeswrong/cli in every resolution mode), install the tarball into a fresh project and use
// it there from Node ESM and CJS, and keep it small (size budgets, figures printed).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { allVectorsFile, bundleHarness, parseReport, root, run } from './runtimes/fixture';
import { expectMatchesNode } from './runtimes/reference';

/**
 * Budgets: the gzipped .wasm and the packed tarball. A .wasm holds softmax and the four element-wise
 * losses in two precisions; the SIMD build also runs the element-wise kernel on pairs of vectors
 * (23% faster, +14 KB): ~27 KiB gzipped, the scalar build ~31.6 KiB. The tarball holds both .wasm
 * files, the SIMD build once more inside focal-loss/inline in ESM and in CJS (deflated + base64,
 * which gzip brings back to about the gzipped .wasm each), the facade once for every ESM entry (one
 * shared chunk) and twice in CJS (node.cjs, inline.cjs), the types, the tfjs adapter and the README
 * (~55 KB): ~193 KiB.
 */
const WASM_GZIP_BUDGET = 40 * 1024;
const PACKED_BUDGET = 300 * 1024;

interface PackResult { filename: string; size: number; unpackedSize: number; files: { path: string; size: number }[] }

let tmp = '';
let tarball = '';
let pack: PackResult;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'focal-loss-pack-'));
  // --ignore-scripts: `prepare` would rebuild; dist/ is built before the tests run.
  const r = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], root);
  pack = (JSON.parse(r.stdout) as PackResult[])[0];
  tarball = join(tmp, pack.filename);
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the packed tarball', () => {
  test('holds every file the exports map names, and only dist/, README, LICENSE, package.json', () => {
    const paths = pack.files.map((f) => f.path);
    const targets: string[] = [];
    const walk = (v: unknown) => (typeof v === 'string' ? targets.push(v.replace(/^\.\//, '')) : Object.values(v as object).forEach(walk));
    walk(pkg.exports);
    targets.push(pkg.main.replace(/^\.\//, ''), pkg.types.replace(/^\.\//, ''));
    for (const t of targets) expect(paths, t).toContain(t);
    for (const p of paths) expect(p).toMatch(/^(dist\/[^/]+\.(js|cjs|d\.ts|d\.cts|wasm)|README\.md|LICENSE|package\.json)$/);
  });

  test(`sizes within budget (packed < ${(PACKED_BUDGET / 1024).toFixed(0)} KiB, gzipped wasm < ${WASM_GZIP_BUDGET / 1024} KiB)`, () => {
    console.log(`package: ${pack.size} bytes packed, ${pack.unpackedSize} unpacked, ${pack.files.length} files`);
    for (const name of ['inline.js', 'inline.cjs']) {
      const file = readFileSync(join(root, 'dist', name));
      console.log(`${name}: ${file.length} bytes, ${gzipSync(file, { level: 9 }).length} gzipped`);
    }
    expect(pack.size).toBeLessThan(PACKED_BUDGET);
    for (const name of ['focal_loss.wasm', 'focal_loss.scalar.wasm']) {
      const wasm = readFileSync(join(root, 'dist', name));
      const gz = gzipSync(wasm, { level: 9 }).length;
      console.log(`${name}: ${wasm.length} bytes, ${gz} gzipped`);
      expect(gz, name).toBeLessThan(WASM_GZIP_BUDGET);
      expect(WebAssembly.Module.imports(new WebAssembly.Module(wasm))).toEqual([]);
    }
  });

  test('publint --strict: no errors, warnings or suggestions', async () => {
    const { messages, pkg: linted } = await publint({ pack: { tarball: readFileSync(tarball).buffer as ArrayBuffer }, strict: true, level: 'suggestion' });
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, linted)}`)).toEqual([]);
  });

  test('are the types wrong: clean under node10, node16 (CJS and ESM) and bundler resolution', () => {
    const attw = join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
    const r = spawnSync(process.execPath, [attw, tarball, '--format', 'json', '--exclude-entrypoints', './focal_loss.wasm', './focal_loss.scalar.wasm'], { encoding: 'utf8' });
    const result = JSON.parse(r.stdout) as { analysis: { problems: unknown[]; entrypoints: Record<string, { resolutions: Record<string, unknown> }> } };
    expect(result.analysis.problems).toEqual([]);
    expect(Object.keys(result.analysis.entrypoints['.'].resolutions).sort()).toEqual(['bundler', 'node10', 'node16-cjs', 'node16-esm']);
    expect(r.status).toBe(0);
  });
});

describe('installed from the tarball into a fresh project', () => {
  let project = '';

  beforeAll(async () => {
    project = join(tmp, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], project);
    await bundleHarness(join(project, 'harness.mjs'), 'esm');
    await bundleHarness(join(project, 'harness.cjs'), 'cjs');
  });

  test('Node ESM: import { … } from "focal-loss" — every vector case, bit-identical', () => {
    writeFileSync(join(project, 'esm.mjs'), `
import * as api from 'focal-loss';
import { readFileSync } from 'node:fs';
import { runVectors } from './harness.mjs';
const report = runVectors(api, JSON.parse(readFileSync(${JSON.stringify(allVectorsFile())}, 'utf8')));
console.log(JSON.stringify({ runtime: 'node-esm', version: process.version, entry: import.meta.resolve('focal-loss'), ...report }));
`);
    const r = parseReport(run(process.execPath, ['esm.mjs'], project).stdout);
    expect(r.entry).toMatch(/\/project\/node_modules\/focal-loss\/dist\/node\.js$/);
    expectMatchesNode(r);
  });

  test('Node CJS: require("focal-loss") — every vector case, bit-identical', () => {
    writeFileSync(join(project, 'cjs.cjs'), `
const api = require('focal-loss');
const { runVectors } = require('./harness.cjs');
const report = runVectors(api, JSON.parse(require('node:fs').readFileSync(${JSON.stringify(allVectorsFile())}, 'utf8')));
console.log(JSON.stringify({ runtime: 'node-cjs', version: process.version, entry: require.resolve('focal-loss'), ...report }));
`);
    const r = parseReport(run(process.execPath, ['cjs.cjs'], project).stdout);
    expect(r.entry).toMatch(/[\\/]project[\\/]node_modules[\\/]focal-loss[\\/]dist[\\/]node\.cjs$/);
    expectMatchesNode(r);
  });

  test('the raw modules are exported as focal-loss/focal_loss.wasm and focal-loss/focal_loss.scalar.wasm', () => {
    for (const name of ['focal_loss.wasm', 'focal_loss.scalar.wasm']) {
      writeFileSync(join(project, 'wasm.cjs'), `console.log(require.resolve('focal-loss/${name}'));`);
      const path = run(process.execPath, ['wasm.cjs'], project).stdout.trim();
      expect(readFileSync(path)).toEqual(readFileSync(join(root, 'dist', name)));
    }
  });
});

describe('building without the devDependencies (a fresh clone before `npm ci`)', () => {
  test('`npm pack` (which runs prepare → scripts/build.mjs) fails in seconds, before any Rust compilation, naming the fix', () => {
    const clone = mkdtempSync(join(tmpdir(), 'focal-loss-nodeps-'));
    try {
      // What a clone has before `npm ci`: the sources, no node_modules/.
      for (const path of ['package.json', 'scripts', 'Cargo.toml', 'Cargo.lock', 'crate', '.cargo']) cpSync(join(root, path), join(clone, path), { recursive: true });
      const started = Date.now();
      const r = spawnSync('npm', ['pack', '--pack-destination', clone], { cwd: clone, encoding: 'utf8', timeout: 120_000 });
      const seconds = (Date.now() - started) / 1000;
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/\[focal-loss\] cannot build: tsup and binaryen \(devDependencies\) are not installed\.\n\s+Run `npm ci` \(or `npm install`\) in this clone first/);
      expect(r.stdout + r.stderr).not.toMatch(/building focal_loss\.wasm|Compiling/);
      expect(seconds).toBeLessThan(30);
    } finally {
      rmSync(clone, { recursive: true, force: true });
    }
  });
});
