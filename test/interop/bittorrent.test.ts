/**
 * BitTorrent interop both ways with the ecosystem's standard clients (Debian aria2 and
 * python3-libtorrent), through our tracker on loopback:
 * - a torrent `release publish` made, seeded by the node's seeder (node/bittorrent.ts), is
 *   downloaded by aria2c and by libtorrent, byte for byte;
 * - the same torrent served only by its BEP 19 web seed (an HTTP mirror, no peer) is downloaded by
 *   aria2c;
 * - a torrent libtorrent made (its default: hybrid v1+v2) and seeds is downloaded by dchat
 *   (`update download --source bittorrent` with its magnet) and ends verified.
 * In CI a missing aria2c or libtorrent fails the test (scripts/setup-system.sh installs both).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { sha256Hex } from '../../src/crypto/hash.ts';
import type { PackageTarget } from '../../src/model/package.ts';
import { BitTorrentSeeder } from '../../src/node/bittorrent.ts';
import { initRepository, publishRelease } from '../../src/release/publish.ts';
import { downloadFrom, type MirrorRepo, makeHome, ndjson, runDchat } from '../download/fixture.ts';
import { makeKeys, packageBytes } from '../helpers/repo.ts';
import { requireTool } from '../helpers/tools.ts';
import { type RunningTracker, startTracker } from '../sources/bittorrent/helpers.ts';

const PY = '/usr/bin/python3';
const PEER = fileURLToPath(new URL('./libtorrent-peer.py', import.meta.url));

function libtorrentMissing(): false | string {
  try {
    execFileSync(PY, ['-c', 'import libtorrent'], { stdio: 'ignore' });
    return false;
  } catch {
    if (process.env.CI === 'true')
      throw new Error('python3-libtorrent is required in CI (scripts/setup-system.sh installs it)');
    return 'python3-libtorrent not installed (run scripts/setup-system.sh)';
  }
}

const skip = requireTool('aria2c') || libtorrentMissing();
const NAME = 'dchat-1.0.0-linux-x64';
const SIZE = 3 * 1024 * 1024 + 999;

/** A plain HTTP server with Range (the web seed; BEP 19 needs Range), for one directory. */
function rangeServer(root: string): Promise<Server> {
  const s = createServer((req, res) => {
    const path = join(root, decodeURIComponent((req.url ?? '/').split('?')[0] as string));
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      res.statusCode = 404;
      return res.end();
    }
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m) {
      res.setHeader('content-length', size);
      return createReadStream(path).pipe(res);
    }
    const start = Number(m[1]);
    const end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    res.statusCode = 206;
    res.setHeader('content-range', `bytes ${start}-${end}/${size}`);
    res.setHeader('content-length', end - start + 1);
    createReadStream(path, { start, end }).pipe(res);
  });
  return new Promise((ok) => s.listen(0, '127.0.0.1', () => ok(s)));
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => {
      out += b;
    });
    p.stderr.on('data', (b: Buffer) => {
      out += b;
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out });
    });
  });
}

const ARIA2_LOOPBACK = [
  '--enable-dht=false',
  '--enable-dht6=false',
  '--bt-enable-lpd=false',
  '--enable-peer-exchange=false',
  '--seed-time=0',
  '--file-allocation=none',
  '--summary-interval=0',
  '--console-log-level=warn',
  '--bt-stop-timeout=60',
];

