/**
 * The BitTorrent source against real WebTorrent seeders through our own tracker on loopback: exact
 * ranges, a chunk table derived from the whole file that matches the one `release publish` writes,
 * a lying peer caught (E_BAD_PIECE) while the download completes from the honest one, and coded
 * errors for a torrent that does not hold the target, a bad .torrent URL, or an oversized one.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { serializeChunkTable } from '../../../src/model/chunks.ts';
import type { PackageTarget } from '../../../src/model/package.ts';
import { BitTorrentSource, MAX_TORRENT_FILE_BYTES } from '../../../src/sources/bittorrent/source.ts';
import { assertCode, chunkTableOf, makeTempDir } from '../../helpers/repo.ts';
import { makePackage, type Seeder, startSeeder, startTracker } from './helpers.ts';

const NAME = 'dchat-1.0.0-linux-x64';

function req(start: number, end: number, target = NAME) {
  return { target, sha256: '0'.repeat(64), start, end, maxBytes: 64 * 1024 * 1024 };
}

test('ranges and a derived chunk table from a seeder found through our tracker (magnet and .torrent URL)', async (t) => {
  const tmp = await makeTempDir();
  const tracker = await startTracker('127.0.0.1', 0);
  const seeders: Seeder[] = [];
  const sources: BitTorrentSource[] = [];
  const http = createServer();
  t.after(async () => {
    for (const s of sources) await s.close();
    for (const s of seeders) await s.stop();
    await tracker.close();
    http.close();
    await tmp.cleanup();
  });
  const pkg = await makePackage(join(tmp.path, 'seed'), NAME, 3 * 1024 * 1024 + 12_345, [
    tracker.announceUrl,
  ]);
  seeders.push(await startSeeder(pkg.torrent.torrent, pkg.dir));
  assert.match(pkg.torrent.magnet, /^magnet:\?xt=urn:btih:[0-9a-f]{40}&dn=dchat-1\.0\.0-linux-x64&tr=http/);

  const bt = new BitTorrentSource({ id: 'bt', uri: pkg.torrent.magnet });
  sources.push(bt);
  assert.equal(await bt.fetchMetadata(), undefined);
  assert.equal(await bt.fetchChunkTable(NAME, { maxBytes: 1 << 20 }), undefined);
  for (const [s, e] of [
    [0, 1],
    [1_000_000, 2_500_000],
    [pkg.bytes.length - 7, pkg.bytes.length],
  ] as const) {
    const got = await bt.fetchRange(req(s, e));
    assert.ok(Buffer.from(got).equals(pkg.bytes.subarray(s, e)), `range ${s}-${e}`);
  }
  const table = await bt.fetchChunkTable(NAME, { maxBytes: 1 << 20, chunkSize: 1 << 20 });
  assert.deepEqual(table, serializeChunkTable(chunkTableOf(pkg.bytes, 1 << 20)));
  await assertCode(() => bt.fetchRange(req(0, pkg.bytes.length + 1)), 'E_SIZE_MISMATCH');

  // The same torrent named by the https-or-loopback URL of its .torrent file.
  http.on('request', (q, r) => {
    if (q.url === '/ok.torrent') return r.end(pkg.torrent.torrent);
    if (q.url === '/huge.torrent') return r.end(Buffer.alloc(MAX_TORRENT_FILE_BYTES + 1));
    if (q.url === '/junk.torrent') return r.end('this is not bencode');
    r.statusCode = 404;
    r.end();
  });
  await new Promise<void>((ok) => http.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const byUrl = new BitTorrentSource({ id: 'bt-url', uri: `${base}/ok.torrent` });
  sources.push(byUrl);
  assert.ok(Buffer.from(await byUrl.fetchRange(req(5, 70_000))).equals(pkg.bytes.subarray(5, 70_000)));
  for (const [path, code] of [
    ['/huge.torrent', 'E_TOO_LARGE'],
    ['/junk.torrent', 'E_MALFORMED'],
    ['/gone.torrent', 'E_HTTP'],
  ] as const) {
    const s = new BitTorrentSource({ id: path, uri: `${base}${path}` });
    sources.push(s);
    await assertCode(() => s.fetchRange(req(0, 10)), code);
  }
  const other = new BitTorrentSource({ id: 'other', uri: pkg.torrent.magnet });
  sources.push(other);
  // A single-file torrent serves its one file whatever the target is called; a range past it fails.
  await assertCode(
    () => other.fetchRange(req(0, pkg.bytes.length + 10, 'dchat-2.0.0-linux-x64')),
    'E_SIZE_MISMATCH',
  );
  // Never for a patch (no package name) without a torrent of its own: the torrent named is a
  // package's, whose only file would be served for it.
  const patch = 'dchat-2.0.0-linux-x64.from-1.0.0.bsdb';
  const view = (path: string, btih?: string) =>
    ({ path, custom: btih ? { btih } : {} }) as unknown as PackageTarget;
  assert.equal(other.serves(view(patch)), false);
  assert.equal(other.serves(view(patch, 'a'.repeat(40))), true);
  assert.equal(other.serves(view('dchat-2.0.0-linux-x64')), true);
});

test('a peer serving pieces that fail their hash is dropped with E_BAD_PIECE; the honest seeder completes the download', async (t) => {
  const tmp = await makeTempDir();
  const tracker = await startTracker('127.0.0.1', 0);
  const seeders: Seeder[] = [];
  let bt: BitTorrentSource | undefined;
  t.after(async () => {
    await bt?.close();
    for (const s of seeders) await s.stop();
    await tracker.close();
    await tmp.cleanup();
  });
  const size = 4 * 1024 * 1024;
  const pkg = await makePackage(join(tmp.path, 'good'), NAME, size, [tracker.announceUrl]);
  // The liar: the same torrent over other bytes, claiming every piece without checking them.
  const liarDir = join(tmp.path, 'liar');
  await makePackage(liarDir, NAME, size, [], 'other bytes');
  const liar = await startSeeder(pkg.torrent.torrent, liarDir, true);
  seeders.push(liar);
  // The liar is the only peer when the range is asked; the honest seeder joins a moment later
  // (named directly as well as through the tracker).
  bt = new BitTorrentSource({ id: 'bt', uri: pkg.torrent.magnet, peers: [`127.0.0.1:${liar.port}`] });
  const source = bt;
  const pending = source.fetchRange(req(0, size));
  await new Promise((ok) => setTimeout(ok, 1000));
  const honest = await startSeeder(pkg.torrent.torrent, pkg.dir);
  seeders.push(honest);
  const opened = await (source as unknown as { opened: Promise<{ torrent: { addPeer(p: string): void } }> })
    .opened;
  opened.torrent.addPeer(`127.0.0.1:${honest.port}`);
  const got = await pending;
  assert.ok(Buffer.from(got).equals(pkg.bytes), 'the whole package, byte for byte');
  assert.ok(bt.misbehaving.length >= 1, 'the liar was caught');
  for (const m of bt.misbehaving) {
    assert.equal(m.code, 'E_BAD_PIECE');
    assert.match(m.message, /fails its SHA-1; peer dropped/);
  }
});
