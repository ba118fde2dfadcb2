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

  test('--version after the global flags (--home DIR, --json) still prints the version', async () => {
    for (const args of [
      ['--home', '/nonexistent/h', '--version'],
      ['--json', '--home=/x', '--version'],
    ]) {
      const r = await runBin('dchat', args);
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(r.stdout, `${VERSION}\n`);
    }
    const r = await runBin('dchat', ['update', 'download', '--version']);
    assert.equal(r.code, 2, describeRun(r));
  });

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

describe('--help on a command that does not exist', { concurrency: true }, () => {
  for (const [bin, args] of [
    ['dchat-test', ['chaos-nonexistent', '--help']],
    ['dchat', ['release', 'frobnicate', '--help']],
    ['dchat', ['--home', '/tmp/x', 'frobnicate', '-h']],
  ] as [BinName, string[]][]) {
    test(`${bin} ${args.join(' ')}: unknown command, exit 2 (not the parent's help and exit 0)`, async () => {
      const r = await runBin(bin, args);
      assert.equal(r.code, 2, describeRun(r));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^error\[E_USAGE\]: unknown command '(chaos-nonexistent|frobnicate)'\n$/);
    });
  }

  test('dchat-test chaos-mirrors --help: its own help if the command exists, else unknown command (exit 2)', async () => {
    const r = await runBin('dchat-test', ['chaos-mirrors', '--help']);
    if (r.code === 0) assert.match(r.stdout, /^Usage: dchat-test chaos-mirrors /);
    else {
      assert.equal(r.code, 2, describeRun(r));
      assert.match(r.stderr, /unknown command 'chaos-mirrors'/);
    }
  });

  test('help of commands that exist still exits 0 (value of --home skipped, help command kept)', async () => {
    for (const args of [
      ['--home', 'release', 'release', '--help'],
      ['help', 'release'],
      ['update', 'check', '-h'],
    ]) {
      const r = await runBin('dchat', args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${describeRun(r)}`);
      assert.match(r.stdout, /^Usage: dchat /);
    }
  });
});
