import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CHUNK, type MirrorRepo, makeHome, makeMirrorRepo, runDchat } from '../download/fixture.ts';
import { type FaultMirror, startFaultMirror } from '../helpers/fault-mirror.ts';
import { type NginxServer, startNginx } from '../helpers/nginx.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

const skip = requireTool('nginx') || requireTool('openssl');

/** A port nothing listens on (connection refused). */
async function deadPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 1));
    });
  });
}

describe('list-mirrors, add-mirror, remove-mirror', () => {
  test('a home on the public network lists the seed defaults', async () => {
    const home = mkdtempSync(join(tmpdir(), 'dchat-pub-'));
    const r = await runDchat(['--home', home, 'update', 'list-mirrors']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        '📍 Configured download sources:',
        '',
        'Default mirrors:',
        '  1. https://releases.dchat.network (priority: 10)',
        '  2. ipns://releases.dchat.network (priority: 20)',
        '  3. Gossip discovery (priority: 30)',
        '',
      ].join('\n'),
    );
  });

  test('a trust-init home has none; add, list in priority order, update, remove', async () => {
    const repo = await makeMirrorRepo();
    const home = (await makeHome(repo)).home;
    const empty = await runDchat(['--home', home, 'update', 'list-mirrors']);
    assert.match(empty.stdout, /\(none: add one with `dchat update add-mirror/);
    const a = await runDchat([
      '--home',
      home,
      'update',
      'add-mirror',
      '--url',
      'https://mirror.example.com/dchat',
      '--mirror-type',
      'https',
      '--region',
      'us-west',
      '--priority',
      '15',
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(
      a.stdout,
      '✅ Added mirror https://mirror.example.com/dchat (HttpsMirror, priority: 15, region: us-west)\n',
    );
    await runDchat([
      '--home',
      home,
      'update',
      'add-mirror',
      '--url',
      'https://fast.example',
      '--mirror-type',
      'https',
    ]);
    await runDchat([
      '--home',
      home,
      'update',
      'add-mirror',
      '--url',
      'ipfs://QmExampleCID',
      '--mirror-type',
      'ipfs',
      '--priority',
      '20',
    ]);
    const list = await runDchat(['--home', home, 'update', 'list-mirrors']);
    assert.equal(
      list.stdout,
      [
        '📍 Configured download sources:',
        '',
        'Configured mirrors:',
        '  1. https://fast.example (priority: 10)',
        '  2. https://mirror.example.com/dchat (priority: 15, region: us-west)',
        '  3. ipfs://QmExampleCID (priority: 20)',
        '',
      ].join('\n'),
    );
    const toml = readFileSync(join(home, 'mirrors.toml'), 'utf8');
    assert.match(toml, /uri = "https:\/\/mirror\.example\.com\/dchat"\nregion = "us-west"\npriority = 15/);
    // Same URL again: updated, not duplicated.
    const upd = await runDchat([
      '--home',
      home,
      '--json',
      'update',
      'add-mirror',
      '--url',
      'https://fast.example/',
      '--mirror-type',
      'https',
      '--priority',
      '30',
    ]);
    assert.equal(JSON.parse(upd.stdout).added, false);
    const rm = await runDchat([
      '--home',
      home,
      'update',
      'remove-mirror',
      '--url',
      'https://mirror.example.com/dchat',
    ]);
    assert.equal(rm.code, 0, rm.stderr);
    const j = JSON.parse((await runDchat(['--home', home, '--json', 'update', 'list-mirrors'])).stdout);
    assert.deepEqual(
      j.mirrors.map((m: { uri: string; priority: number }) => [m.uri, m.priority]),
      [
        ['ipfs://QmExampleCID', 20],
        ['https://fast.example', 30],
      ],
    );
  });

  test('bad flags exit 2 naming the flag; the file is untouched', async () => {
    const home = mkdtempSync(join(tmpdir(), 'dchat-bad-'));
    const cases: [string[], string][] = [
      [['add-mirror', '--url', 'ftp://x', '--mirror-type', 'https'], '--url'],
      [['add-mirror', '--url', 'https://x', '--mirror-type', 'gopher'], '--mirror-type'],
      [['add-mirror', '--url', 'https://x', '--mirror-type', 'https', '--priority', 'high'], '--priority'],
      [['add-mirror', '--url', 'https://x', '--mirror-type', 'https', '--priority', '-3'], '--priority'],
      [['remove-mirror', '--url', 'https://not-there.example'], '--url'],
    ];
    for (const [args, flag] of cases) {
      const r = await runDchat(['--home', home, 'update', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`error\\[E_USAGE\\]: ${flag}:`));
    }
    const missing = await runDchat(['--home', home, 'update', 'add-mirror', '--url', 'https://x']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--mirror-type/);
  });
});

describe('test-mirrors', { skip }, () => {
  let ca: TestCa;
  let repo: MirrorRepo;
  let nginx: NginxServer;
  let stall: FaultMirror;
  let stale: FaultMirror;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    ca = makeTestCa();
    env = { NODE_EXTRA_CA_CERTS: ca.caCert };
    repo = await makeMirrorRepo();
    await repo.publish('1.0.0', 20 * CHUNK);
    const old = repo.snapshot();
    await repo.publish('1.1.0', 20 * CHUNK);
    nginx = await startNginx(repo.dir, ca);
    stall = await startFaultMirror(repo.dir, ca, [{ kind: 'stall', path: /timestamp\.json$/ }]);
    stale = await startFaultMirror(old, ca);
  });
  after(async () => {
    await nginx?.stop();
    await stall?.stop();
    await stale?.stop();
  });

  test('one line per mirror, summary, JSON, bounded time; exit 0 if any answered', async () => {
    const home = (await makeHome(repo)).home;
    const dead = `https://127.0.0.1:${await deadPort()}`;
    for (const [url, type, priority] of [
      [nginx.url, 'https', '5'],
      [dead, 'https', '10'],
      [stall.url, 'https', '10'],
      [stale.url, 'https', '10'],
      ['ipfs://QmExampleCID', 'ipfs', '20'],
    ] as const) {
      const r = await runDchat(
        ['--home', home, 'update', 'add-mirror', '--url', url, '--mirror-type', type, '--priority', priority],
        { env },
      );
      assert.equal(r.code, 0, r.stderr);
    }
    // The node has seen the newest metadata: the stale copy is then not "operational".
    assert.equal((await runDchat(['--home', home, 'update', 'check'], { env })).code, 0);
    const t0 = performance.now();
    const r = await runDchat(['--home', home, 'update', 'test-mirrors', '--timeout', '1'], { env });
    const ms = performance.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    // Bounded by --timeout (a stalled mirror would otherwise hold it for the 15 s header timeout).
    assert.ok(ms < 5000, `took ${ms} ms`);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], '🔍 Testing mirror connectivity...');
    assert.match(r.stdout, new RegExp(`✅ ${nginx.url.replace(/\./g, '\\.')} - \\d+ms \\(.+/s\\)\n`));
    assert.match(r.stdout, new RegExp(`❌ ${dead.replace(/\./g, '\\.')} - .*refused`));
    assert.match(r.stdout, new RegExp(`❌ ${stall.url.replace(/\./g, '\\.')} - timeout`));
    assert.match(
      r.stdout,
      new RegExp(`❌ ${stale.url.replace(/\./g, '\\.')} - stale: timestamp v\\d+, this node trusts v\\d+`),
    );
    assert.match(r.stdout, /❌ ipfs:\/\/QmExampleCID - .*fetched over bitswap by a running node/);
    assert.match(r.stdout, /\n1\/5 mirrors operational\n/);

    const j = await runDchat(['--home', home, '--json', 'update', 'test-mirrors', '--timeout', '1'], { env });
    const doc = JSON.parse(j.stdout) as {
      url: string;
      ok: boolean;
      latency_ms: number | null;
      error: string | null;
    }[];
    assert.equal(doc.length, 5);
    const good = doc.find((d) => d.url === nginx.url);
    assert.equal(good?.ok, true);
    assert.equal(typeof good?.latency_ms, 'number');
    assert.equal(good?.error, null);
    for (const d of doc.filter((x) => x.url !== nginx.url)) {
      assert.equal(d.ok, false);
      assert.equal(typeof d.error, 'string');
    }
    // Measurements land in the state file, not in the operator's mirrors.toml.
    const health = readFileSync(join(home, 'state', 'mirror-health.json'), 'utf8');
    assert.match(health, /"latency_ms": \d+/);
    assert.match(health, /"throughput_bps": \d+/);
    assert.doesNotMatch(readFileSync(join(home, 'mirrors.toml'), 'utf8'), /latency_ms|throughput_bps/);
  });

  test('nothing answers: exit 1; a mirror failing N times in a row is pruned and reported', async () => {
    const home = (await makeHome(repo)).home;
    const dead = `https://127.0.0.1:${await deadPort()}`;
    await runDchat(['--home', home, 'update', 'add-mirror', '--url', dead, '--mirror-type', 'https']);
    const toml = join(home, 'mirrors.toml');
    const text = readFileSync(toml, 'utf8').replace('prune_after_failures = 5', 'prune_after_failures = 2');
    (await import('node:fs')).writeFileSync(toml, text);
    const first = await runDchat(['--home', home, 'update', 'test-mirrors', '--timeout', '2'], { env });
    assert.equal(first.code, 1);
    assert.match(first.stdout, /0\/1 mirrors operational/);
    assert.match(first.stderr, /error\[E_NO_SOURCE\]/);
    assert.match(readFileSync(join(home, 'state', 'mirror-health.json'), 'utf8'), /"failure_count": 1/);
    const second = await runDchat(['--home', home, 'update', 'test-mirrors', '--timeout', '2'], { env });
    assert.equal(second.code, 1);
    assert.match(
      second.stdout,
      new RegExp(
        `🗑️  Pruned mirror ${dead.replace(/\./g, '\\.')}: failed 2 times in a row \\(prune_after_failures = 2\\)`,
      ),
    );
    assert.doesNotMatch(readFileSync(toml, 'utf8'), /\[\[mirror\]\]/);
    const none = await runDchat(['--home', home, '--json', 'update', 'test-mirrors'], { env });
    assert.equal(none.code, 1);
    assert.deepEqual(JSON.parse(none.stdout), []);
  });
});
