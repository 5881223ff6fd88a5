// Next.js 16.5 (App Router, React 19), from the packed tarball, with nothing configured: route
// handlers on the edge runtime (`focal-loss` and `focal-loss/inline`), on the Node runtime, the
// README's Vercel Edge example verbatim, and a client component calling `init()` (in Chromium);
// built with `next build` (Turbopack, then `--webpack`) and served by `next start`, and served by
// `next dev`. Every route is fetched over 127.0.0.1 and must return exactly what this process
// computes with the package. One install (next, react, react-dom and the tarball) serves every case.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as api from 'focal-loss';
import { launchChromium } from '../helpers/chromium';
import { root } from '../runtimes/fixture';
import { COMPUTE, LOSSES, expected, freePort, packTarball, pageReport, startServer } from './shared';

const NEXT = '16.5';
const REACT = '19';

let tmp = '';
let project = '';
let browser: Browser;

/** The README's Vercel Edge Functions example, as the README prints it (test/consumers checks it is still there). */
const README_EDGE = `import { sigmoidFocalLoss } from 'focal-loss';          // the edge-light entry: already instantiated
export function POST(req) { return req.json().then((b) => Response.json(sigmoidFocalLoss(Float32Array.from(b.logits), b.targets))); }`;

const readmeBody = { logits: [3, -1, 0.5, 30, -7.5], targets: [1, 0, 1, 1, 0] };

/** A route handler that imports only the two losses COMPUTE calls. */
const route = (specifier: string, runtime: 'edge' | 'nodejs') => `import { ${LOSSES} } from '${specifier}';
export const runtime = '${runtime}';
export function GET() {
  const api = { ${LOSSES} };
  const compute = () => {${COMPUTE}
  };
  return Response.json(compute());
}
`;

const env = { NEXT_TELEMETRY_DISABLED: '1' };

beforeAll(async () => {
  const packed = packTarball('focal-loss-next-');
  tmp = packed.tmp;
  project = join(tmp, 'app');
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'next-consumer', private: true, type: 'module' }),
  );
  // From the registry (~360 MB; from the npm cache in seconds once it has them).
  const install = spawnSync(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      `next@${NEXT}`,
      `react@${REACT}`,
      `react-dom@${REACT}`,
      packed.tarball,
    ],
    { cwd: project, encoding: 'utf8', timeout: 600_000 },
  );
  expect(install.status, `${install.stdout}\n${install.stderr}`).toBe(0);
  const files: Record<string, string> = {
    'app/layout.js':
      'export default function RootLayout({ children }) { return <html><body>{children}</body></html>; }\n',
    'app/edge/route.js': route('focal-loss', 'edge'),
    'app/edge-inline/route.js': route('focal-loss/inline', 'edge'),
    'app/node/route.js': route('focal-loss', 'nodejs'),
    'app/readme/route.js': `${README_EDGE}\nexport const runtime = 'edge';\n`,
    'app/page.js': `'use client';
import { useEffect, useState } from 'react';
import * as api from 'focal-loss';
export default function Page() {
  const [report, setReport] = useState('');
  useEffect(() => {
    const compute = () => {${COMPUTE}
    };
    api.init().then(() => setReport(JSON.stringify(compute())), (e) => setReport(JSON.stringify({ error: String((e && e.stack) || e) })));
  }, []);
  return <pre id="report">{report}</pre>;
}
`,
  };
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(project, name, '..'), { recursive: true });
    writeFileSync(join(project, name), text);
  }
  browser = await launchChromium();
}, 660_000);

