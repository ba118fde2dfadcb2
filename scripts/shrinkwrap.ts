/**
 * `npm pack` ships the lockfile as npm-shrinkwrap.json (prepack) and removes it again (postpack),
 * so `npm install -g dchat-<v>.tgz` installs exactly the tree the tests ran on. Without it npm
 * re-resolves every range for the installer and ignores package.json `overrides` (they apply to
 * the root project only): webtorrent's WebRTC polyfill would then ask for a node-datachannel older
 * than the one we pin, whose install script downloads binaries from GitHub.
 */
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const shrinkwrap = join(root, 'npm-shrinkwrap.json');
if (process.argv[2] === 'remove') rmSync(shrinkwrap, { force: true });
else copyFileSync(join(root, 'package-lock.json'), shrinkwrap);