describe('BitTorrent interop: aria2c and libtorrent', { skip }, () => {
  let base: string;
  let dir: string;
  let tracker: RunningTracker;
  let seeder: BitTorrentSeeder;
  let bytes: Buffer;
  let target: PackageTarget;
  let web: Server;
  /** Our torrent without its web seed (url-list is outside the info dictionary: same info hash). */
  let peersOnly: string;

  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'dchat-bt-interop-'));
    dir = join(base, 'repo');
    const keys = makeKeys(1);
    await initRepository({ dir, keys, threshold: 1, now: new Date() });
    tracker = await startTracker('127.0.0.1', 0);
    web = await rangeServer(dir);
    const webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
    bytes = packageBytes('interop', SIZE);
    const src = join(base, 'src');
    writeFileSync(src, bytes);
    const r = await publishRelease({
      dir,
      packagePath: src,
      version: '1.0.0',
      platform: 'linux-x64',
      keys,
      now: new Date(),
      announce: [tracker.announceUrl],
      baseUrls: [webUrl],
    });
    target = { path: r.name, length: SIZE, sha256: r.custom.sha256, custom: r.custom };
    const { default: parse, toTorrentFile } = await import('parse-torrent');
    const t = await parse(readFileSync(join(dir, 'packages', `${NAME}.torrent`)));
    assert.equal(t.infoHash, r.custom.btih);
    peersOnly = join(base, 'peers-only.torrent');
    writeFileSync(peersOnly, toTorrentFile({ ...t, urlList: [] }));
    // The node's seeder, on a verified package (here the mirror's copy).
    seeder = new BitTorrentSeeder({}, pino({ level: 'silent' }));
    await seeder.sync([{ target, file: join(dir, 'packages', NAME) }]);
    assert.deepEqual(
      seeder.status().torrents.map((t) => t.info_hash),
      [r.custom.btih],
    );
  });
  after(async () => {
    await seeder?.stop();
    await tracker?.close();
    web?.close();
  });

  test('aria2c downloads a torrent we made from the node seeder (through our tracker)', async () => {
    const out = join(base, 'aria2');
    mkdirSync(out);
    const r = await run('aria2c', [...ARIA2_LOOPBACK, '--dir', out, peersOnly], 90_000);
    assert.equal(r.code, 0, r.out);
    assert.equal(sha256Hex(readFileSync(join(out, NAME))), target.sha256);
    const st = seeder.status().torrents[0];
    assert.ok((st?.uploaded ?? 0) > 0, 'the node seeder uploaded');
  });

  test('libtorrent downloads a torrent we made from the node seeder', async () => {
    const out = join(base, 'lt');
    mkdirSync(out);
    const before = seeder.status().torrents[0]?.uploaded ?? 0;
    const r = await run(PY, [PEER, 'download', peersOnly, out, '60'], 90_000);
    assert.equal(r.code, 0, r.out);
    assert.equal(sha256Hex(readFileSync(join(out, NAME))), target.sha256);
    assert.ok((seeder.status().torrents[0]?.uploaded ?? 0) > before, 'bytes came from the node seeder');
  });

  test('aria2c downloads through the BEP 19 web seed alone (no peer)', async () => {
    const out = join(base, 'aria2-web');
    mkdirSync(out);
    // A torrent without trackers: the url-list (the mirror's packages/NAME) is the only source.
    const { default: parse, toTorrentFile } = await import('parse-torrent');
    const t = await parse(readFileSync(join(dir, 'packages', `${NAME}.torrent`)));
    const lone = join(base, 'webseed-only.torrent');
    writeFileSync(lone, toTorrentFile({ ...t, announce: [] }));
    const r = await run('aria2c', [...ARIA2_LOOPBACK, '--dir', out, lone], 60_000);
    assert.equal(r.code, 0, r.out);
    assert.equal(sha256Hex(readFileSync(join(out, NAME))), target.sha256);
  });

  test('dchat downloads, and verifies, a torrent libtorrent made (hybrid v1+v2) and seeds', async () => {
    const ltDir = join(base, 'lt-seed');
    mkdirSync(ltDir);
    writeFileSync(join(ltDir, NAME), bytes);
    const peer = spawn(PY, [PEER, 'seed', join(ltDir, NAME), tracker.announceUrl, join(base, 'lt.torrent')], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const rl = createInterface({ input: peer.stdout });
        rl.once('line', resolve);
        peer.once('exit', (c) => reject(new Error(`libtorrent seeder exited ${c}`)));
      });
      const info = JSON.parse(line) as { magnet: string; info_hash: string; seeding: boolean };
      assert.equal(info.seeding, true);
      assert.notEqual(info.info_hash, target.custom.btih, "libtorrent's own torrent, not ours");
      assert.match(readFileSync(join(base, 'lt.torrent')).toString('latin1'), /12:meta version/, 'hybrid');
      // libtorrent's magnet names no tracker we trust implicitly: ours is in the torrent it made.
      const magnet = info.magnet.includes('tr=')
        ? info.magnet
        : `${info.magnet}&tr=${encodeURIComponent(tracker.announceUrl)}`;
      const home = (await makeHome({ base, dir } as MirrorRepo)).home;
      // Metadata comes from the mirror directory served over plain http on loopback.
      const webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
      for (const [url, type] of [
        [webUrl, 'https'],
        [magnet, 'bittorrent'],
      ] as const) {
        const a = await runDchat([
          '--home',
          home,
          'update',
          'add-mirror',
          '--url',
          url,
          '--mirror-type',
          type,
        ]);
        assert.equal(a.code, 0, a.stderr);
      }
      const r = await downloadFrom(home, 'bittorrent');
      assert.equal(r.code, 0, r.stderr);
      const result = ndjson(r.stdout).at(-1) as {
        ok: boolean;
        sha256: string;
        sources: { type: string; bytes: number }[];
      };
      assert.equal(result.ok, true);
      assert.equal(result.sha256, target.sha256);
      assert.deepEqual(
        result.sources.filter((s) => s.bytes > 0).map((s) => s.type),
        ['bittorrent'],
      );
      assert.equal(sha256Hex(readFileSync(join(home, 'packages', NAME))), target.sha256);
    } finally {
      peer.stdin?.end();
      peer.kill('SIGTERM');
    }
  });

  test('a package no longer listed is no longer seeded (its file kept); listed again, it is seeded again', async () => {
    const ih = target.custom.btih;
    await seeder.sync([]);
    assert.deepEqual(seeder.status().torrents, []);
    assert.ok(existsSync(join(dir, 'packages', NAME)), "the package file is not the seeder's to delete");
    await seeder.sync([{ target, file: join(dir, 'packages', NAME) }]);
    assert.deepEqual(
      seeder.status().torrents.map((t) => t.info_hash),
      [ih],
    );
  });
});
