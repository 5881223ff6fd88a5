// `node scripts/cargo.mjs <check>` runs one of the crate's native checks with whichever cargo is available:
//   test    cargo test --workspace
//   fmt     cargo fmt --all -- --check      (rustfmt.toml: 120 columns)
//   clippy  cargo clippy --workspace --all-targets -- -D warnings
import { spawnSync } from 'node:child_process';
import { nativeCargo } from './toolchain.mjs';

const CHECKS = {
  test: ['test', '--workspace'],
  fmt: ['fmt', '--all', '--', '--check'],
  clippy: ['clippy', '--workspace', '--all-targets', '--', '-D', 'warnings'],
};
const args = CHECKS[process.argv[2]];
if (!args) {
  console.error(`usage: node scripts/cargo.mjs ${Object.keys(CHECKS).join('|')}`);
  process.exit(2);
}
const { cmd, env } = nativeCargo();
const r = spawnSync(cmd, args, { stdio: 'inherit', env });
process.exit(r.status ?? 1);
