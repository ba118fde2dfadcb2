/**
 * Root rotation over gossip, with real node processes on loopback: a node whose trust is still the
 * repository's first root (v1) accepts a release announced after two key rotations, because the
 * announcing node hands it the chain of roots v2 and v3 inside the bundle; it then fetches and
 * verifies the package from that peer and keeps the chain it followed.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { multiaddr } from '@multiformats/multiaddr';
import { trustUpdate } from '../../../src/download/trust-session.ts';
import { BanList } from '../../../src/gossip/libp2p/adapter.ts';
import { ChunkClient } from '../../../src/gossip/libp2p/chunks.ts';
import { controlRequest } from '../../../src/node/control.ts';
import { createNodeLibp2p } from '../../../src/node/libp2p.ts';
import { DirectoryFetcher } from '../../../src/sources/directory-fetcher.ts';
import { homePaths } from '../../../src/store/home.ts';
import { FileTrustStore } from '../../../src/store/trust-store.ts';
import { trustInit } from '../../../src/testnet/harness.ts';
import { type NodeProcess, stopAll } from '../../../src/testnet/process.ts';
import { prepareReleases, rotateAndPublish, type TestRelease } from '../../../src/testnet/release.ts';
import { parseMetadata } from '../../../src/trust/metadata.ts';
import { startUserNode, waitFor } from '../../helpers/node-procs.ts';

const PLATFORM = 'linux-x64';

type Status = {
  mesh_peers: string[];
  releases: { highest_trusted: string | null; packages: { target: string; source: string }[] };
  stats: { adapter: { forged_announcements: number; accepted_via: { push: number; sync: number } } };
};

const status = (p: NodeProcess) =>
  controlRequest(homePaths(p.home), 'status') as Promise<unknown> as Promise<Status>;

describe('a node pinned to root v1 follows two key rotations through gossip', () => {
  let dir: string;
  let rootV1: Buffer;
  let rel: TestRelease;
  const procs: NodeProcess[] = [];

  const start = async (name: string, bootstrap: NodeProcess[]) => {
    const p = await startUserNode({ name, home: join(dir, name), platform: PLATFORM, bootstrap });
    procs.push(p);
    return p;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dchat-rotation-'));
    const now = new Date();
    const common = { platform: PLATFORM, packageBytes: 100_000, chunkSize: 16 * 1024, now };
    const [first] = (await prepareReleases({
      dir: join(dir, 'release'),
      versions: ['1.0.0'],
      ...common,
    })) as [TestRelease];
    rootV1 = await readFile(join(first.repoDir, 'root.json'));
    rel = await rotateAndPublish(first, { times: 2, version: '2.0.0', ...common });
    // Both homes pinned to v1; the origin then updated from the mirror (v2, v3) and has the package.
    for (const name of ['origin', 'follower']) await trustInit(homePaths(join(dir, name)), rootV1, now);
    const origin = homePaths(join(dir, 'origin'));
    await trustUpdate(origin, new DirectoryFetcher(rel.repoDir), now);
    await mkdir(origin.packagesDir, { recursive: true });
    await copyFile(rel.packageFile, origin.packageFile('2.0.0', PLATFORM));
  });

  after(async () => {
    await stopAll(procs);
    await rm(dir, { recursive: true, force: true });
  });

  test('the announcement carries roots v2 and v3; the follower accepts it and fetches the package', async () => {
    const origin = await start('origin', []);
    const follower = await start('follower', [origin]);
    const fp = homePaths(follower.home);
    assert.equal(parseMetadata('root', (await new FileTrustStore(fp).load('root'))!).signed.version, 1);
    await waitFor('the two to form the announce mesh', async () => {
      const [so, sf] = await Promise.all([status(origin), status(follower)]);
      return so.mesh_peers.length === 1 && sf.mesh_peers.length === 1;
    });
    const a = (await controlRequest(homePaths(origin.home), 'announce', { ttl: 2 })) as { version: string };
    assert.equal(a.version, '2.0.0');
    const s = await waitFor('the follower to verify 2.0.0', async () => {
      const st = await status(follower);
      return st.releases.packages.some((p) => p.target === `dchat-2.0.0-${PLATFORM}`) && st;
    });
    assert.equal(s.releases.highest_trusted, '2.0.0');
    assert.equal(s.stats.adapter.forged_announcements, 0);
    // By the push, or by the digest exchange on connect if that came first: the same bundle.
    const via = s.stats.adapter.accepted_via;
    assert.equal(via.push + via.sync, 1);
    assert.equal(s.releases.packages[0]?.source, 'peer');
    // It followed the chain and kept it, so it can hand the same chain on.
    assert.equal(parseMetadata('root', (await new FileTrustStore(fp).load('root'))!).signed.version, 3);
    for (const v of [2, 3])
      assert.equal(parseMetadata('root', await readFile(fp.rootHistoryFile(v))).signed.version, v);
    // Its peers can also fetch every root of the chain from it by name, over /dchat/chunks/1.
    const probe = await createNodeLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bans: new BanList(),
    });
    try {
      const conn = await probe.dial(multiaddr(follower.addresses[0] as string));
      const client = new ChunkClient(probe);
      for (const v of [2, 3]) {
        const bytes = await client.metadata(conn.remotePeer, `${v}.root.json`, 512_000);
        assert.equal(parseMetadata('root', bytes as Uint8Array).signed.version, v);
      }
      assert.equal(await client.metadata(conn.remotePeer, '4.root.json', 512_000), undefined);
    } finally {
      await probe.stop();
    }
  });
});
