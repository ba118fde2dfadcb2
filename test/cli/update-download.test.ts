import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { sha256Hex } from '../../src/crypto/hash.ts';
import {
  addMirror,
  CHUNK,
  type MirrorRepo,
  makeHome,
  makeMirrorRepo,
  ndjson,
  type Published,
  runDchat,
} from '../download/fixture.ts';
import { downloadArgs } from '../helpers/cli.ts';
import { type FaultMirror, startFaultMirror } from '../helpers/fault-mirror.ts';
import { type NginxServer, startNginx } from '../helpers/nginx.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

const skip = requireTool('nginx') || requireTool('openssl');

describe('dchat update download', { skip }, () => {
  let ca: TestCa;
  let repo: MirrorRepo;
  let pkg: Published;
  let nginx: NginxServer;
  let flip: FaultMirror;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    ca = makeTestCa();
    env = { NODE_EXTRA_CA_CERTS: ca.caCert };
    repo = await makeMirrorRepo();
    pkg = await repo.publish('1.0.0', 12 * CHUNK + 77);
    nginx = await startNginx(repo.dir, ca);
    flip = await startFaultMirror(repo.dir, ca, [{ kind: 'flip', offset: 3 * CHUNK }]);
  });
  after(async () => {
    await nginx?.stop();
    await flip?.stop();
  });

  async function homeWith(...urls: string[]): Promise<string> {
    const home = (await makeHome(repo)).home;
    for (const url of urls) await addMirror(home, url);
    return home;
  }
  const args = (home: string, ...more: string[]) => [
    '--home',
    home,
    ...more,
    ...downloadArgs('1.0.0', 'linux-x64'),
  ];

  test('human output; the file appears only verified, with its metadata beside it; verify agrees', async () => {
    const home = await homeWith(nginx.url);
    const r = await runDchat(args(home), { env });
    assert.equal(r.code, 0, r.stderr);
    const final = `${home}/packages/dchat-1.0.0-linux-x64`;
    assert.equal(
      r.stdout,
      [
        '⬇️  Downloading dchat-1.0.0-linux-x64 (787 KB) from 1 mirror',
        '✅ Chunks verified: 13/13 against the signed chunk table (BLAKE3)',
        '✅ Hash verification passed (SHA-256)',
        '✅ Hash verification passed (BLAKE3)',
        `✅ Package saved: ${final}`,
        '',
      ].join('\n'),
    );
    assert.equal(sha256Hex(readFileSync(final)), pkg.sha256);
    assert.ok(existsSync(`${final}.target.json`) && existsSync(`${final}.chunks`));
    const v = await runDchat(['--home', home, 'update', 'verify', '--package', final, '--version', '1.0.0']);
    assert.equal(v.code, 0, v.stderr);
    // The mirror's health was recorded, in the state file: mirrors.toml holds configuration only.
    assert.match(readFileSync(`${home}/state/mirror-health.json`, 'utf8'), /"last_success": "/);
    assert.doesNotMatch(
      readFileSync(`${home}/mirrors.toml`, 'utf8'),
      /last_success|failure_count|latency_ms/,
    );
  });

  test('a progress bar on stderr when it is a terminal, never on stdout', async () => {
    const home = await homeWith(nginx.url);
    const r = await runDchat(args(home), { env, ttyStderr: true });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\r {2}\[[█░]{30}\] +\d+% /);
    assert.doesNotMatch(r.stdout, /█|░/);
    const plain = await runDchat(args(await homeWith(nginx.url)), { env });
    assert.doesNotMatch(plain.stderr, /█|░/, 'no bar when stderr is not a terminal');
  });

  test('--json: NDJSON progress records, then the result document', async () => {
    const home = await homeWith(nginx.url);
    const r = await runDchat(args(home, '--json'), { env });
    assert.equal(r.code, 0, r.stderr);
    const recs = ndjson(r.stdout);
    assert.equal(recs[0]?.type, 'chunk-table');
    assert.ok(recs.some((x) => x.type === 'start' && x.chunks === 13));
    assert.ok(recs.some((x) => x.type === 'progress' && x.bytes_done === pkg.bytes.byteLength));
    const result = recs.at(-1) as Record<string, unknown>;
    assert.equal(result.type, 'result');
    assert.equal(result.ok, true);
    assert.equal(result.sha256, pkg.sha256);
    assert.equal(result.fetched_bytes, pkg.bytes.byteLength);
    assert.deepEqual(result.checks, { chunks: true, size: true, sha256: true, blake3: true });
    const again = ndjson((await runDchat(args(home, '--json'), { env })).stdout).at(-1);
    assert.equal(again?.already_present, true);
  });

  test('a corrupting mirror alone: exit 3, nothing at the final path; with nginx beside it: verified', async () => {
    const home = await homeWith(flip.url);
    const r = await runDchat(args(home, '--json'), { env });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /error\[E_CHUNK_MISMATCH\]/);
    assert.deepEqual(
      (ndjson(r.stdout).at(-1) as { error?: { code: string } }).error?.code,
      'E_CHUNK_MISMATCH',
    );
    assert.ok(!existsSync(`${home}/packages/dchat-1.0.0-linux-x64`));
    await addMirror(home, nginx.url, 20);
    const ok = await runDchat(args(home), { env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /E_CHUNK_MISMATCH .*not used again in this download/);
    assert.match(ok.stdout, /Resumed: 3 chunk\(s\)/);
    assert.equal(sha256Hex(readFileSync(`${home}/packages/dchat-1.0.0-linux-x64`)), pkg.sha256);
  });

  test('usage and lookup errors: exit 2 naming the flag, or a coded error', async () => {
    const home = await homeWith(nginx.url);
    const cases: [string[], number, RegExp][] = [
      [['--source', 'pigeon'], 2, /error\[E_USAGE\]: --source:/],
      [['--limit-rate', 'fast'], 2, /error\[E_USAGE\]: --limit-rate:/],
      [['--parallel', '0'], 2, /error\[E_USAGE\]: --parallel:/],
      [['--platform', 'Linux X64'], 2, /error\[E_USAGE\]: --platform:/],
      // No IPFS mirror and no node on this home: nothing can deliver the bytes over IPFS.
      [['--source', 'ipfs'], 1, /error\[E_NO_SOURCE\]: no ipfs source to fetch/],
    ];
    for (const [extra, code, re] of cases) {
      const r = await runDchat([...args(home), ...extra], { env });
      assert.equal(r.code, code, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
    const unknown = await runDchat(
      ['--home', home, 'update', 'download', '--version', '9.9.9', '--platform', 'linux-x64'],
      { env },
    );
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /error\[E_NOT_FOUND\]: no trusted release 9\.9\.9/);
    const limited = await runDchat([...args(home, '--json'), '--limit-rate', '4M', '--source', 'https'], {
      env,
    });
    assert.equal(limited.code, 0, limited.stderr);
  });
});
