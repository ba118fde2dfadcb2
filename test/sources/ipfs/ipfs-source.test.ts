/**
 * The IPFS source over real libp2p nodes on loopback: a holder imports a package with Kubo's
 * options into its embedded Helia node, a downloader fetches byte ranges and the chunk table by CID
 * over bitswap. A peer whose blockstore holds other bytes under the package's CIDs (wrong blocks)
 * gets nothing accepted: the request ends in E_TIMEOUT for that channel. Bad CIDs are coded errors.
 * A mirror's CID (`ipfs://CID`, a gateway URL) is a package's: a patch comes by its own signed CID.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { MemoryBlockstore } from 'blockstore-core';
import type { CID } from 'multiformats/cid';
import { DchatError } from '../../../src/errors.ts';
import { BanList } from '../../../src/gossip/libp2p/bans.ts';
import type { PackageTarget } from '../../../src/model/package.ts';
import { createNodeLibp2p, type DchatLibp2p } from '../../../src/node/libp2p.ts';
import { isAbortedBlockRead, noteCancelledRead } from '../../../src/sources/ipfs/cancelled-reads.ts';
import { IpfsGatewaySource } from '../../../src/sources/ipfs/gateway-source.ts';
import { type EmbeddedHelia, startHelia } from '../../../src/sources/ipfs/helia.ts';
import { IpfsSource, parseCid } from '../../../src/sources/ipfs/ipfs-source.ts';
import { importBytesKubo, importFileKubo } from '../../../src/sources/ipfs/kubo-cid.ts';

const SIZE = 5 * 262_144 + 4321;

async function libp2pNode(): Promise<DchatLibp2p> {
  return createNodeLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bans: new BanList(),
  });
}

/** The parts of a target the sources' serves() reads. */
const view = (path: string, ipfs_cid?: string) =>
  ({ path, custom: ipfs_cid ? { ipfs_cid } : {} }) as unknown as PackageTarget;

test('a gateway URL names a package: a patch is asked for under its own signed CID', async () => {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(req.url ?? '');
    res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    const { port } = server.address() as AddressInfo;
    const [pkgCid, patchCid] = await Promise.all(
      ['package', 'patch'].map(async (b) => (await importBytesKubo(Buffer.from(b))).toString()),
    );
    const gw = new IpfsGatewaySource({ id: 'g', url: `http://127.0.0.1:${port}/ipfs/${pkgCid}` });
    const patch = 'dchat-1.1.0-linux-x64.from-1.0.0.zpatch';
    assert.equal(gw.serves(view('dchat-1.1.0-linux-x64')), true);
    assert.equal(gw.serves(view(patch)), false);
    assert.equal(gw.serves(view(patch, patchCid)), true);
    for (const target of ['dchat-1.1.0-linux-x64', patch])
      await assert.rejects(
        gw.fetchRange({
          target,
          sha256: '',
          start: 0,
          end: 5,
          maxBytes: 5,
          ipfs: { cid: patchCid as string },
        }),
        { code: 'E_NOT_FOUND' },
      );
    assert.deepEqual(asked, [`/ipfs/${pkgCid}`, `/ipfs/${patchCid}`]);
    await gw.close();
  } finally {
    server.close();
  }
});

