/**
 * Logs (src/log/logger.ts, src/update/log-lines.ts) as a user sees them from the real `dchat`
 * process: DCHAT_LOG / RUST_LOG directives per target, the seed's debug lines for each source
 * tried and each verification step in `update check`, `download` and `verify`, JSON lines with
 * level names when stderr is not a terminal, and the seed's human format with --log-format human.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { logFormat, parseLogSpec } from '../../src/log/logger.ts';
import { addMirror, CHUNK, type MirrorRepo, makeHome, makeMirrorRepo } from '../download/fixture.ts';
import { runBin } from '../helpers/cli.ts';
import { type FaultMirror, startFaultMirror } from '../helpers/fault-mirror.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

type Line = { level: string; target: string; msg: string; pid: number; time: string };

function jsonLines(stderr: string): Line[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

test('format: the flag, then DCHAT_LOG_FORMAT, then human only on a terminal', () => {
  assert.equal(logFormat({}, true), 'human');
  assert.equal(logFormat({}, false), 'json');
  assert.equal(logFormat({ DCHAT_LOG_FORMAT: 'json' }, true), 'json');
  assert.equal(logFormat({ DCHAT_LOG_FORMAT: 'human' }, false), 'human');
  assert.equal(logFormat({ DCHAT_LOG_FORMAT: 'json' }, false, 'human'), 'human');
  assert.equal(logFormat({ DCHAT_LOG_FORMAT: 'xml' }, false), 'json');
  assert.equal(
    parseLogSpec('dchat::package=debug,dchat::gossip=trace,error').components.get('package'),
    'debug',
  );
});

describe('the seed debug lines from update check, download and verify', {
  skip: requireTool('openssl'),
}, () => {
  let ca: TestCa;
  let repo: MirrorRepo;
  let mirror: FaultMirror;
  let home: string;
  const env = (log: string, extra: Record<string, string> = {}) => ({
    NODE_EXTRA_CA_CERTS: ca.caCert,
    DCHAT_LOG: log,
    ...extra,
  });

  before(async () => {
    ca = makeTestCa();
    repo = await makeMirrorRepo();
    await repo.publish('1.0.0', 8 * CHUNK + 3);
    mirror = await startFaultMirror(repo.dir, ca);
    home = (await makeHome(repo)).home;
    await addMirror(home, mirror.url);
  });
  after(async () => {
    await mirror?.stop();
  });

  test('update check: each mirror tried and the metadata verified (JSON lines, level names)', async () => {
    const r = await runBin('dchat', ['--home', home, 'update', 'check'], {
      env: env('dchat::package=debug,dchat::trust=debug'),
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stderr);
    const tried = lines.find((l) => l.msg === `Trying metadata from ${mirror.url}`);
    assert.ok(tried, r.stderr);
    assert.equal(tried.level, 'debug');
    assert.equal(tried.target, 'dchat::package');
    assert.ok(
      lines.some((l) => l.target === 'dchat::trust' && /^Metadata verification: root v1, .*✓$/.test(l.msg)),
    );
  });

  test('download: each source tried, each hash and the verdict', async () => {
    const r = await runBin(
      'dchat',
      ['--home', home, 'update', 'download', '--version', '1.0.0', '--platform', 'linux-x64'],
      {
        env: env('dchat::package=debug'),
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const msgs = jsonLines(r.stderr).map((l) => `${l.level} ${l.msg}`);
    for (const want of [
      `debug Trying download from ${mirror.url}`,
      'debug Hash verification: SHA-256 match ✓',
      'debug Hash verification: BLAKE3 match ✓',
      'info Package 1.0.0 verified successfully',
    ])
      assert.ok(msgs.includes(want), `${want} missing from\n${msgs.join('\n')}`);
    // Order: SHA-256 before BLAKE3 before the verdict.
    const i = (m: string) => msgs.findIndex((x) => x.endsWith(m));
    assert.ok(i('SHA-256 match ✓') < i('BLAKE3 match ✓') && i('BLAKE3 match ✓') < i('verified successfully'));
  });

  test('verify: the seed lines in the seed human format, RUST_LOG as the alias', async () => {
    const file = `${home}/packages/dchat-1.0.0-linux-x64`;
    const r = await runBin(
      'dchat',
      ['--home', home, '--log-format', 'human', 'update', 'verify', '--package', file, '--version', '1.0.0'],
      {
        env: { NODE_EXTRA_CA_CERTS: ca.caCert, RUST_LOG: 'dchat_distribution=debug' },
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^\[DEBUG dchat::package\] Hash verification: SHA-256 match ✓$/m);
    assert.match(r.stderr, /^\[DEBUG dchat::package\] Hash verification: BLAKE3 match ✓$/m);
    assert.match(r.stderr, /^\[INFO {2}dchat::package\] Package 1\.0\.0 verified successfully$/m);
    assert.doesNotMatch(r.stderr, /^\{/m, 'no JSON in human format');
  });

  test('a directive for another target keeps the package lines out; no DCHAT_LOG: warn only', async () => {
    const file = `${home}/packages/dchat-1.0.0-linux-x64`;
    const args = ['--home', home, 'update', 'verify', '--package', file, '--version', '1.0.0'];
    const other = await runBin('dchat', args, { env: env('dchat::gossip=debug,warn') });
    assert.equal(other.code, 0, other.stderr);
    assert.equal(jsonLines(other.stderr).length, 0, other.stderr);
    const info = await runBin('dchat', args, { env: env('info', { DCHAT_LOG_FORMAT: 'json' }) });
    const lines = jsonLines(info.stderr);
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['Package 1.0.0 verified successfully'],
    );
    assert.equal(typeof lines[0]?.pid, 'number');
  });

  test('a corrupted package: the failing step is logged with ✗ and the verdict at warn', async () => {
    const { copyFile, writeFile, readFile } = await import('node:fs/promises');
    const file = `${home}/bad-dchat-1.0.0-linux-x64`;
    await copyFile(`${home}/packages/dchat-1.0.0-linux-x64`, file);
    const b = await readFile(file);
    b[5] = (b[5] ?? 0) ^ 0xff;
    await writeFile(file, b);
    const r = await runBin(
      'dchat',
      [
        '--home',
        home,
        'update',
        'verify',
        '--package',
        file,
        '--version',
        '1.0.0',
        '--platform',
        'linux-x64',
      ],
      {
        env: env('dchat::package=debug'),
      },
    );
    assert.equal(r.code, 3, r.stderr);
    const msgs = jsonLines(r.stderr).map((l) => `${l.level} ${l.msg}`);
    assert.ok(msgs.includes('debug Hash verification: SHA-256 ✗ (mismatch)'), msgs.join('\n'));
    assert.ok(
      msgs.some((m) => m.startsWith('warn Package 1.0.0 failed verification')),
      msgs.join('\n'),
    );
  });
});
