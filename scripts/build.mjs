// Builds the package: crate/ → dist/focal_loss.wasm (cargo, wasm32-unknown-unknown, with SIMD128) and
// dist/focal_loss.scalar.wasm (without), each then optimised by wasm-opt (scripts/wasm-opt.mjs, as
// wasm-pack does), ts/ → dist/*.js, *.cjs, *.d.ts (tsup). Run by `npm run build`, by `prepare` (so
// `npm install` in a clone builds everything) and by `npm test` with --if-needed (skips when dist/ is
// newer than every source).
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { wasmCargo } from './toolchain.mjs';
import { loadBinaryen, optimize, WASM_OPT_LEVEL } from './wasm-opt.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wasmOut = join(root, 'dist', 'focal_loss.wasm');
// The same crate without SIMD128, for runtimes that lack it (the entries pick it via simdSupported()).
const scalarOut = join(root, 'dist', 'focal_loss.scalar.wasm');
const jsOut = join(root, 'dist', 'node.js');

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

function upToDate() {
  if (!existsSync(wasmOut) || !existsSync(scalarOut) || !existsSync(jsOut)) return false;
  const built = Math.min(statSync(wasmOut).mtimeMs, statSync(jsOut).mtimeMs);
  const sources = [
    'crate',
    'ts',
    'Cargo.toml',
    '.cargo',
    'tsup.config.ts',
    'package.json',
    'scripts/build.mjs',
    'scripts/wasm-opt.mjs',
  ].map((p) => join(root, p));
  return sources.filter(existsSync).every((p) => newest(p) <= built);
}

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) {
    console.error(`[focal-loss] failed: ${cmd} ${args.join(' ')}`);
    process.exit(r.status ?? 1);
  }
}

if (process.argv.includes('--if-needed') && upToDate()) {
  console.log('[focal-loss] dist/ is up to date');
  process.exit(0);
}

/**
 * The directory of an installed package (found as Node finds a package's root, so packages whose
 * `exports` do not list ./package.json are found too), or null.
 */
function packageDir(name) {
  for (const dir of createRequire(join(root, 'package.json')).resolve.paths(name) ?? []) {
    if (existsSync(join(dir, name, 'package.json'))) return join(dir, name);
  }
  return null;
}

/** The JS file of a package's command (its package.json `bin`), or null if the package is missing. */
function packageBin(name, command) {
  const dir = packageDir(name);
  if (!dir) return null;
  const { bin } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const file = typeof bin === 'string' ? bin : bin?.[command];
  return file ? resolve(dir, file) : null;
}

// The devDependencies the build runs, checked before minutes of Rust compilation (`npm pack` or
// `npm run build` in a fresh clone without `npm ci` would otherwise fail only at the end).
const tsup = packageBin('tsup', 'tsup');
const binaryen = process.argv.includes('--floor') ? null : await loadBinaryen(root);
const missing = [!tsup && 'tsup', !process.argv.includes('--floor') && !binaryen && 'binaryen'].filter(Boolean);
if (missing.length > 0) {
  console.error(
    `[focal-loss] cannot build: ${missing.join(' and ')} (devDependencies) ${missing.length > 1 ? 'are' : 'is'} not installed.\n` +
      '  Run `npm ci` (or `npm install`) in this clone first: `npm run build`, `npm pack` and `npm publish` need the devDependencies.',
  );
  process.exit(1);
}

const cargo = wasmCargo();

/**
 * `cargo build --release -p <pkg>` for wasm32 in its own target dir (so the SIMD and scalar builds
 * do not invalidate each other); returns the path of `<lib>.wasm`. The extra rustflags are
 * appended to .cargo/config.toml's (cargo joins config arrays; RUSTFLAGS would replace them).
 */
function buildWasm(pkg, lib, targetDir, simd) {
  const flags = simd ? '["-C", "target-feature=+simd128"]' : '[]';
  console.log(`[focal-loss] building ${lib}.wasm (${simd ? 'SIMD128' : 'scalar'}) with ${cargo.name}`);
  run(
    cargo.cmd,
    [
      'build',
      '--release',
      '-p',
      pkg,
      '--target-dir',
      join(root, 'target', targetDir),
      '--config',
      `target.wasm32-unknown-unknown.rustflags=${flags}`,
      ...cargo.args,
    ],
    cargo.env,
  );
  return join(root, 'target', targetDir, 'wasm32-unknown-unknown', 'release', `${lib}.wasm`);
}

/** Prints a .wasm's size and fails if it imports anything (the loaders pass an empty import object). */
function report(file) {
  const module = new WebAssembly.Module(readFileSync(file));
  const imports = WebAssembly.Module.imports(module);
  console.log(
    `[focal-loss] ${relative(root, file)}: ${(statSync(file).size / 1024).toFixed(1)} KiB, ${imports.length} imports`,
  );
  if (imports.length > 0) {
    console.error(
      `[focal-loss] ${file} must import nothing, but imports ${imports.map((i) => `${i.module}.${i.name}`).join(', ')}`,
    );
    process.exit(1);
  }
}

if (process.argv.includes('--floor')) {
  // The benchmark's floor kernel (bench/floor): one SIMD exp and one store per element.
  const out = join(root, 'bench', 'floor', 'floor.wasm');
  copyFileSync(buildWasm('focal-loss-floor', 'focal_loss_floor', 'wasm-floor', true), out);
  report(out);
  process.exit(0);
}

const simdBuilt = buildWasm('focal-loss', 'focal_loss', 'wasm-simd', true);
const scalarBuilt = buildWasm('focal-loss', 'focal_loss', 'wasm-scalar', false);
mkdirSync(join(root, 'dist'), { recursive: true });
// Remove outputs of earlier builds (tsup's own `clean` would also delete the .wasm copied below).
for (const name of readdirSync(join(root, 'dist'))) {
  if (/\.(js|cjs|d\.ts|d\.cts|map)$/.test(name)) rmSync(join(root, 'dist', name));
}
// wasm-opt (Binaryen) at WASM_OPT_LEVEL: same semantics, no fast math, only the features the
// module already uses (scripts/wasm-opt.mjs). test/wasm-opt.test.ts checks that every vector case
// gives the same bits from dist/ as from cargo's output in target/.
for (const [built, out] of [
  [simdBuilt, wasmOut],
  [scalarBuilt, scalarOut],
]) {
  const before = readFileSync(built);
  const { bytes, features } = optimize(binaryen, new Uint8Array(before), WASM_OPT_LEVEL);
  writeFileSync(out, bytes);
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(
    `[focal-loss] wasm-opt ${WASM_OPT_LEVEL} ${relative(root, out)}: ${kib(before.length)} → ${kib(bytes.length)}, ` +
      `gzipped ${kib(gzipSync(before, { level: 9 }).length)} → ${kib(gzipSync(bytes, { level: 9 }).length)} (features: ${features.join(', ')})`,
  );
}
report(wasmOut);
report(scalarOut);
run(process.execPath, [tsup]);
