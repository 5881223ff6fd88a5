// Builds the package: crate/ → dist/focal_loss.wasm (cargo, wasm32-unknown-unknown), ts/ → dist/*.js,
// *.cjs, *.d.ts (tsup). Run by `npm run build`, by `prepare` (so `npm install` in a clone builds
// everything) and by `npm test` with --if-needed (skips when dist/ is newer than every source).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wasmCargo } from './toolchain.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wasmOut = join(root, 'dist', 'focal_loss.wasm');
const jsOut = join(root, 'dist', 'node.js');

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

function upToDate() {
  if (!existsSync(wasmOut) || !existsSync(jsOut)) return false;
  const built = Math.min(statSync(wasmOut).mtimeMs, statSync(jsOut).mtimeMs);
  const sources = ['crate', 'ts', 'Cargo.toml', '.cargo', 'tsup.config.ts', 'package.json'].map((p) => join(root, p));
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

const cargo = wasmCargo();
console.log(`[focal-loss] building focal_loss.wasm with ${cargo.name}`);
run(cargo.cmd, ['build', '--release', '-p', 'focal-loss', ...cargo.args], cargo.env);
mkdirSync(join(root, 'dist'), { recursive: true });
// Remove outputs of earlier builds (tsup's own `clean` would also delete the .wasm copied below).
for (const name of readdirSync(join(root, 'dist'))) {
  if (/\.(js|cjs|d\.ts|d\.cts|map)$/.test(name)) rmSync(join(root, 'dist', name));
}
copyFileSync(join(root, 'target', 'wasm32-unknown-unknown', 'release', 'focal_loss.wasm'), wasmOut);
console.log(`[focal-loss] dist/focal_loss.wasm: ${statSync(wasmOut).size} bytes`);
run(process.execPath, [join(root, 'node_modules', 'tsup', 'dist', 'cli-default.js')]);
