/**
 * The BitTorrent channel end to end through `dchat`: `release publish` writes a v1 .torrent and a
 * magnet (our tracker only, the HTTPS mirror as BEP 19 web seed) and signs its info hash;
 * `update add-mirror --mirror-type bittorrent` takes the magnet or the .torrent's URL; `update
 * download --source bittorrent` fetches the package from a seeder found through our loopback
 * tracker and ends verified, byte for byte. A BitTorrent channel serving other bytes ends in a
 * coded error for that channel and the HTTPS mirror completes the download.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import parseTorrent from 'parse-torrent';
import { sha256Hex } from '../../src/crypto/hash.ts';
import { initRepository, publishRelease } from '../../src/release/publish.ts';
import type { MirrorRepo } from '../download/fixture.ts';
import { makeHome, ndjson, runDchat } from '../download/fixture.ts';
import { type FaultMirror, startFaultMirror } from '../helpers/fault-mirror.ts';
import { type NginxServer, startNginx } from '../helpers/nginx.ts';
import { makeKeys, packageBytes } from '../helpers/repo.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';
import {
  makePackage,
  type RunningTracker,
  type Seeder,
  startSeeder,
  startTracker,
} from '../sources/bittorrent/helpers.ts';

const skip = requireTool('nginx') || requireTool('openssl');
const NAME = 'dchat-1.0.0-linux-x64';
const SIZE = 2 * 1024 * 1024 + 4321;

describe('dchat over BitTorrent', { skip }, () => {
  let ca: TestCa;
  let nginx: NginxServer;
  /** The same mirror directory, its package bodies dripping at 512 KiB/s (metadata at full speed). */
  let slow: FaultMirror;
  let tracker: RunningTracker;
  let base: string;
  let dir: string;
  let bytes: Buffer;
  let env: NodeJS.ProcessEnv;
  let custom: { btih: string; magnet: string; sha256: string };
  const seeders: Seeder[] = [];

  before(async () => {
    ca = makeTestCa();
    env = { NODE_EXTRA_CA_CERTS: ca.caCert };
    base = mkdtempSync(join(tmpdir(), 'dchat-bt-cli-'));
    dir = join(base, 'repo');
    const keys = makeKeys(1);
    await initRepository({ dir, keys, threshold: 1, now: new Date() });
    nginx = await startNginx(dir, ca);
    // Slower than the swarm, so BitTorrent carries chunks beside it, but not so slow that the
    // swarm finishes its share before the mirror's first chunk (the end-game would then take over
    // the mirror's whole run).
    slow = await startFaultMirror(dir, ca, [{ kind: 'slow', bytesPerSec: 2 * 1024 * 1024 }]);
    tracker = await startTracker('127.0.0.1', 0);
    bytes = packageBytes('dchat over bittorrent', SIZE);
    const src = join(base, 'src');
    writeFileSync(src, bytes);
    const r = await publishRelease({
      dir,
      packagePath: src,
      version: '1.0.0',
      platform: 'linux-x64',
      keys,
      now: new Date(),
      chunkSize: 64 * 1024,
      baseUrls: [nginx.url],
      announce: [tracker.announceUrl],
    });
    custom = r.custom as typeof custom;
    // A seeder of the published torrent, from the mirror directory's packages/.
    const torrent = readFileSync(join(dir, 'packages', `${NAME}.torrent`));
    seeders.push(await startSeeder(torrent, join(dir, 'packages')));
  });
  after(async () => {
    for (const s of seeders) await s.stop();
    await tracker?.close();
    await nginx?.stop();
    await slow?.stop();
  });

  async function home(...mirrors: [string, string, string?][]): Promise<string> {
    const h = (await makeHome({ base, dir } as MirrorRepo)).home;
    for (const [url, type, priority] of mirrors) {
      const r = await runDchat(
        [
          '--home',
          h,
          'update',
          'add-mirror',
          '--url',
          url,
          '--mirror-type',
          type,
          ...(priority ? ['--priority', priority] : []),
        ],
        { env },
      );
      assert.equal(r.code, 0, r.stderr);
    }
    return h;
  }
  const download = (h: string, ...more: string[]) =>
    runDchat(
      ['--home', h, '--json', 'update', 'download', '--version', '1.0.0', '--platform', 'linux-x64', ...more],
      {
        env,
      },
    );

  test('publish: a v1 .torrent with our tracker only and the mirror as web seed; its info hash is signed', async () => {
    const file = readFileSync(join(dir, 'packages', `${NAME}.torrent`));
    const t = await parseTorrent(file);
    assert.equal(t.infoHash, custom.btih);
    assert.equal(t.name, NAME);
    assert.equal(t.length, SIZE);
    assert.deepEqual(t.announce, [tracker.announceUrl]);
    assert.deepEqual(t.urlList, [`${nginx.url}/packages/${NAME}`]);
    // v1: piece hashes in `pieces`, no v2 `meta version`/`file tree`.
    assert.ok(file.includes(Buffer.from('6:pieces')) && !file.includes(Buffer.from('12:meta version')));
    assert.match(custom.magnet, new RegExp(`^magnet:\\?xt=urn:btih:${custom.btih}&dn=${NAME}&tr=`));
    const m = new URL(custom.magnet);
    assert.deepEqual(m.searchParams.getAll('tr'), [tracker.announceUrl]);
    assert.deepEqual(m.searchParams.getAll('ws'), [`${nginx.url}/packages/${NAME}`]);
  });

  test('update download --source bittorrent: from the seeder through our tracker, verified (magnet and .torrent URL)', async () => {
    for (const url of [custom.magnet, `${nginx.url}/packages/${NAME}.torrent`]) {
      const h = await home([nginx.url, 'https'], [url, 'bittorrent']);
      const r = await download(h, '--source', 'bittorrent');
      assert.equal(r.code, 0, r.stderr);
      const result = ndjson(r.stdout).at(-1) as {
        ok: boolean;
        sha256: string;
        sources: { type: string; bytes: number; url: string }[];
      };
      assert.equal(result.ok, true);
      assert.equal(result.sha256, sha256Hex(bytes));
      assert.equal(sha256Hex(readFileSync(join(h, 'packages', NAME))), sha256Hex(bytes));
      const moved = result.sources.filter((s) => s.bytes > 0);
      assert.deepEqual(
        moved.map((s) => s.type),
        ['bittorrent'],
        `only BitTorrent delivered bytes: ${JSON.stringify(result.sources)}`,
      );
      assert.equal(moved[0]?.bytes, SIZE);
      const v = await runDchat([
        '--home',
        h,
        'update',
        'verify',
        '--package',
        join(h, 'packages', NAME),
        '--version',
        '1.0.0',
      ]);
      assert.equal(v.code, 0, v.stderr);
    }
  });

  test('HTTPS and BitTorrent together: one download takes chunks from both channels', async () => {
    // A slow HTTPS mirror beside the swarm: each channel takes the chunks it can deliver.
    const h = await home([slow.url, 'https'], [custom.magnet, 'bittorrent']);
    const r = await download(h);
    assert.equal(r.code, 0, r.stderr);
    const result = ndjson(r.stdout).at(-1) as { ok: boolean; sources: { type: string; bytes: number }[] };
    assert.equal(result.ok, true);
    const by = Object.fromEntries(result.sources.map((s) => [s.type, s.bytes]));
    assert.ok((by.https ?? 0) > 0 && (by.bittorrent ?? 0) > 0, JSON.stringify(result.sources));
    assert.equal((by.https ?? 0) + (by.bittorrent ?? 0), SIZE);
    assert.equal(sha256Hex(readFileSync(join(h, 'packages', NAME))), sha256Hex(bytes));
  });

  test('a lying peer in the swarm: dropped with E_BAD_PIECE in the report, the download completes verified', async () => {
    // The published torrent seeded over other bytes, every piece claimed without a check. The
    // honest seeder is stopped first, so the liar is the only peer when the download starts; it
    // comes back a moment later.
    const torrent = readFileSync(join(dir, 'packages', `${NAME}.torrent`));
    await seeders.shift()?.stop();
    const liarDir = join(base, 'liar');
    await makePackage(liarDir, NAME, SIZE, [], 'lies');
    const liar = await startSeeder(torrent, liarDir, true);
    try {
      const h = await home([nginx.url, 'https'], [custom.magnet, 'bittorrent']);
      const running = download(h, '--source', 'bittorrent');
      await new Promise((ok) => setTimeout(ok, 1500));
      seeders.unshift(await startSeeder(torrent, join(dir, 'packages')));
      const r = await running;
      assert.equal(r.code, 0, r.stderr);
      const result = ndjson(r.stdout).at(-1) as {
        ok: boolean;
        sources: { type: string; bytes: number; failures: { code: string; message: string }[] }[];
      };
      assert.equal(result.ok, true);
      assert.equal(sha256Hex(readFileSync(join(h, 'packages', NAME))), sha256Hex(bytes));
      const bt = result.sources.find((s) => s.type === 'bittorrent');
      assert.equal(bt?.bytes, SIZE);
      const bad = bt?.failures.filter((f) => f.code === 'E_BAD_PIECE') ?? [];
      assert.ok(bad.length >= 1, JSON.stringify(bt));
      assert.match(
        bad[0]?.message ?? '',
        new RegExp(`^127\\.0\\.0\\.1:${liar.port} served piece \\d+ .*fails its SHA-1`),
      );
    } finally {
      await liar.stop();
    }
  });

  test('update test-mirrors: a BitTorrent mirror is probed on a trusted package; a dead one fails coded', async () => {
    const dead = 'magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=x';
    const h = await home([nginx.url, 'https'], [custom.magnet, 'bittorrent'], [dead, 'bittorrent']);
    assert.equal((await runDchat(['--home', h, 'update', 'check'], { env })).code, 0);
    const t0 = performance.now();
    const r = await runDchat(['--home', h, '--json', 'update', 'test-mirrors', '--timeout', '8'], { env });
    // Bounded by --timeout: closing the registry ends a torrent still waiting for its metadata.
    assert.ok(performance.now() - t0 < 15_000, `took ${Math.round(performance.now() - t0)} ms`);
    const doc = JSON.parse(r.stdout) as { url: string; ok: boolean; error: string | null }[];
    assert.equal(doc.find((d) => d.url === custom.magnet)?.ok, true, r.stdout);
    const d = doc.find((x) => x.url === dead);
    assert.equal(d?.ok, false);
    assert.match(d?.error ?? '', /timeout|E_TIMEOUT/);
  });

  test('a BitTorrent channel serving other bytes: E_CHUNK_MISMATCH for that channel, HTTPS completes', async () => {
    // Same name and size, other bytes: a torrent consistent with itself, not with the signed target.
    const evil = await makePackage(join(base, 'evil'), NAME, SIZE, [tracker.announceUrl], 'not the release');
    seeders.push(await startSeeder(evil.torrent.torrent, evil.dir));
    const h = await home([slow.url, 'https', '20'], [evil.torrent.magnet, 'bittorrent', '1']);
    const r = await download(h);
    assert.equal(r.code, 0, r.stderr);
    const recs = ndjson(r.stdout);
    const result = recs.at(-1) as {
      ok: boolean;
      sha256: string;
      sources: { type: string; url: string; bytes: number; ok: boolean; failures: { code: string }[] }[];
    };
    assert.equal(result.ok, true);
    assert.equal(sha256Hex(readFileSync(join(h, 'packages', NAME))), sha256Hex(bytes));
    const bt = result.sources.find((s) => s.type === 'bittorrent');
    assert.ok(bt, JSON.stringify(result.sources));
    assert.equal(bt.ok, false);
    assert.ok(
      bt.failures.some((f) => f.code === 'E_CHUNK_MISMATCH'),
      JSON.stringify(bt.failures),
    );
    assert.equal(bt.bytes, 0, 'no byte of the lying channel was kept');
    assert.equal(result.sources.find((s) => s.type === 'https')?.bytes, SIZE);
    assert.equal(result.sources.find((s) => s.type === 'https')?.url, slow.url);
    // Alone, the lying channel cannot produce a package: a security exit, nothing at the final path.
    const alone = await home([nginx.url, 'https'], [evil.torrent.magnet, 'bittorrent']);
    const a = await download(alone, '--source', 'bittorrent');
    assert.equal(a.code, 3, a.stderr);
    assert.match(a.stderr, /E_CHUNK_MISMATCH/);
  });
});
