/**
 * IPFS beside the other channels in one download (the update service, real components on
 * loopback): an HTTPS mirror, an `ipfs://CID` mirror whose CID names other bytes of the same size,
 * a lying HTTP gateway, and the signed CID asked of a bitswap peer whose blocks are all wrong. Each
 * bad channel ends in its own coded error (E_CHUNK_MISMATCH for the wrong bytes; E_TIMEOUT or the
 * engine's E_SLOW_SOURCE for the bitswap channel, which stalls on the blocks it refuses), and the download completes, verified, from the honest mirror. With the
 * honest gateway alone (`--source ipfs`), the chunk table and every byte come through it.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { MemoryBlockstore } from 'blockstore-core';
import { sha256Hex } from '../../src/crypto/hash.ts';
import { trustUpdate } from '../../src/download/trust-session.ts';
import { BanList } from '../../src/gossip/libp2p/bans.ts';
import { serializeChunkTable } from '../../src/model/chunks.ts';
import { createNodeLibp2p, type DchatLibp2p } from '../../src/node/libp2p.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import { type EmbeddedHelia, startHelia } from '../../src/sources/ipfs/helia.ts';
import { IpfsSource } from '../../src/sources/ipfs/ipfs-source.ts';
import { importBytesKubo, importFileKubo } from '../../src/sources/ipfs/kubo-cid.ts';
import { UpdateService } from '../../src/update/service.ts';
import {
  addMirror,
  CHUNK,
  downloadFrom,
  type MirrorRepo,
  makeHome,
  makeMirrorRepo,
  type Published,
  runDchat,
} from '../download/fixture.ts';
import { type FaultMirror, startFaultMirror } from '../helpers/fault-mirror.ts';
import { startTestGateway, type TestGateway } from '../helpers/ipfs-gateway.ts';
import { chunkTableOf, packageBytes } from '../helpers/repo.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

const skip = requireTool('openssl');

async function copyBlocks(from: MemoryBlockstore, to: MemoryBlockstore, edit?: (b: Buffer) => Buffer) {
  for await (const { cid, bytes } of from.getAll()) {
    const parts: Uint8Array[] = [];
    for await (const p of bytes) parts.push(p);
    const b = Buffer.concat(parts);
    await to.put(cid, edit ? edit(b) : b);
  }
}

describe('IPFS among the channels of one download', { skip }, () => {
  let ca: TestCa;
  let repo: MirrorRepo;
  let pkg: Published;
  let mirror: FaultMirror;
  let liar: { node: DchatLibp2p; helia: EmbeddedHelia };
  let otherCid: string;
  const gateways: TestGateway[] = [];
  const closers: (() => Promise<unknown>)[] = [];

  before(async () => {
    ca = makeTestCa();
    repo = await makeMirrorRepo();
    pkg = await repo.publish('1.0.0', 40 * CHUNK + 17);
    mirror = await startFaultMirror(repo.dir, ca, [{ kind: 'slow', bytesPerSec: 3 * 1024 * 1024 }]);
    // Other bytes of the same size: what a wrong `ipfs://CID` mirror serves.
    const other = join(repo.base, 'other');
    await writeFile(other, packageBytes('not dchat', pkg.bytes.byteLength));
    // The liar: the package's blocks under their right CIDs with a byte flipped in each, the chunk
    // table's blocks intact (so the wrong-CID mirror gets as far as serving bytes), and the other
    // file honestly.
    const honest = new MemoryBlockstore();
    await importFileKubo(pkg.file, { blockstore: honest });
    const liarStore = new MemoryBlockstore();
    await copyBlocks(honest, liarStore, (b) => {
      b[b.length - 1] = (b[b.length - 1] as number) ^ 1;
      return b;
    });
    const tableStore = new MemoryBlockstore();
    await importBytesKubo(serializeChunkTable(chunkTableOf(pkg.bytes, CHUNK)), { blockstore: tableStore });
    await copyBlocks(tableStore, liarStore);
    otherCid = (await importFileKubo(other, { blockstore: liarStore })).toString();
    const node = await createNodeLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bans: new BanList(),
    });
    liar = { node, helia: await startHelia({ libp2p: node, blockstore: liarStore }) };
  });
  after(async () => {
    for (const c of closers) await c().catch(() => {});
    for (const g of gateways) await g.stop();
    await Promise.resolve(liar?.helia.stop()).catch(() => {});
    await Promise.resolve(liar?.node.stop()).catch(() => {});
    await mirror?.stop();
  });

  test('wrong bytes and wrong blocks: coded errors per channel, verified from the others', {
    timeout: 120_000,
  }, async () => {
    const paths = await makeHome(repo);
    await trustUpdate(paths, new DirectoryFetcher(repo.dir), new Date());
    await addMirror(paths.home, mirror.url);
    const lying = await startTestGateway([pkg.file], { tamper: true });
    gateways.push(lying);
    for (const [url, prio] of [
      [`ipfs://${otherCid}`, '5'],
      [`${lying.url}/ipfs/${lying.cids[0]}`, '6'],
    ] as const) {
      const r = await runDchat([
        '--home',
        paths.home,
        'update',
        'add-mirror',
        '--mirror-type',
        'ipfs',
        '--url',
        url,
        '--priority',
        prio,
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    const me = await createNodeLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bans: new BanList(),
    });
    closers.push(async () => me.stop());
    const helia = await startHelia({ libp2p: me });
    closers.unshift(async () => helia.stop());
    await me.dial(liar.node.getMultiaddrs()[0]!);
    const signed = new IpfsSource({
      id: 'ipfs',
      uri: 'ipfs:bitswap',
      helia: async () => helia,
      stallMs: 1500,
    });
    const svc = new UpdateService({
      paths,
      clock: () => new Date(),
      env: { NODE_EXTRA_CA_CERTS: ca.caCert },
      // Above the HTTPS mirror: a channel the mirror outranks is not started for a download the
      // mirror ends within the probe horizon (planner/speed-share.ts), and this one must be asked.
      extraSources: () => [{ source: signed, priority: 7 }],
      ipfs: async () => helia,
    });
    const d = await svc.download({ version: '1.0.0', platform: 'linux-x64', parallelSources: 4 });
    assert.equal(d.result.sha256, pkg.sha256);
    const by = new Map(d.result.sources.map((s) => [s.uri, s]));
    const codes = (uri: string) => (by.get(uri)?.failures ?? []).map((f) => f.code);
    assert.ok(
      codes(`ipfs://${otherCid}`).includes('E_CHUNK_MISMATCH'),
      JSON.stringify(by.get(`ipfs://${otherCid}`)),
    );
    assert.equal(by.get(`ipfs://${otherCid}`)?.bytes, 0);
    const gw = `${lying.url}/ipfs/${lying.cids[0]}`;
    assert.ok(codes(gw).includes('E_CHUNK_MISMATCH'), JSON.stringify(by.get(gw)));
    assert.equal(by.get(gw)?.bytes, 0);
    assert.ok(lying.sent > 0, 'the lying gateway did answer');
    // Bitswap drops every wrong block, so this channel only stalls: its own stall timer (E_TIMEOUT)
    // or the engine's hedge, which saw another source deliver its chunk meanwhile (E_SLOW_SOURCE).
    assert.ok(
      codes('ipfs:bitswap').some((c) => c === 'E_TIMEOUT' || c === 'E_SLOW_SOURCE'),
      JSON.stringify(by.get('ipfs:bitswap')),
    );
    assert.equal(by.get('ipfs:bitswap')?.bytes, 0);
    assert.equal(by.get(mirror.url)?.bytes, pkg.bytes.byteLength);
  });

  test('update download --source ipfs through an HTTP gateway: chunk table and bytes by CID', {
    timeout: 60_000,
  }, async () => {
    const paths = await makeHome(repo);
    // The HTTPS mirror serves the TUF metadata; --source ipfs leaves the bytes to IPFS.
    await addMirror(paths.home, mirror.url);
    const table = join(repo.base, 'table');
    await writeFile(table, serializeChunkTable(chunkTableOf(pkg.bytes, CHUNK)));
    const gw = await startTestGateway([pkg.file, table]);
    gateways.push(gw);
    const url = `${gw.url}/ipfs/${gw.cids[0]}`;
    const add = await runDchat([
      '--home',
      paths.home,
      'update',
      'add-mirror',
      '--mirror-type',
      'ipfs',
      '--url',
      url,
    ]);
    assert.equal(add.code, 0, add.stderr);
    mirror.resetCounters();
    const r = await downloadFrom(paths.home, 'ipfs', { env: { NODE_EXTRA_CA_CERTS: ca.caCert } });
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
    assert.equal(doc.sha256, pkg.sha256);
    assert.equal(doc.chunk_table_from, url);
    assert.deepEqual(
      doc.sources.map((s: { url: string; bytes: number }) => [s.url, s.bytes]),
      [[url, pkg.bytes.byteLength]],
    );
    assert.equal(mirror.packageBytes, 0, 'no package byte from the HTTPS mirror');
    assert.equal(sha256Hex(pkg.bytes), pkg.sha256);
  });
});
