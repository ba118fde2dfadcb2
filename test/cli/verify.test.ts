/**
 * `dchat trust init|show` and `dchat update verify` end to end, as a node operator runs them: the
 * seed's output lines, `--json` (exactly one JSON document on stdout, for success and for every
 * failure), a tampered copy (exit 3, error[E_HASH_MISMATCH]), mix-and-match, offline verification
 * from the store, rollback to an older mirror copy (E_ROLLBACK, persisted), expiry through
 * DCHAT_FAKE_NOW (E_EXPIRED; an unparsable value fails closed), and usage errors.
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rawPublicKeyHex } from '../../src/crypto/ed25519.ts';
import { digestBytes } from '../../src/crypto/hash.ts';
import { type CliResult, dchat, describeRun, publishArgs, runInProcess } from '../helpers/cli.ts';
import { at, DAY, type JsonDoc, makeTempDir, packageBytes } from '../helpers/repo.ts';

const PKG = packageBytes('verify 1.0.0', 1_500_000);
const PKG2 = packageBytes('verify 1.1.0', 80_000);
let dir: { path: string; cleanup(): Promise<void> };
/** The real executable (what these tests are about). */
const run = (args: string[], env?: Record<string, string>) => dchat(args, { cwd: dir.path, env });
/** Set-up and intermediate steps: the same program in process (no start-up cost). */
const local = (args: string[]) => runInProcess('dchat', args, { cwd: dir.path });
const ok = (r: CliResult) => assert.equal(r.code, 0, describeRun(r));
const home = () => join(dir.path, 'home');
const verify = (file: string, version: string, ...extra: string[]) =>
  run(['--home', home(), 'update', 'verify', '--package', file, '--version', version, ...extra]);

/** Exactly one JSON document on stdout: one line, nothing else. */
function onlyJson(r: CliResult): JsonDoc {
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `stdout is not one JSON document:\n${r.stdout}`);
  return JSON.parse(lines[0]!);
}

before(async () => {
  dir = await makeTempDir('dchat-cli-verify-');
  ok(await runInProcess('dchat-sign', ['keygen', '--out', 'release.key'], { cwd: dir.path }));
  await writeFile(join(dir.path, 'dchat-1.0.0-linux-x64'), PKG);
  await writeFile(join(dir.path, 'dchat-1.1.0-linux-x64'), PKG2);
  const evil = Buffer.from(PKG);
  evil[777_777] = (evil[777_777] as number) ^ 0x10;
  await writeFile(join(dir.path, 'tampered-dchat-1.0.0-linux-x64'), evil);
  ok(
    await runInProcess(
      'dchat-sign',
      ['--key', 'release.key', '--input', 'dchat-1.0.0-linux-x64', '--output', '1.0.0.sig'],
      { cwd: dir.path },
    ),
  );
  ok(await local(['release', 'init', '--out', 'repo', '--key', 'release.key']));
  ok(
    await local([
      ...publishArgs({
        package: 'dchat-1.0.0-linux-x64',
        version: '1.0.0',
        platform: 'linux-x64',
        out: 'repo',
        key: 'release.key',
      }),
      '--sig',
      '1.0.0.sig',
    ]),
  );
  // A copy of the mirror as it is now (timestamp v2), for the rollback test later.
  await cp(join(dir.path, 'repo'), join(dir.path, 'repo-v2'), { recursive: true });
});
after(() => dir.cleanup());

describe('trust init / show', () => {
  test('trust init pins the root: exit 0, root v1', async () => {
    const r = await run(['--home', home(), 'trust', 'init', '--root', 'repo/root.json']);
    ok(r);
    assert.match(r.stdout, /^🔐 Trusted root pinned: v1, 1 key\(s\), expires /m);
  });

  test('trust show: version, keys, thresholds (human and --json)', async () => {
    const r = await run(['--home', home(), 'trust', 'show']);
    ok(r);
    assert.match(r.stdout, /^🔐 Trusted root v1 \(pinned with trust init\)/m);
    assert.match(r.stdout, /^ {2}targets: 1 of 1$/m);
    const j = await run(['--home', home(), 'trust', 'show', '--json']);
    ok(j);
    const doc = onlyJson(j);
    assert.equal(doc.origin, 'trust-init');
    assert.equal(doc.root.version, 1);
    const pub = rawPublicKeyHex(createPublicKey(await readFile(join(dir.path, 'release.key.pub'))));
    assert.equal(doc.keys.length, 1);
    assert.equal(doc.keys[0].public, pub);
    assert.deepEqual(doc.keys[0].roles.sort(), ['root', 'snapshot', 'targets', 'timestamp']);
  });

  test('trust init with a file that is not a root: exit 3 E_MALFORMED; a missing file: exit 2 naming --root', async () => {
    const other = join(dir.path, 'other-home');
    const r = await runInProcess(
      'dchat',
      ['--home', other, 'trust', 'init', '--root', 'repo/metadata/timestamp.json'],
      {
        cwd: dir.path,
      },
    );
    assert.equal(r.code, 3, describeRun(r));
    assert.match(r.stderr, /^error\[E_MALFORMED\]: /m);
    const m = await runInProcess('dchat', ['--home', other, 'trust', 'init', '--root', 'nope.json'], {
      cwd: dir.path,
    });
    assert.equal(m.code, 2, describeRun(m));
    assert.match(m.stderr, /^error\[E_USAGE\]: --root: /m);
  });
});

