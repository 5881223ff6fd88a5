// Shared setup of the runtime tests: a throwaway project in which `focal-loss` is installed as a
// user would have it (node_modules/focal-loss = package.json + the built dist/ files), the vectors
// harness bundled for each runtime, and where to find the runtimes' binaries in node_modules.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { peerVectors } from '../helpers/peers';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import type { RuntimeReport } from './harness';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const dist = join(root, 'dist');
export const vectorsPath = join(root, 'test', 'vectors', 'vectors.json');
const require = createRequire(import.meta.url);

export interface Report extends RuntimeReport {
  runtime: string;
  version: string;
  /** The file the package name resolved to in that runtime. */
  entry: string;
  /** The error of a call made before the module was loaded (null: the entry is ready at import). */
  beforeInit?: string | null;
  /** Same, while `init()` is pending (browser entry). */
  duringInit?: string | null;
}

/** A temp project with focal-loss in node_modules (a copy of the package), the harness and the vectors. */
export function makeFixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'focal-loss-rt-'));
  const pkg = join(dir, 'node_modules', 'focal-loss');
  mkdirSync(join(pkg, 'dist'), { recursive: true });
  copyFileSync(join(root, 'package.json'), join(pkg, 'package.json'));
  for (const f of readdirSync(dist)) copyFileSync(join(dist, f), join(pkg, 'dist', f));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fixture', private: true, type: 'module' }));
  writeFileSync(join(dir, 'vectors.json'), JSON.stringify(allVectors()));
  return dir;
}

export function removeFixture(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Bundles test/runtimes/harness.ts (and the checker it uses) into one file of the given format. */
export async function bundleHarness(outfile: string, format: 'esm' | 'cjs'): Promise<void> {
  await build({
    entryPoints: [join(root, 'test', 'runtimes', 'harness.ts')],
    bundle: true,
    format,
    outfile,
    platform: 'neutral',
    target: 'es2022',
    logLevel: 'silent',
  });
}

/**
 * Bundles a worker script as the host's bundler would: resolving `focal-loss` with the given export
 * conditions, keeping `.wasm` imports for the host (`wasm` plugin decides what they become).
 */
export async function bundleWorker(opts: {
  entry: string;
  outfile: string;
  conditions: string[];
  format: 'esm' | 'iife';
  plugins?: Plugin[];
}): Promise<void> {
  await build({
    entryPoints: [opts.entry],
    bundle: true,
    format: opts.format,
    outfile: opts.outfile,
    platform: 'browser',
    conditions: opts.conditions,
    target: 'es2022',
    logLevel: 'silent',
    plugins: opts.plugins ?? [],
    external: ['*.wasm'],
  });
}

/** A binary from a platform package (the wrapper in node_modules/.bin needs the postinstall step). */
export function binary(name: 'deno' | 'bun'): string {
  const candidates =
    name === 'deno'
      ? [
          ['@deno/linux-x64-glibc', 'deno'],
          ['@deno/linux-arm64-glibc', 'deno'],
          ['@deno/darwin-x64', 'deno'],
          ['@deno/darwin-arm64', 'deno'],
        ]
      : [
          ['@oven/bun-linux-x64', 'bin/bun'],
          ['@oven/bun-linux-x64-baseline', 'bin/bun'],
          ['@oven/bun-linux-aarch64', 'bin/bun'],
          ['@oven/bun-darwin-aarch64', 'bin/bun'],
          ['@oven/bun-darwin-x64', 'bin/bun'],
        ];
  for (const [pkg, file] of candidates) {
    try {
      const path = join(dirname(require.resolve(`${pkg}/package.json`)), file);
      if (existsSync(path)) return path;
    } catch {
      /* not this platform */
    }
  }
  return join(root, 'node_modules', '.bin', name);
}

/** Runs a command; throws with its output if it fails. */
export function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 120_000,
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** The last line of stdout that is a JSON object: the report a script printed. */
export function parseReport(stdout: string): Report {
  const line = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no report in output:\n${stdout.slice(0, 2000)}`);
  return JSON.parse(line) as Report;
}

/** The shared mpmath vectors and the peers' vectors (test/helpers/peers.ts): what every runtime checks. */
export function allVectors(): { generated: string; cases: { dtypes: string[] }[] } {
  const json = JSON.parse(readFileSync(vectorsPath, 'utf8'));
  const peers = JSON.parse(readFileSync(join(root, 'test', 'vectors', 'peers', 'peers.json'), 'utf8'));
  return { generated: json.generated, cases: [...json.cases, ...(peerVectors(peers) as { dtypes: string[] }[])] };
}

let allFile: string | undefined;
/** allVectors() written once to a temp file (for runtimes and scripts that read a path). */
export function allVectorsFile(): string {
  if (!allFile) {
    allFile = join(mkdtempSync(join(tmpdir(), 'focal-loss-vectors-')), 'vectors.json');
    writeFileSync(allFile, JSON.stringify(allVectors()));
  }
  return allFile;
}

/** Number of (case, dtype) pairs in the vectors: what every runtime must have checked. */
export function vectorPairs(): number {
  return allVectors().cases.reduce((n, c) => n + c.dtypes.length, 0);
}
