// The package as a user gets it: `npm pack`, the tarball installed (offline) into a fresh consumer
// project, then built by each bundler the way its documentation's zero-configuration setup does —
// Vite, webpack (import and require, web target), esbuild (browser, Node ESM, Node CJS, and the
// edge-light condition for edge-runtime), Rollup (+ node-resolve), `bun build` — and every output
// RUN: Node bundles with node, browser bundles in Chromium (served from 127.0.0.1), the edge bundle
// in edge-runtime, and a Jest + jsdom test suite. Each computes the same losses and gradients and
// must return exactly what this process computes with the package. The published types are
// type-checked standalone (lib ES2022, with and without @types/node; skipLibCheck false).
// The bundlers come from this repository's devDependencies; the snippets here are the ones the
// README's "Bundlers and test runners" section quotes.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize } from 'node:path';
import { EdgeRuntime } from 'edge-runtime';
import * as esbuild from 'esbuild';
import nodeResolve from '@rollup/plugin-node-resolve';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/chromium';
import { rollup } from 'rollup';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import webpack, { type Stats } from 'webpack';
import { binary, root, run } from '../runtimes/fixture';
import { COMPUTE, expected, expectExact, packTarball } from './shared';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------- what every consumer computes

/**
 * A consumer's source: imports `specifier` (ESM or CJS), records whether the functions worked
 * before `init()` ("ready at import"), then (optionally) awaits init() and computes. Browser
 * builds put the result on globalThis.__report; Node builds print it.
 */
function appSource(specifier: string, opts: { cjs?: boolean; browser?: boolean; init?: boolean }): string {
  const load = opts.cjs
    ? `const api = require(${JSON.stringify(specifier)});`
    : `import * as api from ${JSON.stringify(specifier)};`;
  return `${load}
const compute = () => {${COMPUTE}
};
const readyAtImport = (() => { try { api.wasmMemoryBytes(); return true; } catch { return false; } })();
(async () => {
  let report;
  try {
    ${opts.init === false ? '' : 'await api.init();'}
    report = { readyAtImport, ...compute() };
  } catch (error) {
    report = { readyAtImport, error: String((error && error.stack) || error) };
  }
  ${opts.browser ? 'globalThis.__report = report;' : 'console.log(JSON.stringify(report));'}
})();
`;
}

/**
 * A consumer that imports only the two losses COMPUTE calls (no `init`, nothing else): what a
 * bundler trusting package.json's `sideEffects` keeps of the package is all it has.
 */
function lossesSource(specifier: string, opts: { browser?: boolean }): string {
  return `import { softmaxFocalLossWithGrad, sigmoidFocalLossWithGrad } from ${JSON.stringify(specifier)};
const api = { softmaxFocalLossWithGrad, sigmoidFocalLossWithGrad };
let report;
try {
  report = (() => {${COMPUTE}
  })();
} catch (error) {
  report = { error: String((error && error.stack) || error) };
}
${opts.browser ? 'globalThis.__report = report;' : 'console.log(JSON.stringify(report));'}
`;
}

/** Runs a webpack build; fails the test on errors. */
async function webpackBuild(config: webpack.Configuration): Promise<Stats> {
  const stats = await new Promise<Stats>((resolve, reject) =>
    webpack({ context: project, devtool: false, performance: { hints: false }, ...config }).run((error, result) =>
      error || !result ? reject(error) : resolve(result),
    ),
  );
  expect(stats.hasErrors(), stats.toString('errors-only')).toBe(false);
  return stats;
}

