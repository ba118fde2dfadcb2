/** All three executables answer --version and --help with exit 0 (spec/CLI.md conventions). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { type BinName, describeRun, REPO_ROOT, runBin } from '../helpers/cli.ts';

const VERSION = JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')).version as string;

describe('executables', { concurrency: true }, () => {
  for (const bin of ['dchat', 'dchat-sign', 'dchat-test'] as BinName[]) {
    test(`${bin} --version prints the package version, exit 0`, async () => {
      const r = await runBin(bin, ['--version']);
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(r.stdout, `${VERSION}\n`);
      assert.equal(r.stderr, '');
    });

    test(`${bin} --help prints usage, exit 0`, async () => {
      const r = await runBin(bin, ['--help']);
      assert.equal(r.code, 0, describeRun(r));
      assert.match(r.stdout, new RegExp(`^Usage: ${bin} `));
      assert.match(r.stdout, /--home <dir>/);
      assert.match(r.stdout, /--json/);
    });
  }

  test('subcommand help exits 0 too (dchat release publish --help)', async () => {
    const r = await runBin('dchat', ['release', 'publish', '--help']);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout, /--package <file>/);
  });

  test('an unknown command is a usage error: exit 2, error[E_USAGE] on stderr, no stack trace', async () => {
    const r = await runBin('dchat', ['frobnicate']);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /^error\[E_USAGE\]: .*frobnicate/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