describe('IpfsSource over bitswap', () => {
  let dir: string;
  let bytes: Buffer;
  let cid: CID;
  let tableCid: CID;
  const table = Buffer.from('{"format":"a chunk table stand-in"}\n');
  const nodes: DchatLibp2p[] = [];
  const helias: EmbeddedHelia[] = [];
  const sources: IpfsSource[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dchat-ipfs-'));
    bytes = randomBytes(SIZE);
    await writeFile(join(dir, 'pkg'), bytes);
  });
  after(async () => {
    for (const h of helias) await Promise.resolve(h.stop()).catch(() => {});
    for (const n of nodes) await Promise.resolve(n.stop()).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  async function peer(blockstore?: MemoryBlockstore): Promise<EmbeddedHelia> {
    const n = await libp2pNode();
    nodes.push(n);
    const h = await startHelia(
      blockstore ? { libp2p: n, blockstore } : { libp2p: n, blocksDir: join(dir, `b${nodes.length}`) },
    );
    helias.push(h);
    return h;
  }

  function sourceOn(h: EmbeddedHelia, stallMs = 10_000): IpfsSource {
    const s = new IpfsSource({ id: 'ipfs', uri: 'ipfs:bitswap', helia: async () => h, stallMs });
    sources.push(s);
    return s;
  }

  test('ranges and the chunk table arrive by CID from a connected holder', { timeout: 60_000 }, async () => {
    const holder = await peer();
    cid = await importFileKubo(join(dir, 'pkg'), { blockstore: holder.blockstore });
    tableCid = await importBytesKubo(table, { blockstore: holder.blockstore });
    const me = await peer();
    await me.libp2p.dial(holder.libp2p.getMultiaddrs()[0]!);
    const src = sourceOn(me);
    const ipfs = { cid: cid.toString(), chunksCid: tableCid.toString() };
    for (const [start, end] of [
      [0, 100],
      [262_100, 262_300],
      [1_000_000, SIZE],
      [0, SIZE],
    ] as const) {
      const got = await src.fetchRange({
        target: 'dchat-1.0.0-linux-x64',
        sha256: '',
        start,
        end,
        maxBytes: SIZE,
        ipfs,
      });
      assert.ok(Buffer.from(got).equals(bytes.subarray(start, end)), `range ${start}-${end}`);
    }
    const t = await src.fetchChunkTable('dchat-1.0.0-linux-x64', { maxBytes: 1 << 20, ipfs });
    assert.ok(t && Buffer.from(t).equals(table));
    // Caps: a table larger than allowed, a range larger than allowed.
    await assert.rejects(src.fetchChunkTable('dchat-1.0.0-linux-x64', { maxBytes: 10, ipfs }), {
      code: 'E_TOO_LARGE',
    });
    await assert.rejects(
      src.fetchRange({ target: 't', sha256: '', start: 0, end: 100, maxBytes: 99, ipfs }),
      { code: 'E_TOO_LARGE' },
    );
    // Past the end of the file: fewer bytes than asked is a coded error, not a short buffer.
    await assert.rejects(
      src.fetchRange({ target: 't', sha256: '', start: SIZE - 10, end: SIZE + 10, maxBytes: SIZE, ipfs }),
      { code: 'E_SIZE_MISMATCH' },
    );
    assert.equal(await src.fetchMetadata(), undefined);

    // A mirror's CID (`ipfs://CID`) names a package: a patch (no package name) comes by its own
    // signed CID, and without one the mirror does not serve it (never the package's bytes for it).
    const mirror = new IpfsSource({
      id: 'm',
      uri: `ipfs://${tableCid}`,
      cid: tableCid.toString(),
      helia: async () => me,
    });
    const patch = 'dchat-1.1.0-linux-x64.from-1.0.0.bsdb';
    const got = await mirror.fetchRange({
      target: patch,
      sha256: '',
      start: 0,
      end: 100,
      maxBytes: 100,
      ipfs,
    });
    assert.ok(Buffer.from(got).equals(bytes.subarray(0, 100)));
    assert.equal(mirror.serves(view('dchat-1.0.0-linux-x64')), true);
    assert.equal(mirror.serves(view(patch)), false);
    assert.equal(mirror.serves(view(patch, cid.toString())), true);
  });

  test('a peer serving wrong blocks: nothing is accepted, the channel ends in E_TIMEOUT', {
    timeout: 60_000,
  }, async () => {
    // The liar holds every block of the package under its CID, with one byte changed in each.
    const honest = new MemoryBlockstore();
    const root = await importFileKubo(join(dir, 'pkg'), { blockstore: honest });
    const liarStore = new MemoryBlockstore();
    let blocks = 0;
    for await (const { cid: c, bytes: parts } of honest.getAll()) {
      const b: Uint8Array[] = [];
      for await (const part of parts) b.push(part);
      const bad = Buffer.concat(b);
      bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 0xff;
      await liarStore.put(c, bad);
      blocks++;
    }
    assert.ok(blocks > 5);
    const liar = await peer(liarStore);
    const me = await peer();
    await me.libp2p.dial(liar.libp2p.getMultiaddrs()[0]!);
    const src = sourceOn(me, 1500);
    const t0 = Date.now();
    await assert.rejects(
      src.fetchRange({
        target: 't',
        sha256: '',
        start: 0,
        end: 1000,
        maxBytes: SIZE,
        ipfs: { cid: root.toString() },
      }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'E_TIMEOUT', err.message);
        assert.match(err.message, /no block of .* arrived from any IPFS peer/);
        return true;
      },
    );
    assert.ok(Date.now() - t0 < 10_000);
    // The control: the same set-up with the honest blocks delivers at once.
    const good = await peer(honest);
    const me2 = await peer();
    await me2.libp2p.dial(good.libp2p.getMultiaddrs()[0]!);
    const ok = await sourceOn(me2, 1500).fetchRange({
      target: 't',
      sha256: '',
      start: 0,
      end: 1000,
      maxBytes: SIZE,
      ipfs: { cid: root.toString() },
    });
    assert.ok(Buffer.from(ok).equals(bytes.subarray(0, 1000)));
    // And nothing the liar sent was stored as the block asked for.
    assert.equal(await me.blockstore.has(root, { offline: true } as never), false);
  });

  test('CIDs: bad ones are coded errors; a release without one is E_NOT_FOUND for this channel', async () => {
    assert.throws(() => parseCid('QmNotACid', 'E_CONFIG', 'mirror'), { code: 'E_CONFIG' });
    assert.throws(() => parseCid('x'.repeat(600), 'E_MALFORMED', 'custom.ipfs_cid'), { code: 'E_MALFORMED' });
    assert.throws(
      () => new IpfsSource({ id: 'm', uri: 'ipfs://bad', cid: 'bad', helia: async () => helias[0]! }),
      { code: 'E_CONFIG' },
    );
    const src = sourceOn(helias[0]!);
    await assert.rejects(
      src.fetchRange({ target: 'dchat-1.0.0-x', sha256: '', start: 0, end: 1, maxBytes: 1 }),
      {
        code: 'E_NOT_FOUND',
      },
    );
    await assert.rejects(
      src.fetchRange({ target: 't', sha256: '', start: 0, end: 1, maxBytes: 1, ipfs: { cid: 'Qm!!' } }),
      { code: 'E_MALFORMED' },
    );
    assert.equal(await src.fetchChunkTable('t', { maxBytes: 10 }), undefined);
  });
});

