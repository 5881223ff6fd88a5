// Vite 6, 7 and 8 from the packed tarball, nothing configured: `vite` (the dev server, whose
// dependency pre-bundling moves the package's code to node_modules/.vite/deps/) and `vite build`,
// each page opened in Chromium, computing exactly what this process computes with the package.
// Vite 6 and 7 are installed from the registry into their own projects; Vite 8 is this repository's.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { launchChromium } from '../helpers/chromium';
import { root } from '../runtimes/fixture';
import { COMPUTE, expectExact, freePort, packTarball, pageReport, startServer } from './shared';

const versions = ['6', '7', '8'] as const;
type Major = (typeof versions)[number];

let tmp = '';
let browser: Browser;
let server: Server;
let base = '';
const projects = {} as Record<Major, string>;

/** What the README says a page writes: import, `await init()`, call. */
const MAIN = `import * as api from 'focal-loss';
const compute = () => {${COMPUTE}
};
(async () => {
  try {
    await api.init();
    globalThis.__report = compute();
  } catch (error) {
    globalThis.__report = { error: String((error && error.stack) || error) };
  }
})();
`;

/** `npm install` in `cwd`, asynchronously (the two registry installs run side by side). */
function install(cwd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['install', '--no-audit', '--no-fund', ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d) => void (log += String(d)));
    child.stderr.on('data', (d) => void (log += String(d)));
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`npm install ${args.join(' ')} in ${cwd} failed:\n${log}`)),
    );
  });
}

const viteBin = (major: Major) =>
  major === '8'
    ? join(root, 'node_modules', 'vite', 'bin', 'vite.js')
    : join(projects[major], 'node_modules', 'vite', 'bin', 'vite.js');

