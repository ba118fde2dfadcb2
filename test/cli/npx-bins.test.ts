/**
 * spec/CLI.md: "From a checkout after `npm ci` they run as `npx dchat ...`". npm never links a
 * project's own bins, so scripts/link-bins.ts does (the build and `prepare` run it): all three
 * must resolve through node_modules/.bin, without the registry.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/cli.ts';

for (const bin of ['dchat', 'dchat-sign', 'dchat-test']) {
  test(`npx ${bin} --version runs the built bin from node_modules/.bin`, () => {
    const r = spawnSync('npx', ['--offline', '--no-install', bin, '--version'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  });
}
