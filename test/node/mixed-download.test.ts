/**
 * A node's download goes through the update service with the HTTPS mirrors of its mirrors.toml and
 * its peers together: two real DchatNodes on loopback (libp2p TCP), one holding the package, the
 * other with a real HTTPS mirror configured; the control protocol's `download` asks the second
 * node, and both kinds of source deliver verified chunks of the one file. Then patches (issue 14):
 * a node holding 1.0.0 gets 1.1.0 through a patch from the mirror and keeps it; another node
 * holding 1.0.0, with no mirror, fetches that patch from the first node (peer transfer serves
 * patches like any file) and ends with the verified 1.1.0; a third, allowed IPFS alone, fetches the
 * patch the first node provides by its own signed CID.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sha256Hex } from '../../src/crypto/hash.ts';
import { trustUpdate } from '../../src/download/trust-session.ts';
import { controlRequest } from '../../src/node/control.ts';
import { publishRelease } from '../../src/release/publish.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import { encodedFile } from '../../src/store/encoded.ts';
import { addMirror as addMirrorEntry, DEFAULT_SETTINGS, saveMirrors } from '../../src/store/mirrors.ts';
import {
  addMirror,
  CHUNK,
  type MirrorRepo,
  makeHome,
  makeMirrorRepo,
  type Published,
} from '../download/fixture.ts';
import { type FaultMirror, startFaultMirror } from '../helpers/fault-mirror.ts';
import { textish } from '../helpers/textish.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';
import { type RunningTracker, startTracker } from '../sources/bittorrent/helpers.ts';
import { InProcessNodes } from './in-process-nodes.ts';

const skip = requireTool('openssl');
const skipDelta = skip || requireTool('bsdiff');

describe('a node downloads from mirrors and peers together', { skip }, () => {
  let ca: TestCa;
  let repo: MirrorRepo;
  let pkg: Published;
  let mirror: FaultMirror;
  const net = new InProcessNodes(() => ({ NODE_EXTRA_CA_CERTS: ca.caCert }));
  /** Closed after the nodes: a seeder announces its stop to the tracker. */
  let tracker: RunningTracker | undefined;

  before(async () => {
    ca = makeTestCa();
    repo = await makeMirrorRepo();
    pkg = await repo.publish('1.0.0', 48 * CHUNK + 5);
    // Slow enough (about 12 s for the package alone) that the planner probes the channels the
    // mirror outranks once it has measured the mirror (a download the mirror ends within the probe
    // horizon never starts them); the peer then takes over, so the test does not wait for the
    // mirror. Not slower: a first chunk later than the probe grace (500 ms) lets the peer start
    // before the mirror delivered anything, and the end-game then takes the mirror's whole run.
    mirror = await startFaultMirror(repo.dir, ca, [{ kind: 'slow', bytesPerSec: 256 * 1024 }]);
  });
  after(async () => {
    await net.stop();
    await tracker?.close();
    await mirror?.stop();
  });

  test('the control `download` of a node uses its HTTPS mirror and its peer in one run', {
    timeout: 60_000,
  }, async () => {
    const seedPaths = await makeHome(repo);
    await trustUpdate(seedPaths, new DirectoryFetcher(repo.dir), new Date());
    await mkdir(seedPaths.packagesDir, { recursive: true });
    await copyFile(pkg.file, seedPaths.packageFile('1.0.0', 'linux-x64'));
    const seed = await net.start(seedPaths);

    const paths = await makeHome(repo);
    await trustUpdate(paths, new DirectoryFetcher(repo.dir), new Date());
    await addMirror(paths.home, mirror.url);
    const me = await net.start(paths, [await net.address(seedPaths)]);
    for (let i = 0; i < 100; i++) {
      if ((await controlRequest(paths, 'status')).connected_peers.some((p) => p.id === seed.peerId)) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const r = await controlRequest(paths, 'download', { version: '1.0.0', platform: 'linux-x64' }, 60_000);
    assert.equal(sha256Hex(await readFile(r.path)), pkg.sha256);
    const byType = new Map<string, number>();
    for (const s of r.sources) byType.set(s.type, (byType.get(s.type) ?? 0) + s.bytes);
    assert.ok(
      (byType.get('https') ?? 0) > 0,
      `the mirror delivered verified bytes: ${JSON.stringify(r.sources)}`,
    );
    assert.ok(
      (byType.get('peer') ?? 0) > 0,
      `the peer delivered verified bytes: ${JSON.stringify(r.sources)}`,
    );
    // The seed also provides the release over IPFS (it was published with a CID), a third channel.
    assert.equal(
      (byType.get('https') ?? 0) + (byType.get('peer') ?? 0) + (byType.get('ipfs') ?? 0),
      pkg.bytes.byteLength,
    );
    assert.ok((r.peers[seed.peerId] ?? 0) > 0, 'the seed is named with the bytes it served');
    assert.ok(mirror.packageBytes > 0);
    // The node now holds and serves it; its status says where the bytes came from.
    const st = await controlRequest(paths, 'status');
    const held = st.releases.packages.find((p) => p.target === 'dchat-1.0.0-linux-x64');
    assert.ok(held && ['https', 'peer', 'ipfs'].includes(held.source), held?.source);
    assert.equal(me.peerId, st.peer_id);
    // The mirror's health was recorded once, as for a CLI download.
    assert.match(await readFile(paths.mirrorHealth, 'utf8'), /"last_success": "/);
  });

  test('peers serve patches: a node keeps the patch it applied, another fetches it from that node', {
    skip: skipDelta,
    timeout: 90_000,
  }, async () => {
    const drepo = await makeMirrorRepo();
    const OLD = textish(1, 600_000);
    const NEW = Buffer.concat([OLD.subarray(0, 250_000), textish(2, 5_000), OLD.subarray(250_000, 590_000)]);
    const put = async (name: string, b: Buffer) => {
      const f = join(drepo.base, name);
      await writeFile(f, b);
      return f;
    };
    const common = { dir: drepo.dir, platform: 'linux-x64', keys: drepo.keys, chunkSize: CHUNK };
    const oldFile = await put('old', OLD);
    await publishRelease({ ...common, packagePath: oldFile, version: '1.0.0', now: new Date() });
    // Our loopback tracker in the signed magnets of 1.1.0 and its patch: nodes seed both through it.
    tracker = await startTracker('127.0.0.1', 0);
    const pub = await publishRelease({
      ...common,
      packagePath: await put('new', NEW),
      version: '1.1.0',
      now: new Date(),
      deltaFrom: '1.0.0',
      announce: [tracker.announceUrl],
    });
    const patch = pub.deltas.find((d) => d.published && d.from === 'dchat-1.0.0-linux-x64');
    assert.ok(patch?.name && patch.size, JSON.stringify(pub.deltas));
    const dmirror = await startFaultMirror(drepo.dir, ca, []);
    try {
      /** A home trusting the repository and holding the verified 1.0.0. */
      const homeWithBase = async () => {
        const p = await makeHome(drepo);
        await trustUpdate(p, new DirectoryFetcher(drepo.dir), new Date());
        await mkdir(p.packagesDir, { recursive: true });
        await copyFile(oldFile, p.packageFile('1.0.0', 'linux-x64'));
        return p;
      };
      const aPaths = await homeWithBase();
      await addMirror(aPaths.home, dmirror.url);
      const a = await net.start(aPaths);
      const ra = await controlRequest(
        aPaths,
        'download',
        { version: '1.1.0', platform: 'linux-x64' },
        60_000,
      );
      assert.equal(sha256Hex(await readFile(ra.path)), sha256Hex(NEW));
      // Through the patch: the mirror sent the patch's bytes, not the package's.
      assert.equal(
        ra.sources.reduce((n, s) => n + s.bytes, 0),
        patch.size,
        JSON.stringify(ra.sources),
      );
      assert.ok(existsSync(encodedFile(aPaths, patch.name)), 'the applied patch is kept for peers');

      const bPaths = await homeWithBase();
      await net.start(bPaths, [await net.address(aPaths)]);
      await net.connected(bPaths, a.peerId);
      const rb = await controlRequest(
        bPaths,
        'download',
        { version: '1.1.0', platform: 'linux-x64', only: 'peer' },
        60_000,
      );
      assert.equal(sha256Hex(await readFile(rb.path)), sha256Hex(NEW));
      assert.deepEqual(
        rb.sources.map((s) => [s.type, s.bytes]),
        [['peer', patch.size]],
        'only the patch travelled, from the peer',
      );
      assert.equal(rb.peers[a.peerId], patch.size, 'node A served the patch');
      assert.ok(existsSync(encodedFile(bPaths, patch.name)), 'and B keeps it to serve in turn');

      // IPFS serves patches too: A provides the kept patch by its own signed CID, and C, holding
      // 1.0.0 and allowed IPFS alone, fetches the patch (table and bytes over bitswap) and applies it.
      const cPaths = await homeWithBase();
      await net.start(cPaths, [await net.address(aPaths)]);
      await net.connected(cPaths, a.peerId);
      const rc = await controlRequest(
        cPaths,
        'download',
        { version: '1.1.0', platform: 'linux-x64', only: 'ipfs' },
        60_000,
      );
      assert.equal(sha256Hex(await readFile(rc.path)), sha256Hex(NEW));
      assert.deepEqual(
        rc.sources.map((s) => [s.type, s.bytes]),
        [['ipfs', patch.size]],
        'only the patch travelled, over IPFS',
      );
      const held = (await controlRequest(cPaths, 'status')).releases.packages.find(
        (p) => p.target === 'dchat-1.1.0-linux-x64',
      );
      assert.equal(held?.fetched?.patch, patch.name, 'verified through the patch');

      // BitTorrent too: D's only channel is the magnet of the 1.1.0 package; A seeds the patch it
      // keeps under the patch's own signed info hash, and D joins that torrent for the patch.
      const dPaths = await homeWithBase();
      const magnet = (pub.custom as { magnet?: string }).magnet;
      assert.ok(magnet);
      await saveMirrors(dPaths, {
        settings: { ...DEFAULT_SETTINGS },
        mirrors: addMirrorEntry([], { url: magnet, mirrorType: 'bittorrent' }).mirrors,
      });
      await net.start(dPaths);
      const rd = await controlRequest(
        dPaths,
        'download',
        { version: '1.1.0', platform: 'linux-x64', only: 'bittorrent' },
        60_000,
      );
      assert.equal(sha256Hex(await readFile(rd.path)), sha256Hex(NEW));
      assert.deepEqual(
        rd.sources.map((s) => [s.type, s.bytes]),
        [['bittorrent', patch.size]],
        'only the patch travelled, over BitTorrent',
      );
    } finally {
      await dmirror.stop();
    }
  });
});
