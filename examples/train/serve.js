#!/usr/bin/env node
// @ts-check
// `npm run demo:web`: serves the demo pages on 127.0.0.1 (no dependencies). Routes:
//   /            examples/detector/web/index.html  (the detector, trained live; Figures 1 and 4)
//   /classes     examples/train/web/index.html     (the three-cluster classifier)
//   /web/…       examples/train/web/   (the classifier page's script; figure1.js, shared by both pages)
//   /train/…     examples/train/       (train.js, csv.js: the same code `npm run demo:classes` runs)
//   /detector/…  examples/detector/    (detector.js, experiment.js, web/: the same code `npm start` runs)
//   /dist/…      dist/                 (browser.js and focal_loss.wasm, built by `npm install`)
// Options: --port <n> (default 5178, or PORT; 0 picks a free port).
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const MOUNTS = /** @type {const} */ ([
  ['/web/', join(here, 'web')],
  ['/train/', here],
  ['/detector/', join(here, '..', 'detector')],
  ['/dist/', join(root, 'dist')],
]);
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
};

/** The file a URL path maps to, or null (unknown route, or a path escaping its folder). */
function resolve(pathname) {
  if (pathname === '/' || pathname === '/index.html') return join(here, '..', 'detector', 'web', 'index.html');
  if (pathname === '/classes' || pathname === '/classes/') return join(here, 'web', 'index.html');
  for (const [prefix, dir] of MOUNTS) {
    if (!pathname.startsWith(prefix)) continue;
    const base = normalize(dir);
    const file = normalize(join(base, decodeURIComponent(pathname.slice(prefix.length))));
    return file.startsWith(base + sep) ? file : null;
  }
  return null;
}

/**
 * Starts the server; resolves with it and its URL once listening.
 * @param {{ port?: number, host?: string }} [o]
 */
export function startServer(o = {}) {
  const host = o.host ?? '127.0.0.1';
  const server = createServer(async (req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    const file = resolve(pathname);
    try {
      if (!file) throw Object.assign(new Error('not found'), { code: 'ENOENT' });
      const body = await readFile(file);
      res.writeHead(200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Cache-Control': 'no-store',
      });
      res.end(body);
    } catch (error) {
      const missing = ['ENOENT', 'EISDIR', 'ENOTDIR'].includes(/** @type {NodeJS.ErrnoException} */ (error).code ?? '');
      res.writeHead(missing ? 404 : 500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(missing ? `404: ${pathname}\n` : `500: ${/** @type {Error} */ (error).message}\n`);
    }
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 5178, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : o.port;
      resolvePromise({ server, url: `http://${host}:${port}/` });
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (!existsSync(join(root, 'dist', 'browser.js')) || !existsSync(join(root, 'dist', 'focal_loss.wasm'))) {
    console.error(
      'error: dist/browser.js or dist/focal_loss.wasm is missing; run `npm run build` (or `npm install`) first',
    );
    process.exit(1);
  }
  const i = process.argv.indexOf('--port');
  const port = Number(i > 0 ? process.argv[i + 1] : (process.env.PORT ?? 5178));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`error: --port ${process.argv[i + 1]}: expected an integer in [0, 65535]`);
    process.exit(1);
  }
  startServer({ port }).then(
    ({ url }) =>
      console.log(
        `focal-loss demo: ${url}  (the detector; the three-cluster classifier: ${url}classes)  (Ctrl+C to stop)`,
      ),
    (error) => {
      console.error(
        `error: cannot listen on 127.0.0.1:${port}: ${error.message}${error.code === 'EADDRINUSE' ? ' (try --port 0)' : ''}`,
      );
      process.exit(1);
    },
  );
}
