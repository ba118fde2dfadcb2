/**
 * Runs after `npm ci` (the `prepare` script, after the build): links this package's own bins into
 * node_modules/.bin, so a checkout runs `npx dchat`, `npx dchat-sign` and `npx dchat-test` as
 * spec/CLI.md says. npm links the bins of dependencies, never those of the project itself.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
const binDir = join(root, 'node_modules', '.bin');
mkdirSync(binDir, { recursive: true });
for (const [name, file] of Object.entries(pkg.bin)) {
  const target = join(root, file);
  chmodSync(target, 0o755);
  const link = join(binDir, name);
  rmSync(link, { force: true });
  symlinkSync(relative(binDir, target), link);
}
