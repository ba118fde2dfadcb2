/**
 * Nodes pin and provide verified releases over IPFS, and fetch them over IPFS alone: three real
 * DchatNodes on loopback (libp2p TCP). The seed holds the package (published with its Kubo CID and
 * its chunk table's); B asks its node for `--source ipfs` (control `download`, only: ipfs): the chunk
 * table and every byte arrive over bitswap by the signed CIDs, are verified, and B then provides
 * them in turn, which C, connected to B alone, shows by fetching everything from B.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { sha256Hex } from '../../src/crypto/hash.ts';
import { trustUpdate } from '../../src/download/trust-session.ts';
import { controlRequest } from '../../src/node/control.ts';
import type { DchatNode } from '../../src/node/daemon.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import { kuboCid } from '../../src/sources/ipfs/kubo-cid.ts';
import type { HomePaths } from '../../src/store/home.ts';
import {
  CHUNK,
  downloadFrom,
  type MirrorRepo,
  makeHome,
  makeMirrorRepo,
  type Published,
  runDchat,
} from '../download/fixture.ts';
import { InProcessNodes } from './in-process-nodes.ts';

describe('a release over IPFS between nodes', () => {
  let repo: MirrorRepo;
  let pkg: Published;
  let seedPaths: HomePaths;
  const net = new InProcessNodes();
  const nodes = net.nodes;

  before(async () => {
    repo = await makeMirrorRepo();
    pkg = await repo.publish('1.0.0', 48 * CHUNK + 5);
  });
  after(async () => {
    await net.stop();
  });

  test('B fetches over IPFS alone from the seed, then provides it to C', { timeout: 120_000 }, async () => {
    seedPaths = await makeHome(repo);
    await trustUpdate(seedPaths, new DirectoryFetcher(repo.dir), new Date());
    await mkdir(seedPaths.packagesDir, { recursive: true });
    await copyFile(pkg.file, seedPaths.packageFile('1.0.0', 'linux-x64'));
    const seed = await net.start(seedPaths);

    const bPaths = await makeHome(repo);
    await trustUpdate(bPaths, new DirectoryFetcher(repo.dir), new Date());
    await net.start(bPaths, [await net.address(seedPaths)]);
    await net.connected(bPaths, seed.peerId);
    const rb = await controlRequest(
      bPaths,
      'download',
      { version: '1.0.0', platform: 'linux-x64', only: 'ipfs' },
      90_000,
    );
    assert.equal(sha256Hex(await readFile(rb.path)), pkg.sha256);
    assert.equal(rb.source, 'ipfs');
    assert.deepEqual(
      rb.sources.map((s) => [s.type, s.bytes]),
      [['ipfs', pkg.bytes.byteLength]],
    );
    // Nothing came over the dchat chunk protocol: no peer is credited with bytes.
    assert.deepEqual(rb.peers, {});
    // The chunk table came over IPFS too (no other source was allowed) and sits beside the package.
    assert.ok((await readFile(bPaths.chunkTableFile('1.0.0', 'linux-x64'))).byteLength > 0);

    const cPaths = await makeHome(repo);
    await trustUpdate(cPaths, new DirectoryFetcher(repo.dir), new Date());
    const b = nodes[1] as DchatNode;
    await net.start(cPaths, [await net.address(bPaths)]);
    await net.connected(cPaths, b.peerId);
    const st = await controlRequest(cPaths, 'status');
    assert.ok(!st.connected_peers.some((p) => p.id === seed.peerId), 'C knows B only');
    const rc = await controlRequest(
      cPaths,
      'download',
      { version: '1.0.0', platform: 'linux-x64', only: 'ipfs' },
      90_000,
    );
    assert.equal(sha256Hex(await readFile(rc.path)), pkg.sha256);
    assert.deepEqual(
      rc.sources.map((s) => [s.type, s.bytes]),
      [['ipfs', pkg.bytes.byteLength]],
    );
  });

  test('add-mirror ipfs://CID, then `update download --source ipfs` asks the running node', {
    timeout: 120_000,
  }, async () => {
    const cid = await kuboCid(pkg.file);
    const paths = await makeHome(repo);
    await trustUpdate(paths, new DirectoryFetcher(repo.dir), new Date());
    const add = await runDchat([
      '--home',
      paths.home,
      'update',
      'add-mirror',
      '--mirror-type',
      'ipfs',
      '--url',
      `ipfs://${cid}`,
      '--priority',
      '5',
    ]);
    assert.equal(add.code, 0, add.stderr);
    // One source at a time: the best ranked, the mirror (priority 5), not the node's own (20).
    const toml = await readFile(paths.mirrorsToml, 'utf8');
    assert.match(toml, /parallel_sources = 3/);
    await writeFile(paths.mirrorsToml, toml.replace('parallel_sources = 3', 'parallel_sources = 1'));
    await net.start(paths, [await net.address(seedPaths)]);
    await net.connected(paths, (nodes[0] as DchatNode).peerId);
    const r = await downloadFrom(paths.home, 'ipfs');
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as {
      ok: boolean;
      path: string;
      sources: { url: string; type: string; bytes: number }[];
    };
    assert.equal(doc.ok, true);
    assert.equal(sha256Hex(await readFile(doc.path)), pkg.sha256);
    assert.ok(
      doc.sources.every((s) => s.type === 'ipfs'),
      JSON.stringify(doc.sources),
    );
    assert.equal(
      doc.sources.reduce((n, s) => n + s.bytes, 0),
      pkg.bytes.byteLength,
    );
    assert.deepEqual(
      doc.sources.map((s) => [s.url, s.bytes]),
      [[`ipfs://${cid}`, pkg.bytes.byteLength]],
    );
  });
});