describe('update verify', () => {
  test("genuine package with --metadata: exit 0 and the seed's lines", async () => {
    const r = await verify('dchat-1.0.0-linux-x64', '1.0.0', '--metadata', 'repo');
    ok(r);
    const lines = r.stdout.split('\n');
    for (const want of [
      '✅ Hash verification passed (SHA-256)',
      '✅ Hash verification passed (BLAKE3)',
      '✅ Package signature verification passed (dchat-sign, Ed25519)',
      '✅ Package verified successfully',
    ])
      assert.ok(lines.includes(want), `missing line "${want}" in\n${r.stdout}`);
    assert.match(r.stdout, /^🔒 Verifying package: /m);
    assert.equal(r.stderr, '');
  });

  test('--json: exactly one JSON document with every check', async () => {
    const r = await verify('dchat-1.0.0-linux-x64', '1.0.0', '--metadata', 'repo', '--json');
    ok(r);
    const doc = onlyJson(r);
    const d = digestBytes(PKG);
    assert.equal(doc.ok, true);
    assert.equal(doc.sha256, d.sha256);
    assert.equal(doc.blake3, d.blake3);
    assert.equal(doc.size, PKG.byteLength);
    assert.deepEqual(doc.checks, { size: true, sha256: true, blake3: true, signature: true });
    assert.equal(doc.metadata.root_version, 1);
  });

  test('offline (no --metadata): the metadata kept in the store since the last update', async () => {
    ok(await verify('dchat-1.0.0-linux-x64', '1.0.0'));
  });

  test('tampered copy: exit 3, error[E_HASH_MISMATCH] on stderr, the failed check on stdout', async () => {
    const r = await verify(
      'tampered-dchat-1.0.0-linux-x64',
      '1.0.0',
      '--platform',
      'linux-x64',
      '--metadata',
      'repo',
    );
    assert.equal(r.code, 3, describeRun(r));
    assert.match(r.stderr, /^error\[E_HASH_MISMATCH\]: SHA-256 /m);
    assert.match(r.stdout, /^❌ Hash verification failed \(SHA-256\)$/m);
    assert.doesNotMatch(r.stdout, /verified successfully/);
  });

  test('tampered copy with --json: one document, ok false, the code; error line still on stderr', async () => {
    const r = await verify('tampered-dchat-1.0.0-linux-x64', '1.0.0', '--platform', 'linux-x64', '--json');
    assert.equal(r.code, 3, describeRun(r));
    const doc = onlyJson(r);
    assert.equal(doc.ok, false);
    assert.equal(doc.error.code, 'E_HASH_MISMATCH');
    assert.deepEqual(doc.checks, { size: true, sha256: false });
    assert.match(r.stderr, /^error\[E_HASH_MISMATCH\]: /m);
  });

  test('mix-and-match: the genuine 1.0.0 file checked as 1.1.0 -> exit 3 E_WRONG_TARGET', async () => {
    ok(
      await local([
        ...publishArgs({
          package: 'dchat-1.1.0-linux-x64',
          version: '1.1.0',
          platform: 'linux-x64',
          out: 'repo',
          key: 'release.key',
        }),
      ]),
    );
    const r = await verify('dchat-1.0.0-linux-x64', '1.1.0', '--platform', 'linux-x64', '--metadata', 'repo');
    assert.equal(r.code, 3, describeRun(r));
    assert.match(r.stderr, /^error\[E_WRONG_TARGET\]: these bytes are the genuine dchat-1.0.0-linux-x64/m);
  });

  test('rollback: an older copy of the mirror after a newer one -> exit 3 E_ROLLBACK (also with --json)', async () => {
    ok(await verify('dchat-1.1.0-linux-x64', '1.1.0', '--metadata', 'repo'));
    const r = await verify('dchat-1.0.0-linux-x64', '1.0.0', '--metadata', 'repo-v2');
    assert.equal(r.code, 3, describeRun(r));
    assert.match(r.stderr, /^error\[E_ROLLBACK\]: timestamp version 2 is older than the trusted 3/m);
    const j = await local([
      '--home',
      home(),
      '--json',
      'update',
      'verify',
      '--package',
      'dchat-1.0.0-linux-x64',
      '--version',
      '1.0.0',
      '--metadata',
      'repo-v2',
    ]);
    assert.equal(j.code, 3, describeRun(j));
    assert.equal(onlyJson(j).error.code, 'E_ROLLBACK');
    // The refusal did not move the store back: the newer release still verifies offline.
    ok(
      await local([
        '--home',
        home(),
        'update',
        'verify',
        '--package',
        'dchat-1.1.0-linux-x64',
        '--version',
        '1.1.0',
      ]),
    );
  });

  test('freeze: DCHAT_FAKE_NOW past the timestamp expiry -> exit 3 E_EXPIRED, offline and with --metadata', async () => {
    const later = { DCHAT_FAKE_NOW: at(new Date(), 8 * DAY).toISOString() };
    for (const extra of [[], ['--metadata', 'repo']]) {
      const r = await run(
        [
          '--home',
          home(),
          'update',
          'verify',
          '--package',
          'dchat-1.0.0-linux-x64',
          '--version',
          '1.0.0',
          ...extra,
        ],
        later,
      );
      assert.equal(r.code, 3, describeRun(r));
      assert.match(r.stderr, /^error\[E_EXPIRED\]: timestamp v3 expired at /m);
    }
  });

  test('an unparsable DCHAT_FAKE_NOW fails closed: exit 2 naming it, nothing verified', async () => {
    const r = await run(
      ['--home', home(), 'update', 'verify', '--package', 'dchat-1.0.0-linux-x64', '--version', '1.0.0'],
      {
        DCHAT_FAKE_NOW: 'next tuesday',
      },
    );
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /^error\[E_CONFIG\]: DCHAT_FAKE_NOW: /m);
    assert.doesNotMatch(r.stdout, /✅/);
  });

  test('no metadata yet (pinned root only, offline): exit 1 E_NOT_INITIALIZED', async () => {
    const fresh = join(dir.path, 'home-fresh');
    ok(await local(['--home', fresh, 'trust', 'init', '--root', 'repo/root.json']));
    const r = await run([
      '--home',
      fresh,
      'update',
      'verify',
      '--package',
      'dchat-1.0.0-linux-x64',
      '--version',
      '1.0.0',
    ]);
    assert.equal(r.code, 1, describeRun(r));
    assert.match(r.stderr, /^error\[E_NOT_INITIALIZED\]: /m);
  });
});

