// Makes sure what the tests need beyond npm packages is on this machine: Chromium for the browser
// tests (Debian's package; playwright-core drives it, and its own browser download is not used).
// Installs it with apt-get when run as root on Debian, as `npm install` does for the Rust
// toolchain (scripts/toolchain.mjs); otherwise says exactly what to install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(chromium)) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const installed =
    isRoot &&
    existsSync('/usr/bin/apt-get') &&
    (console.log('[focal-loss] installing chromium with apt-get (for the browser tests)'),
    [
      ['update', '-qq'],
      ['install', '-y', '-qq', 'chromium'],
    ].every((a) => spawnSync('apt-get', a, { stdio: 'inherit', env }).status === 0));
  if (!installed || !existsSync(chromium)) {
    console.error(
      `[focal-loss] the browser tests need Chromium at ${chromium}: install it (Debian/Ubuntu: sudo apt-get install -y chromium),` +
        ' or point CHROMIUM_PATH at a Chromium/Chrome binary; `npm run test:unit` skips the browser and runtime tests',
    );
    process.exit(1);
  }
}
