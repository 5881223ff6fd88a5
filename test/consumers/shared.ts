// What the consumer suites (test/consumers/*.test.ts) share: the packed tarball, the computation
// every consumer runs and the values it must return (this process's, with the package), servers
// started as child processes (stopped by their process group's id), and Chromium pages.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { expect } from 'vitest';
import * as api from 'focal-loss';
import { root, run } from '../runtimes/fixture';

/** The body every consumer runs (`api` holds the package's functions), returning JSON-safe numbers. */
export const COMPUTE = `
  const soft = api.softmaxFocalLossWithGrad(new Float64Array([2, 0.5, -1, 0, 3, 0.1, 30, 0, 0]), [0, 1, 0], { classes: 3, gamma: 0.5, alpha: [0.25, 0.5, 1] });
  const sig = api.sigmoidFocalLossWithGrad(new Float32Array([3, -1, 0.5, 30, -7.5]), new Float32Array([1, 0, 0.5, 1, 0]), { gamma: 2, reduction: 'none' });
  return { softLoss: soft.loss, softGrad: Array.from(soft.grad), sigLoss: Array.from(sig.loss), sigGrad: Array.from(sig.grad) };`;

/** The two functions COMPUTE calls: what a consumer that imports "only a loss" imports. */
export const LOSSES = 'softmaxFocalLossWithGrad, sigmoidFocalLossWithGrad';

// eslint-disable-next-line @typescript-eslint/no-implied-eval
export const expected = new Function('api', COMPUTE)(api) as Record<string, unknown>;

/** The result, without the readiness flag, must be exactly this process's (bit for bit: JSON numbers round-trip). */
export function expectExact(report: Record<string, unknown>): void {
  expect(report.error).toBeUndefined();
  const { readyAtImport: _ready, ...values } = report;
  expect(values).toEqual(expected);
}

/**
 * `npm pack` of this repository into a new temp folder: the tarball and the folder. (FOCAL_LOSS_TARBALL
 * names another tarball instead: how these suites were run against an earlier build, to see them fail.)
 */
export function packTarball(prefix: string): { tmp: string; tarball: string } {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  if (process.env.FOCAL_LOSS_TARBALL) return { tmp, tarball: process.env.FOCAL_LOSS_TARBALL };
  const packed = JSON.parse(
    run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], root).stdout,
  ) as { filename: string }[];
  return { tmp, tarball: join(tmp, packed[0].filename) };
}

/** A TCP port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A server started as a child process (its own process group), with what it printed. */
export interface Started {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Starts `node <args>` in `cwd` and waits until `url` answers (any HTTP status); stop() ends its process group. */
export async function startServer(
  args: string[],
  cwd: string,
  url: string,
  env: Record<string, string> = {},
  timeoutMs = 90_000,
): Promise<Started> {
  const child = spawn(process.execPath, args, {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  let log = '';
  child.stdout?.on('data', (d) => void (log += String(d)));
  child.stderr?.on('data', (d) => void (log += String(d)));
  let exited = false;
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve(void (exited = true))));
  const stop = async () => {
    if (!exited && child.pid) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const forced = setTimeout(() => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 5_000);
      await done;
      clearTimeout(forced);
    }
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`${args.join(' ')} exited before answering:\n${log}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(5_000) });
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`${args.join(' ')}: no answer from ${url} in ${timeoutMs / 1000} s:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  return { child, output: () => log, stop };
}

/** Opens a page and waits for `globalThis.__report` (or, with `selector`, for JSON text in that element). */
export async function pageReport(
  browser: Browser,
  url: string,
  selector?: string,
): Promise<{ report: Record<string, unknown>; errors: string[] }> {
  const context = await browser.newContext();
  try {
    const tab = await context.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(String(e)));
    await tab.goto(url);
    if (selector) {
      await tab.waitForFunction((s) => (document.querySelector(s)?.textContent ?? '') !== '', selector, {
        timeout: 90_000,
      });
      return { report: JSON.parse((await tab.textContent(selector)) ?? '') as Record<string, unknown>, errors };
    }
    await tab.waitForFunction(() => (globalThis as { __report?: unknown }).__report !== undefined, undefined, {
      timeout: 90_000,
    });
    return {
      report: (await tab.evaluate(() => (globalThis as unknown as { __report: unknown }).__report)) as Record<
        string,
        unknown
      >,
      errors,
    };
  } finally {
    await context.close();
  }
}