test("isAbortedBlockRead: only the block layer's abort errors, once a read was cancelled", () => {
  const named = (name: string) => Object.assign(new Error('x'), { name });
  const ours = [
    named('AbortError'),
    named('LoadBlockFailedError'),
    named('PutFailedError'),
    named('GetFailedError'),
  ];
  // Other modules of this process may have cancelled reads already: the rule after one is what counts.
  noteCancelledRead();
  for (const e of ours) assert.equal(isAbortedBlockRead(e), true, e.name);
  for (const e of [new TypeError('x is undefined'), named('DchatError'), named('NotUnixFSError')])
    assert.equal(isAbortedBlockRead(e), false, e.name);
  assert.equal(isAbortedBlockRead(undefined), false);
  assert.equal(isAbortedBlockRead(null), false);
  assert.equal(isAbortedBlockRead('AbortError'), false);
  // The reason a read was cancelled with (the block layer rejects with it too), and only that one.
  const reason = new DchatError('E_ABORTED', 'chunk 86 was delivered by another source');
  assert.equal(isAbortedBlockRead(reason), false);
  noteCancelledRead(reason);
  assert.equal(isAbortedBlockRead(reason), true);
  assert.equal(isAbortedBlockRead(new DchatError('E_ABORTED', 'another')), false);
});
