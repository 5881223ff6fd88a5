// `node scripts/cargo.mjs test` runs the crate's native tests with whichever cargo is available.
import { spawnSync } from 'node:child_process';
import { nativeCargo } from './toolchain.mjs';

const { cmd, env } = nativeCargo();
const r = spawnSync(cmd, [...process.argv.slice(2), '--workspace'], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