describe('update verify usage errors (exit 2, the flag named)', () => {
  const cases: [string, string[], string][] = [
    ['--version 1.0', ['--package', 'dchat-1.0.0-linux-x64', '--version', '1.0'], '--version'],
    [
      '--platform "linux x64"',
      ['--package', 'dchat-1.0.0-linux-x64', '--version', '1.0.0', '--platform', 'linux x64'],
      '--platform',
    ],
    ['missing --package', ['--version', '1.0.0'], '--package'],
    ['missing --version', ['--package', 'dchat-1.0.0-linux-x64'], '--version'],
    ['unknown flag', ['--package', 'dchat-1.0.0-linux-x64', '--version', '1.0.0', '--fast'], '--fast'],
  ];
  for (const [what, args, flag] of cases) {
    test(`${what}: exit 2 naming ${flag}; with --json the error is the one document`, async () => {
      const argv = ['--home', home(), 'update', 'verify', ...args];
      const r = await runInProcess('dchat', argv, { cwd: dir.path });
      assert.equal(r.code, 2, describeRun(r));
      assert.match(r.stderr, new RegExp(`^error\\[E_USAGE\\]: .*${flag}`, 'm'));
      const j = await runInProcess('dchat', ['--json', ...argv], { cwd: dir.path });
      assert.equal(j.code, 2, describeRun(j));
      const doc = onlyJson(j);
      assert.equal(doc.error.code, 'E_USAGE');
      assert.match(doc.error.message, new RegExp(flag));
    });
  }

  test('end to end: the real executable, --json and a bad --version', async () => {
    const r = await run([
      '--home',
      home(),
      '--json',
      'update',
      'verify',
      '--package',
      'x',
      '--version',
      'one',
    ]);
    assert.equal(r.code, 2, describeRun(r));
    assert.equal(onlyJson(r).error.details.flag, '--version');
    assert.equal(r.stderr, "error[E_USAGE]: --version: 'one' is not a SemVer version like 1.2.3\n");
  });
});
