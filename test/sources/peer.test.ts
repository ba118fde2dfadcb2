/**
 * Peer transfer in process over real libp2p (TCP on 127.0.0.1): a downloader fetches a package
 * from two peers at once through PeerSource, one of which corrupts every chunk it serves. The
 * download still ends verified, and the corrupting peer is reported each time.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { trustOffline, trustUpdate } from '../../src/download/trust-session.ts';
import { BanList } from '../../src/gossip/libp2p/adapter.ts';
import { ChunkClient, ChunkServer, type ChunkServerInit } from '../../src/gossip/libp2p/chunks.ts';
import { createNodeLibp2p, type DchatLibp2p } from '../../src/node/libp2p.ts';
import { PackageStore } from '../../src/node/package-store.ts';
import { downloadFromPeers } from '../../src/node/peer-download.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import { firstBadChunk, PeerSource } from '../../src/sources/peer.ts';
import { homePaths } from '../../src/store/home.ts';
import { trustInit } from '../../src/testnet/harness.ts';
import { prepareReleases, type TestRelease } from '../../src/testnet/release.ts';
import { findPackage } from '../../src/trust/package-check.ts';

const PLATFORM = 'linux-x64';

describe('PeerSource over /dchat/chunks/1', () => {
  let dir: string;
  let rel: TestRelease;
  const nodes: DchatLibp2p[] = [];
  const servers: ChunkServer[] = [];

  const seeded = async (name: string, tamper: boolean, init: ChunkServerInit = {}) => {
    const paths = homePaths(join(dir, name));
    await trustInit(paths, await readFile(join(rel.repoDir, 'root.json')), new Date());
    await trustUpdate(paths, new DirectoryFetcher(rel.repoDir), new Date());
    await mkdir(paths.packagesDir, { recursive: true });
    await copyFile(rel.packageFile, paths.packageFile(rel.version, PLATFORM));
    const store = new PackageStore(paths);
    assert.deepEqual(await store.scan(await trustOffline(paths, new Date())), [`dchat-1.0.0-${PLATFORM}`]);
    const node = await createNodeLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bans: new BanList(),
    });
    nodes.push(node);
    const server = new ChunkServer(
      node,
      store.chunkBackend(async () => undefined),
      tamper
        ? {
            ...init,
            tamper: (_t, _s, b) => {
              const out = Buffer.from(b);
              out[out.length - 1] = (out[out.length - 1] ?? 0) ^ 1;
              return out;
            },
          }
        : init,
    );
    await server.start();
    servers.push(server);
    return node;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dchat-peer-'));
    [rel] = (await prepareReleases({
      dir: join(dir, 'release'),
      versions: ['1.0.0'],
      platform: PLATFORM,
      packageBytes: 40 * 16 * 1024 + 123,
      chunkSize: 16 * 1024,
      now: new Date(),
    })) as [TestRelease];
  });

  after(async () => {
    for (const s of servers) await s.stop();
    for (const n of nodes) await n.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('downloads from several peers at once; a corrupting peer is reported and the file is verified', async () => {
    const honest = await seeded('honest', false);
    const liar = await seeded('liar', true);
    const paths = homePaths(join(dir, 'downloader'));
    await trustInit(paths, await readFile(join(rel.repoDir, 'root.json')), new Date());
    await trustUpdate(paths, new DirectoryFetcher(rel.repoDir), new Date());
    const me = await createNodeLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bans: new BanList(),
    });
    nodes.push(me);
    await me.dial(honest.getMultiaddrs()[0]!);
    await me.dial(liar.getMultiaddrs()[0]!);
    const client = new ChunkClient(me);
    const holdings = await client.have(honest.peerId);
    assert.equal(holdings[0]?.target, `dchat-1.0.0-${PLATFORM}`);

    const reported: { peer: string; kind: string }[] = [];
    const source = new PeerSource({
      transport: client,
      peers: () => [liar.peerId, honest.peerId] as PeerId[],
      onMisbehaviour: (peer, kind) => reported.push({ peer: peer.toString(), kind }),
    });
    assert.equal(source.priority, 30);
    const trusted = await trustOffline(paths, new Date());
    const target = findPackage(trusted.requireTargets(), '1.0.0', PLATFORM);
    const store = new PackageStore(paths);
    const stored = await downloadFromPeers({ paths, trusted, target, source, store, parallel: 4 });

    assert.equal(stored.origin, 'peer');
    assert.deepEqual(await readFile(stored.file), await readFile(rel.packageFile));
    assert.ok(reported.length > 0, 'the corrupting peer was reported');
    assert.ok(reported.every((r) => r.peer === liar.peerId.toString() && r.kind === 'bad-chunk'));
    assert.ok((source.received.get(honest.peerId.toString())?.ranges ?? 0) >= 41);
    assert.equal(source.received.get(liar.peerId.toString()), undefined, 'no bad byte was accepted');
    // Nothing partial is left behind, and the verified file is now indexed for serving.
    assert.equal((await stat(paths.packageFile('1.0.0', PLATFORM))).size, target.length);
    assert.ok(store.get(target.path));
    // Beside it, for offline verification: the chunk table and the signed target entry.
    assert.deepEqual(await readFile(paths.chunkTableFile('1.0.0', PLATFORM)), Buffer.from(stored.tableBytes));
    const entry = JSON.parse(await readFile(paths.targetFile('1.0.0', PLATFORM), 'utf8'));
    assert.deepEqual(
      [entry.format, entry.path, entry.length, entry.hashes.sha256, entry.custom.blake3],
      ['dchat.target-entry/1', target.path, target.length, target.sha256, target.custom.blake3],
    );
  });

  test('the server refuses malformed, oversized and unknown requests without crashing', async () => {
    const honest = nodes[0] as DchatLibp2p;
    const me = nodes[2] as DchatLibp2p;
    const client = new ChunkClient(me);
    await assert.rejects(
      client.range(honest.peerId, 'dchat-1.0.0-linux-x64', 0, 17 * 1024 * 1024),
      /range|large|E_/,
    );
    await assert.rejects(client.range(honest.peerId, 'no-such-package', 0, 10), /does not have|E_NOT_FOUND/);
    assert.equal(await client.metadata(honest.peerId, 'timestamp.json', 16_384), undefined);
    const ok = await client.range(honest.peerId, 'dchat-1.0.0-linux-x64', 5, 20_000);
    assert.equal(ok.byteLength, 19_995);
  });

  test('the bytes a server holds for all peers at once are capped; a refused range holds none', async () => {
    const capped = await seeded('capped', false, { maxBytesInFlight: 20_000 });
    const me = nodes[2] as DchatLibp2p;
    await me.dial(capped.getMultiaddrs()[0]!);
    const client = new ChunkClient(me);
    const name = `dchat-1.0.0-${PLATFORM}`;
    await assert.rejects(
      client.range(capped.peerId, name, 0, 20_001),
      (e: { code?: string }) => e.code === 'E_BUSY',
    );
    const settled = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => client.range(capped.peerId, name, i * 16_384, (i + 1) * 16_384)),
    );
    assert.ok(settled.some((r) => r.status === 'fulfilled'));
    for (const r of settled)
      if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'E_BUSY');
    // Every reservation was released: one after another, each range is served again.
    for (let i = 0; i < 6; i++)
      assert.equal(
        (await client.range(capped.peerId, name, i * 16_384, i * 16_384 + 20_000)).byteLength,
        20_000,
      );
  });

  test('firstBadChunk checks only whole chunks inside the range', () => {
    const table = {
      format: 'dchat.chunks/1' as const,
      hash: 'blake3' as const,
      chunk_size: 16_384,
      size: 40_000,
      chunks: ['0'.repeat(64), '1'.repeat(64), '2'.repeat(64)],
    };
    assert.equal(firstBadChunk(table, 0, new Uint8Array(16_384)), 0);
    assert.equal(firstBadChunk(table, 1, new Uint8Array(100)), undefined);
  });
});