/** Runs Jest 30 (this repository's devDependency) on the one test file in `dir`, as `jest --ci` would, and requires it to pass. */
function runJest(dir: string, nodeFlags: string[] = []): void {
  const jestPkg = require.resolve('jest/package.json');
  const jest = join(dirname(jestPkg), (JSON.parse(readFileSync(jestPkg, 'utf8')) as { bin: string }).bin);
  const args = ['--ci', '--rootDir', dir, '--config', join(dir, 'jest.config.cjs')];
  args.push('--cacheDirectory', join(tmp, 'jest-cache'), '--watchman=false');
  const r = spawnSync(process.execPath, [...nodeFlags, jest, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stderr).toMatch(/Tests:\s+1 passed, 1 total/);
}

// ---------------------------------------------------------------- the consumer project

let tmp = '';
let project = '';
let tarball = '';
const out = (name: string) => join(project, 'out', name);

beforeAll(() => {
  ({ tmp, tarball } = packTarball('focal-loss-consumers-'));
  project = join(tmp, 'consumer');
  mkdirSync(join(project, 'src'), { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], project);
  const sources: Record<string, string> = {
    'default.js': appSource('focal-loss', { browser: true }),
    'default-require.cjs': appSource('focal-loss', { cjs: true, browser: true }),
    'inline.js': appSource('focal-loss/inline', { browser: true }),
    'inline-require.cjs': appSource('focal-loss/inline', { cjs: true, browser: true }),
    'node-inline.mjs': appSource('focal-loss/inline', { init: false }),
    'node-inline.cjs': appSource('focal-loss/inline', { cjs: true, init: false }),
    'node-default.cjs': appSource('focal-loss', { cjs: true, init: false }),
    'node-losses.mjs': lossesSource('focal-loss', {}),
    'node-losses-inline.mjs': lossesSource('focal-loss/inline', {}),
    'web-losses-inline.js': lossesSource('focal-loss/inline', { browser: true }),
  };
  for (const [name, text] of Object.entries(sources)) writeFileSync(join(project, 'src', name), text);
}, 120_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Parses what a Node bundle printed. */
function nodeReport(file: string): Record<string, unknown> {
  const r = spawnSync(process.execPath, [file], { cwd: project, encoding: 'utf8', timeout: 60_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) throw new Error(`no report from ${file}:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(line) as Record<string, unknown>;
}

/** Every file under a folder (relative paths). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile());
}

// ---------------------------------------------------------------- Chromium

let server: Server;
let base = '';
let browser: Browser;
/** Paths the server answered (200 or 404). */
const requests: { path: string; status: number }[] = [];
const mime: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
};

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    const file = join(project, 'out', normalize(path));
    const ok = !normalize(path).startsWith('..') && existsSync(file) && statSync(file).isFile();
    requests.push({ path, status: ok ? 200 : 404 });
    if (!ok) return void res.writeHead(404).end('not found');
    res
      .writeHead(200, {
        'Content-Type': mime[extname(file)] ?? 'application/octet-stream',
        'Cache-Control': 'no-store',
      })
      .end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

/** A page for a bundle: a module script, or a classic one (webpack's output); optionally an engine without SIMD128. */
function writePage(
  dir: string,
  script: string,
  opts: { module?: boolean; noSimd?: boolean; page?: string } = {},
): string {
  // Engines without SIMD128 (Safari < 16.4) reject the package's 29-byte probe module; here every
  // WebAssembly.validate says no, before the bundle runs, so the SIMD/scalar choice takes the scalar path.
  const noSimd = opts.noSimd ? '<script>WebAssembly.validate = () => false;</script>' : '';
  const page = opts.page ?? (opts.noSimd ? 'no-simd.html' : 'index.html');
  writeFileSync(
    join(dir, page),
    `<!doctype html><meta charset="utf-8">${noSimd}<script${opts.module === false ? '' : ' type="module"'} src="./${script}"></script>`,
  );
  return page;
}

/** Opens a page, waits for globalThis.__report. */
async function runPage(path: string): Promise<Record<string, unknown>> {
  const context = await browser.newContext();
  try {
    const tab = await context.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(String(e)));
    await tab.goto(`${base}/${path}`);
    await tab.waitForFunction(() => (globalThis as { __report?: unknown }).__report !== undefined, undefined, {
      timeout: 60_000,
    });
    const report = (await tab.evaluate(() => (globalThis as unknown as { __report: unknown }).__report)) as Record<
      string,
      unknown
    >;
    expect(errors).toEqual([]);
    return report;
  } finally {
    await context.close();
  }
}

const wasmRequests = (prefix: string) => requests.filter((r) => r.path.startsWith(prefix) && r.path.endsWith('.wasm'));

// ---------------------------------------------------------------- bundlers

describe('bundled from the packed tarball, run, and exact', () => {
  test("Vite (vite build, import 'focal-loss'): both .wasm files emitted as assets, SIMD and scalar paths in Chromium", async () => {
    const { build } = await import('vite');
    const dir = join(project, 'vite');
    mkdirSync(dir, { recursive: true });
    cpSync(join(project, 'src', 'default.js'), join(dir, 'main.js'));
    writeFileSync(
      join(dir, 'index.html'),
      '<!doctype html><meta charset="utf-8"><script type="module" src="/main.js"></script>',
    );
    await build({
      root: dir,
      configFile: false,
      logLevel: 'silent',
      base: './',
      build: { outDir: out('vite'), emptyOutDir: true },
    });
    const wasm = filesUnder(out('vite')).filter((f) => f.endsWith('.wasm'));
    expect(wasm).toHaveLength(2); // focal_loss-<hash>.wasm and focal_loss.scalar-<hash>.wasm
    const html = readFileSync(out('vite/index.html'), 'utf8');
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1] ?? '';
    expect(script).not.toBe('');
    const simd = await runPage('vite/index.html');
    expectExact(simd);
    expect(simd.readyAtImport).toBe(false); // the browser entry: `await init()` fetches the asset
    expectExact(await runPage(`vite/${writePage(out('vite'), script, { noSimd: true })}`));
    expect(wasmRequests('/vite/').map((r) => r.status)).toEqual([200, 200]);
    expect(
      wasmRequests('/vite/')
        .map((r) => r.path)
        .join(' '),
    ).toMatch(/focal_loss-[^ ]+\.wasm .*focal_loss\.scalar-[^ ]+\.wasm/);
  });

  for (const [how, src] of [
    ['import', 'default.js'],
    ['require', 'default-require.cjs'],
  ] as const) {
    test(`webpack 5 (target web, ${how} 'focal-loss'): the ESM browser entry through the webpack condition, .wasm emitted`, async () => {
      const name = `webpack-${how}`;
      const stats = await new Promise<Stats>((resolve, reject) =>
        webpack({
          mode: 'production',
          target: 'web',
          context: project,
          entry: `./src/${src}`,
          devtool: false,
          output: { path: out(name), filename: 'main.js', clean: true },
          performance: { hints: false },
        }).run((error, result) => (error || !result ? reject(error) : resolve(result))),
      );
      expect(stats.hasErrors(), stats.toString('errors-only')).toBe(false);
      expect(filesUnder(out(name)).filter((f) => f.endsWith('.wasm'))).toHaveLength(2);
      const read = [...stats.compilation.fileDependencies].filter((f) => f.includes('focal-loss'));
      // The browser entry and the chunk every ESM entry shares (the facade), nothing else.
      const entries = read
        .filter((f) => /dist[\\/][^\\/]+\.c?js$/.test(f))
        .map((f) => f.replace(/.*dist[\\/]/, ''))
        .sort();
      expect(entries).toEqual(['browser.js', expect.stringMatching(/^chunk-\w+\.js$/)]);
      const report = await runPage(`${name}/${writePage(out(name), 'main.js', { module: false })}`);
      expectExact(report);
      expect(wasmRequests(`/${name}/`)).toEqual([{ path: expect.stringMatching(/\.wasm$/), status: 200 }]);
    });
  }

  test("esbuild, browser (import 'focal-loss/inline'): nothing to copy, nothing fetched; await init() compiles the inlined module", async () => {
    await esbuild.build({
      entryPoints: [join(project, 'src', 'inline.js')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      outfile: out('esbuild/app.js'),
      logLevel: 'silent',
    });
    expect(filesUnder(out('esbuild'))).toEqual(['app.js']);
    const report = await runPage(`esbuild/${writePage(out('esbuild'), 'app.js')}`);
    expectExact(report);
    // Engines that refuse to compile more than 4 KB synchronously on a page's main thread need the
    // `await init()`; this Chromium compiles at import, so init() is a no-op there.
    console.log(`esbuild inline bundle in ${browser.version()}: ready at import: ${report.readyAtImport}`);
    expect(wasmRequests('/esbuild/')).toEqual([]);
  });

  test('esbuild, browser, an engine without SIMD128: the inline entry fetches focal_loss.scalar.wasm beside the page (a clear error when it is missing)', async () => {
    const page = writePage(out('esbuild'), 'app.js', { noSimd: true });
    const missing = await runPage(`esbuild/${page}`);
    expect(missing.error).toMatch(
      /no WebAssembly SIMD128 and focal-loss\/inline carries only the SIMD128 build; fetching focal_loss\.scalar\.wasm beside the page failed \(HTTP 404 .*\/esbuild\/focal_loss\.scalar\.wasm\): copy node_modules\/focal-loss\/dist\/focal_loss\.scalar\.wasm there/,
    );
    cpSync(
      join(project, 'node_modules', 'focal-loss', 'dist', 'focal_loss.scalar.wasm'),
      out('esbuild/focal_loss.scalar.wasm'),
    );
    expectExact(await runPage(`esbuild/${page}`));
    expect(wasmRequests('/esbuild/').map((r) => `${r.path} ${r.status}`)).toEqual([
      '/esbuild/focal_loss.scalar.wasm 404',
      '/esbuild/focal_loss.scalar.wasm 200',
    ]);
  });

  test("esbuild, browser, require('focal-loss') (the browser + require condition): the inline CJS entry, zero configuration", async () => {
    await esbuild
      .build({
        entryPoints: [join(project, 'src', 'default-require.cjs')],
        bundle: true,
        format: 'iife',
        platform: 'browser',
        outfile: out('esbuild-require/app.js'),
        logLevel: 'silent',
        metafile: true,
      })
      .then((r) =>
        expect(Object.keys(r.metafile.inputs).some((f) => f.endsWith('focal-loss/dist/inline.cjs'))).toBe(true),
      );
    expectExact(await runPage(`esbuild-require/${writePage(out('esbuild-require'), 'app.js', { module: false })}`));
    expect(wasmRequests('/esbuild-require/')).toEqual([]);
  });

  test("esbuild, Node ESM (platform node, import 'focal-loss/inline'): ready at import, exact", async () => {
    await esbuild.build({
      entryPoints: [join(project, 'src', 'node-inline.mjs')],
      bundle: true,
      format: 'esm',
      platform: 'node',
      outfile: out('node/esm.mjs'),
      logLevel: 'silent',
    });
    const report = nodeReport(out('node/esm.mjs'));
    expectExact(report);
    expect(report.readyAtImport).toBe(true);
  });

  test("esbuild, Node CJS (platform node, format cjs, require('focal-loss/inline')): ready at require, exact, no warnings", async () => {
    const r = await esbuild.build({
      entryPoints: [join(project, 'src', 'node-inline.cjs')],
      bundle: true,
      format: 'cjs',
      platform: 'node',
      outfile: out('node/cjs.cjs'),
      logLevel: 'silent',
    });
    expect(r.warnings).toEqual([]);
    const report = nodeReport(out('node/cjs.cjs'));
    expectExact(report);
    expect(report.readyAtImport).toBe(true);
    // ESM source bundled to CJS: the inline entry has no import.meta, so esbuild has nothing to warn about.
    const fromEsm = await esbuild.build({
      entryPoints: [join(project, 'src', 'node-inline.mjs')],
      bundle: true,
      format: 'cjs',
      platform: 'node',
      outfile: out('node/esm-to-cjs.cjs'),
      logLevel: 'silent',
    });
    expect(fromEsm.warnings).toEqual([]);
    expectExact(nodeReport(out('node/esm-to-cjs.cjs')));
  });

  test("esbuild, Node CJS, require('focal-loss') (the file-based node entry, bundled): a clear error that names the fix", async () => {
    await esbuild.build({
      entryPoints: [join(project, 'src', 'node-default.cjs')],
      bundle: true,
      format: 'cjs',
      platform: 'node',
      outfile: out('node/default.cjs'),
      logLevel: 'silent',
    });
    const r = spawnSync(process.execPath, [out('node/default.cjs')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(
      /focal-loss: .*\/out\/node\/focal_loss\.wasm not found: this code was bundled without the \.wasm beside it\. Import 'focal-loss\/inline'/,
    );
  });

  test("Rollup 4 + @rollup/plugin-node-resolve (browser: true, import 'focal-loss/inline'): exact in Chromium", async () => {
    const warnings: string[] = [];
    const bundle = await rollup({
      input: join(project, 'src', 'inline.js'),
      plugins: [nodeResolve({ browser: true })],
      onwarn: (w) => void warnings.push(w.message),
    });
    await bundle.write({ file: out('rollup/app.js'), format: 'es' });
    await bundle.close();
    expect(warnings).toEqual([]);
    expectExact(await runPage(`rollup/${writePage(out('rollup'), 'app.js')}`));
    expect(wasmRequests('/rollup/')).toEqual([]);
  });

  test("bun build (--target browser, import 'focal-loss/inline'): exact in Chromium", async () => {
    run(
      binary('bun'),
      [
        'build',
        join(project, 'src', 'inline.js'),
        '--target',
        'browser',
        '--format',
        'esm',
        '--outfile',
        out('bun/app.js'),
      ],
      project,
      { BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0' },
    );
    expect(filesUnder(out('bun'))).toEqual(['app.js']);
    expectExact(await runPage(`bun/${writePage(out('bun'), 'app.js')}`));
    expect(wasmRequests('/bun/')).toEqual([]);
  });

  test("edge-runtime + esbuild (conditions edge-light, worker, browser; import 'focal-loss/inline'): ready at load, exact", async () => {
    const edgeVersion = require('edge-runtime/package.json').version as string;
    writeFileSync(
      join(project, 'src', 'edge.js'),
      `import * as api from 'focal-loss/inline';
addEventListener('fetch', (event) => {
  event.respondWith((async () => {
    const readyAtImport = (() => { try { api.wasmMemoryBytes(); return true; } catch { return false; } })();
    const compute = () => {${COMPUTE}
    };
    return Response.json({ readyAtImport, ...compute() });
  })());
});
`,
    );
    const conditions = ['edge-light', 'worker', 'browser'];
    await esbuild.build({
      entryPoints: [join(project, 'src', 'edge.js')],
      bundle: true,
      format: 'iife',
      platform: 'browser',
      conditions,
      outfile: out('edge/edge.js'),
      logLevel: 'silent',
    });
    const runtime = new EdgeRuntime({ initialCode: readFileSync(out('edge/edge.js'), 'utf8') });
    const response = await runtime.dispatchFetch('http://localhost/');
    const report = (await response.json()) as Record<string, unknown>;
    console.log(`edge-runtime ${edgeVersion}`);
    expectExact(report);
    expect(report.readyAtImport).toBe(true);
    // 'focal-loss' itself resolves to the edge-light entry, which imports './focal_loss.wasm?module'
    // for Vercel's bundler (Vercel Edge compiles no WebAssembly from bytes); plain esbuild has no
    // loader for that, hence focal-loss/inline with edge-runtime.
    writeFileSync(
      join(project, 'src', 'edge-default.js'),
      "import { sigmoidFocalLoss } from 'focal-loss'; console.log(sigmoidFocalLoss);",
    );
    await expect(
      esbuild.build({
        entryPoints: [join(project, 'src', 'edge-default.js')],
        bundle: true,
        platform: 'browser',
        conditions,
        write: false,
        logLevel: 'silent',
      }),
    ).rejects.toThrow(/No loader is configured for "\.wasm" files: .*focal_loss\.wasm\?module/);
  });

  // package.json's `sideEffects` must keep each entry's top-level loading (syncEntry / inlineEntry)
  // when a bundler keeps only the imported functions of the package.
  for (const specifier of ['focal-loss', 'focal-loss/inline']) {
    for (const mode of ['production', 'development'] as const) {
      test(`webpack 5 (target node, ${mode}), importing only two losses from '${specifier}': ready at load, exact`, async () => {
        const name = `webpack-node-${mode}-${specifier.replace('/', '-')}`;
        const src = specifier === 'focal-loss' ? 'node-losses.mjs' : 'node-losses-inline.mjs';
        await webpackBuild({
          mode,
          target: 'node',
          entry: `./src/${src}`,
          output: { path: out(name), filename: 'main.cjs', clean: true },
        });
        expectExact(nodeReport(out(`${name}/main.cjs`)));
      });
    }
  }

  test("webpack 5 (target web, production), importing only two losses from 'focal-loss/inline', no init: exact in Chromium", async () => {
    await webpackBuild({
      mode: 'production',
      target: 'web',
      entry: './src/web-losses-inline.js',
      output: { path: out('webpack-web-inline'), filename: 'main.js', clean: true },
    });
    expect(filesUnder(out('webpack-web-inline'))).toEqual(['main.js']);
    expectExact(
      await runPage(`webpack-web-inline/${writePage(out('webpack-web-inline'), 'main.js', { module: false })}`),
    );
  });

  test("Vite 8 (vite build), importing only two losses from 'focal-loss/inline', no init: exact in Chromium", async () => {
    const { build } = await import('vite');
    const dir = join(project, 'vite-inline');
    mkdirSync(dir, { recursive: true });
    cpSync(join(project, 'src', 'web-losses-inline.js'), join(dir, 'main.js'));
    writeFileSync(
      join(dir, 'index.html'),
      '<!doctype html><meta charset="utf-8"><script type="module" src="/main.js"></script>',
    );
    await build({
      root: dir,
      configFile: false,
      logLevel: 'silent',
      base: './',
      build: { outDir: out('vite-inline'), emptyOutDir: true },
    });
    expect(filesUnder(out('vite-inline')).filter((f) => f.endsWith('.wasm'))).toEqual([]);
    expectExact(await runPage('vite-inline/index.html'));
  });

  test("Jest 30 native ESM (node --experimental-vm-modules) + jsdom, import 'focal-loss' + await init(): exact", () => {
    const dir = join(project, 'jest-esm');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'expected.json'), JSON.stringify(expected));
    // Jest's documented native-ESM setup: no transform, `node --experimental-vm-modules`; the test
    // file is an ES module (.mjs). Under jsdom the `browser` + `import` conditions pick the browser entry.
    writeFileSync(
      join(dir, 'jest.config.cjs'),
      `module.exports = { testEnvironment: ${JSON.stringify(require.resolve('jest-environment-jsdom'))}, transform: {}, testMatch: ['**/*.test.mjs'] };`,
    );
    writeFileSync(
      join(dir, 'focal.test.mjs'),
      `import * as api from 'focal-loss';
import { readFileSync, writeFileSync } from 'node:fs';
test('focal-loss under jsdom, native ESM', async () => {
  expect(typeof window).toBe('object');
  await api.init();
  const compute = () => {${COMPUTE}
  };
  const result = compute();
  expect(result).toEqual(JSON.parse(readFileSync(new URL('./expected.json', import.meta.url), 'utf8')));
  writeFileSync(new URL('./report.json', import.meta.url), JSON.stringify(result));
});
`,
    );
    runJest(dir, ['--experimental-vm-modules']);
    expectExact(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Record<string, unknown>);
  });

  test("Jest 30 + jest-environment-jsdom (testEnvironment: 'jsdom', require('focal-loss')): no other setup, exact", () => {
    const dir = join(project, 'jest');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'expected.json'), JSON.stringify(expected));
    // What a user writes: the default Jest config plus testEnvironment 'jsdom' (the environment
    // package's path here, as it is this repository's devDependency, not the consumer's).
    writeFileSync(
      join(dir, 'jest.config.cjs'),
      `module.exports = { testEnvironment: ${JSON.stringify(require.resolve('jest-environment-jsdom'))}, transform: {} };`,
    );
    writeFileSync(
      join(dir, 'focal.test.cjs'),
      `const api = require('focal-loss');
test('focal-loss under jsdom', async () => {
  expect(typeof window).toBe('object'); // jsdom, with no fetch of its own
  const readyAtImport = (() => { try { api.wasmMemoryBytes(); return true; } catch { return false; } })();
  await api.init();
  const compute = () => {${COMPUTE}
  };
  const result = compute();
  expect(result).toEqual(require('./expected.json'));
  const entry = require.resolve('focal-loss');
  require('node:fs').writeFileSync(require('node:path').join(__dirname, 'report.json'), JSON.stringify({ readyAtImport, entry, ...result }));
});
`,
    );
    runJest(dir);
    const { entry, ...report } = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Record<string, unknown>;
    expect(entry).toMatch(/node_modules[\\/]focal-loss[\\/]dist[\\/]inline\.cjs$/); // the browser + require condition
    expectExact(report);
    expect(report.readyAtImport).toBe(true); // Node's V8 compiles synchronously, even under jsdom
  });
});

// ---------------------------------------------------------------- types

describe('the published types stand alone (skipLibCheck: false)', () => {
  const consumerTs = (
    specifier: string,
  ) => `import { init, initSync, softmaxFocalLossWithGrad, sigmoidFocalLoss, type InitInput, type InitSyncInput } from '${specifier}';
export async function main(bytes: Uint8Array): Promise<number> {
  await init();
  initSync(bytes);
  const source: InitInput = 'https://example.com/focal_loss.wasm';
  const syncSource: InitSyncInput = new ArrayBuffer(8);
  void source; void syncSource;
  const r = softmaxFocalLossWithGrad(new Float64Array([2, 0.5, -1, 0, 3, 0.1]), [0, 1], { classes: 3, gamma: 2 });
  const grad: Float64Array = r.grad;
  return r.loss + grad[0] + sigmoidFocalLoss(new Float32Array([3]), new Float32Array([1]));
}
`;
  const variants = [
    {
      name: 'lib ES2022 + @types/node, module node16 (ESM and CJS)',
      lib: ['ES2022'],
      types: ['node'],
      module: 'node16',
    },
    {
      name: 'lib ES2022 alone (no @types/node), moduleResolution bundler',
      lib: ['ES2022'],
      types: [],
      module: 'bundler',
    },
    { name: 'lib ES2022 + DOM, moduleResolution bundler', lib: ['ES2022', 'DOM'], types: [], module: 'bundler' },
  ];
  for (const v of variants) {
    test(v.name, () => {
      const dir = join(project, 'types', v.module + v.lib.join('') + v.types.join(''));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'main.mts'), consumerTs('focal-loss'));
      writeFileSync(join(dir, 'inline.mts'), consumerTs('focal-loss/inline'));
      if (v.module === 'node16') {
        writeFileSync(join(dir, 'main.cts'), consumerTs('focal-loss'));
        writeFileSync(join(dir, 'inline.cts'), consumerTs('focal-loss/inline'));
      }
      const compilerOptions = {
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        target: 'ES2022',
        lib: v.lib,
        types: v.types,
        typeRoots: [join(root, 'node_modules', '@types')],
        ...(v.module === 'node16'
          ? { module: 'node16', moduleResolution: 'node16' }
          : { module: 'ESNext', moduleResolution: 'bundler' }),
      };
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.mts', '*.cts'] }));
      const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', dir], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(tsc.stdout + tsc.stderr).toBe('');
      expect(tsc.status).toBe(0);
    });
  }

  test('init and initSync carry doc comments in the published .d.ts', () => {
    const dts = readFileSync(join(project, 'node_modules', 'focal-loss', 'dist', 'node.d.ts'), 'utf8');
    expect(dts).toMatch(/\/\*\*[^/]*Loads the WebAssembly module; idempotent[\s\S]*?\*\/\s*declare const init:/);
    expect(dts).toMatch(/\/\*\*[^/]*Loads the WebAssembly module synchronously[\s\S]*?\*\/\s*declare const initSync:/);
  });
});
