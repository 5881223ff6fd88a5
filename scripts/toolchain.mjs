// Finds a Rust toolchain that can build wasm32-unknown-unknown, installing Debian's when allowed.
//
// Preferred: a rustup toolchain with the wasm32-unknown-unknown target (what most machines have:
// `rustup target add wasm32-unknown-unknown`). Fallback: Debian's rustc-web / cargo-web with the
// standard library's source (rust-web-src), which builds `std` for wasm32 itself with
// `-Zbuild-std` (RUSTC_BOOTSTRAP unlocks that flag on a stable compiler).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const DEBIAN_PACKAGES = ['rustc-web', 'cargo-web', 'rust-web-src', 'lld-22'];
const DEBIAN_SRC = '/usr/lib/rustlib/src/rust/library';

function run(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
}

function rustupHasWasm() {
  const installed = run('rustup', ['target', 'list', '--installed']);
  return installed?.split('\n').includes('wasm32-unknown-unknown');
}

function debianReady() {
  return existsSync('/usr/bin/cargo') && existsSync('/usr/bin/rustc') && existsSync(`${DEBIAN_SRC}/vendor`);
}

function installDebian() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !existsSync('/usr/bin/apt-get')) return false;
  console.log(`[focal-loss] installing ${DEBIAN_PACKAGES.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', ...DEBIAN_PACKAGES],
  ]) {
    if (spawnSync('apt-get', args, { stdio: 'inherit', env }).status !== 0) return false;
  }
  return debianReady();
}

/** Returns { cmd, args, env } for `cargo build --release --target wasm32-unknown-unknown`. */
export function wasmCargo() {
  const target = ['--target', 'wasm32-unknown-unknown'];
  if (rustupHasWasm()) {
    return { name: 'rustup', cmd: 'cargo', args: target, env: process.env };
  }
  if (debianReady() || installDebian()) {
    return {
      name: 'debian rustc-web',
      cmd: '/usr/bin/cargo',
      args: [
        ...target,
        '-Zbuild-std=std,panic_abort',
        // A panic (none is reachable from validated input) traps at once instead of formatting a
        // message first: the same trap for the engine, without std's panic and formatting code
        // (about a quarter of the module). Needs the standard library built here, hence this route only.
        '-Zpanic-immediate-abort',
        '--config',
        'profile.release.panic="immediate-abort"',
        '--config',
        'source.crates-io.replace-with="debian-vendor"',
        '--config',
        `source.debian-vendor.directory="${DEBIAN_SRC}/vendor"`,
      ],
      // rustup's rustc (first on PATH) has no wasm32 std: point cargo at Debian's compiler.
      env: { ...process.env, RUSTC: '/usr/bin/rustc', RUSTDOC: '/usr/bin/rustdoc', RUSTC_BOOTSTRAP: '1' },
    };
  }
  console.error(
    [
      '[focal-loss] No Rust toolchain that can build wasm32-unknown-unknown was found.',
      'Install one of:',
      '  rustup target add wasm32-unknown-unknown            (with rustup, https://rustup.rs)',
      `  sudo apt-get install -y ${DEBIAN_PACKAGES.join(' ')}   (Debian / Ubuntu)`,
    ].join('\n'),
  );
  process.exit(1);
}

/** A cargo for native builds and tests: rustup's if present, else Debian's. */
export function nativeCargo() {
  if (run('cargo', ['--version']) !== null) return { cmd: 'cargo', env: process.env };
  if (existsSync('/usr/bin/cargo')) return { cmd: '/usr/bin/cargo', env: { ...process.env, RUSTC: '/usr/bin/rustc' } };
  console.error("[focal-loss] cargo not found: install Rust (rustup) or Debian's cargo-web");
  process.exit(1);
}