afterAll(async () => {
  await browser?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const next = () => join(project, 'node_modules', 'next', 'dist', 'bin', 'next');

/** What each route answered (status and JSON body, or the text of a non-JSON answer), and the page's report. */
async function visit(
  base: string,
  routes = ['/edge', '/edge-inline', '/readme', '/node'],
): Promise<Record<string, unknown>> {
  const answer = async (response: Response) => {
    const text = await response.text();
    try {
      return { status: response.status, body: JSON.parse(text) as unknown };
    } catch {
      return { status: response.status, body: text.slice(0, 300) };
    }
  };
  const got: Record<string, unknown> = {};
  for (const path of routes) {
    const body = path === '/readme' ? JSON.stringify(readmeBody) : undefined;
    got[path] = await answer(
      await fetch(
        base + path,
        path === '/readme' ? { method: 'POST', body, headers: { 'Content-Type': 'application/json' } } : {},
      ),
    );
  }
  const page = await pageReport(browser, `${base}/`, '#report');
  got['/ (client component, Chromium)'] = { report: page.report, errors: page.errors };
  return got;
}

const want = () => ({
  '/edge': { status: 200, body: expected },
  '/edge-inline': { status: 200, body: expected },
  '/node': { status: 200, body: expected },
  '/readme': { status: 200, body: api.sigmoidFocalLoss(Float32Array.from(readmeBody.logits), readmeBody.targets) },
  '/ (client component, Chromium)': { report: expected, errors: [] },
});

describe(`Next.js ${NEXT} App Router (React ${REACT}), from the packed tarball, nothing configured`, () => {
  test('the README still carries the Vercel Edge example this suite copies', () => {
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain(README_EDGE.split('\n')[1]);
  });

  // `next build --webpack` in Next.js 16.5 builds no edge route handler at all, ours or not (a route
  // returning `Response.json({ a: 1 })` with `runtime = 'edge'` fails the same way: "Failed to collect
  // page data", ENOENT …/route_client-reference-manifest.js). So with webpack the edge routes are
  // moved to private folders (`_name`, which the App Router does not route) and the Node route and the
  // client component are checked; Turbopack (the default) builds and serves every route.
  const edgeRoutes = ['/edge', '/edge-inline', '/readme'];
  for (const bundler of ['Turbopack', 'webpack'] as const) {
    const routes =
      bundler === 'webpack'
        ? 'the Node route and the client component'
        : 'edge, edge /inline, Node, README edge routes and the client component';
    test(`next build${bundler === 'webpack' ? ' --webpack' : ''} (${bundler}) + next start: ${routes}, exact`, async () => {
      rmSync(join(project, '.next'), { recursive: true, force: true }); // the other bundler's output
      const hidden = bundler === 'webpack' ? edgeRoutes : [];
      for (const path of hidden) renameSync(join(project, 'app', path), join(project, 'app', `_${path.slice(1)}`));
      let build: ReturnType<typeof spawnSync>;
      try {
        build = spawnSync(process.execPath, [next(), 'build', ...(bundler === 'webpack' ? ['--webpack'] : [])], {
          cwd: project,
          encoding: 'utf8',
          timeout: 300_000,
          env: { ...process.env, ...env },
        });
      } finally {
        for (const path of hidden) renameSync(join(project, 'app', `_${path.slice(1)}`), join(project, 'app', path));
      }
      expect(build.status, `${build.stdout}\n${build.stderr}`).toBe(0);
      const port = await freePort();
      const server = await startServer(
        [next(), 'start', '-H', '127.0.0.1', '-p', String(port)],
        project,
        `http://127.0.0.1:${port}/_not-found`,
        env,
      );
      try {
        const got = await visit(
          `http://127.0.0.1:${port}`,
          bundler === 'webpack' ? ['/node'] : [...edgeRoutes, '/node'],
        );
        const wanted = want();
        for (const path of hidden) delete wanted[path as keyof typeof wanted];
        expect(got, server.output()).toEqual(wanted);
      } finally {
        await server.stop();
      }
    }, 420_000);
  }

  test('next dev (Turbopack): the same routes and page, exact', async () => {
    const port = await freePort();
    const server = await startServer(
      [next(), 'dev', '-H', '127.0.0.1', '-p', String(port)],
      project,
      `http://127.0.0.1:${port}/_not-found`,
      env,
    );
    try {
      const got = await visit(`http://127.0.0.1:${port}`);
      expect(got, server.output()).toEqual(want());
    } finally {
      await server.stop();
    }
  }, 420_000);
});