beforeAll(async () => {
  const packed = packTarball('focal-loss-vite-');
  tmp = packed.tmp;
  const installs: Promise<void>[] = [];
  for (const major of versions) {
    const dir = (projects[major] = join(tmp, `vite${major}`));
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: `vite${major}-consumer`, private: true, type: 'module' }),
    );
    writeFileSync(
      join(dir, 'index.html'),
      '<!doctype html><meta charset="utf-8"><script type="module" src="/main.js"></script>',
    );
    writeFileSync(join(dir, 'main.js'), MAIN);
    installs.push(
      install(
        dir,
        major === '8'
          ? ['--offline', '--ignore-scripts', packed.tarball]
          : ['--prefer-offline', `vite@${major}`, packed.tarball],
      ),
    );
  }
  await Promise.all(installs);
  for (const major of versions) {
    const version = JSON.parse(readFileSync(join(viteBin(major), '..', '..', 'package.json'), 'utf8'))
      .version as string;
    expect(version.split('.')[0]).toBe(major);
  }
  // The built pages, served as a static host would (dist/ of each project).
  server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname));
    const [, major, ...rest] = path.split('/');
    // /spa-html/… and /spa-octet/…: Vite 8's build without its .wasm files, on a host that answers a
    // missing file with index.html (HTTP 200), as text/html or as application/octet-stream.
    const spa = /^spa-(html|octet)$/.exec(major)?.[1];
    const file = spa ? join(tmp, 'spa', ...rest) : join(projects[major as Major] ?? '/nonexistent', 'dist', ...rest);
    if (spa && !existsSync(file)) {
      return void res
        .writeHead(200, { 'Content-Type': spa === 'html' ? 'text/html; charset=utf-8' : 'application/octet-stream' })
        .end(readFileSync(join(tmp, 'spa', 'index.html')));
    }
    if (path.includes('..') || !existsSync(file) || !statSync(file).isFile())
      return void res.writeHead(404).end('not found');
    const types: Record<string, string> = {
      '.html': 'text/html',
      '.js': 'text/javascript',
      '.wasm': 'application/wasm',
    };
    res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("Vite dev server and build, from the packed tarball, import 'focal-loss' + await init(), nothing configured", () => {
  for (const major of versions) {
    test(`Vite ${major} dev server (dependency pre-bundling on): exact in Chromium`, async () => {
      const port = await freePort();
      const dev = await startServer(
        [viteBin(major), '--host', '127.0.0.1', '--port', String(port), '--strictPort'],
        projects[major],
        `http://127.0.0.1:${port}/`,
      );
      try {
        const { report, errors } = await pageReport(browser, `http://127.0.0.1:${port}/`);
        expectExact(report);
        expect(errors).toEqual([]);
        // The package was pre-bundled (the case this test is about), not served from its folder.
        expect(existsSync(join(projects[major], 'node_modules', '.vite', 'deps', 'focal-loss.js')), dev.output()).toBe(
          true,
        );
      } finally {
        await dev.stop();
      }
    });

    test(`Vite ${major} build (base './'): both .wasm files emitted, exact in Chromium`, async () => {
      const r = spawnSync(process.execPath, [viteBin(major), 'build', '--base', './'], {
        cwd: projects[major],
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, NO_COLOR: '1' },
      });
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/focal_loss-[\w-]+\.wasm/);
      expect(r.stdout).toMatch(/focal_loss\.scalar-[\w-]+\.wasm/);
      const { report, errors } = await pageReport(browser, `${base}/${major}/index.html`);
      expectExact(report);
      expect(errors).toEqual([]);
    });
  }

  test("a host that answers the .wasm request with a page instead (HTTP 200): init() rejects with the package's error, saying what happened and what to do", async () => {
    // Vite 8's build from the test above, without its .wasm files.
    cpSync(join(projects['8'], 'dist'), join(tmp, 'spa'), { recursive: true, filter: (f) => !f.endsWith('.wasm') });
    const html = await pageReport(browser, `${base}/spa-html/index.html`);
    expect(html.report.error).toMatch(
      /^Error: focal-loss: fetching focal_loss\.wasm from http:\/\/127\.0\.0\.1:\d+\/spa-html\/assets\/focal_loss-[\w-]+\.wasm returned an HTML page \(HTTP 200, Content-Type text\/html; charset=utf-8\), not WebAssembly: .*In Vite, add `optimizeDeps: \{ exclude: \['focal-loss'\] \}` to vite\.config; elsewhere, serve node_modules\/focal-loss\/dist\/focal_loss\.wasm and pass its URL to init\(url\)/,
    );
    const octet = await pageReport(browser, `${base}/spa-octet/index.html`);
    // "<!do": the page's first bytes, not WebAssembly's magic number 00 61 73 6d.
    expect(octet.report.error).toMatch(
      /^Error: focal-loss: fetching focal_loss\.wasm from http:\/\/127\.0\.0\.1:\d+\/spa-octet\/assets\/focal_loss-[\w-]+\.wasm returned \d+ bytes starting 3c 21 64 6f \(Content-Type application\/octet-stream\), not WebAssembly/,
    );
  });

  test("Vite 6 build of the README's top-level `await init()`: refused under Vite 6's default target (es2020 …), built with `--target es2022`", () => {
    const dir = join(projects['6'], 'tla');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'index.html'),
      '<!doctype html><meta charset="utf-8"><script type="module" src="./main.js"></script>',
    );
    writeFileSync(
      join(dir, 'main.js'),
      "import { init, sigmoidFocalLoss } from 'focal-loss';\nawait init();\nglobalThis.__report = sigmoidFocalLoss(new Float32Array([3, -1]), new Uint8Array([1, 0]));\n",
    );
    const build = (...args: string[]) =>
      spawnSync(
        process.execPath,
        [viteBin('6'), 'build', dir, '--outDir', join(dir, 'dist'), '--emptyOutDir', ...args],
        { cwd: projects['6'], encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } },
      );
    const byDefault = build();
    expect(byDefault.status).not.toBe(0);
    expect(byDefault.stdout + byDefault.stderr).toMatch(
      /Top-level await is not available in the configured target environment/,
    );
    const es2022 = build('--target', 'es2022');
    expect(es2022.status, es2022.stdout + es2022.stderr).toBe(0);
  });
});
