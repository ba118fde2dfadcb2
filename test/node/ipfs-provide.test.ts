/**
 * NodeIpfs.provide (src/node/ipfs.ts) over a real libp2p node and an on-disk blockstore: a package
 * whose root block is already there because a download asked IPFS for a few chunks (a probe) is
 * still imported whole, so every block of the signed CID can be served; a package imported whole
 * by an earlier start (marker and root block there) is served as it is, not imported again.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { MemoryBlockstore } from 'blockstore-core';
import type { CID } from 'multiformats/cid';
import pino from 'pino';
import { BanList } from '../../src/gossip/libp2p/bans.ts';
import type { PackageTarget } from '../../src/model/package.ts';
import { NodeIpfs } from '../../src/node/ipfs.ts';
import { createNodeLibp2p, type DchatLibp2p } from '../../src/node/libp2p.ts';
import type { StoredPackage } from '../../src/node/package-store.ts';
import { importBytesKubo, importFileKubo } from '../../src/sources/ipfs/kubo-cid.ts';

let dir: string;
let libp2p: DchatLibp2p;
const SIZE = 4 * 262_144 + 99;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dchat-ipfs-provide-'));
  libp2p = await createNodeLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bans: new BanList(),
  });
});
after(async () => {
  await libp2p.stop();
  await rm(dir, { recursive: true, force: true });
});

test('a root block left by a probe is no proof of a whole import; a marked earlier import is', async () => {
  const file = join(dir, 'pkg');
  await writeFile(file, randomBytes(SIZE));
  // The blocks the signed CID needs.
  const all = new MemoryBlockstore();
  const cid = await importFileKubo(file, { blockstore: all });
  const blocks: [CID, Uint8Array][] = [];
  for await (const { cid: c, bytes } of all.getAll()) {
    const parts: Uint8Array[] = [];
    for await (const b of bytes) parts.push(b);
    blocks.push([c, Buffer.concat(parts)]);
  }
  assert.ok(blocks.length >= 3, `${blocks.length} blocks: leaves and a root`);
  const nodeDir = join(dir, 'node');
  const pkg = {
    target: {
      path: 'dchat-1.0.0-linux-x64',
      custom: { ipfs_cid: cid.toString() },
    } as unknown as PackageTarget,
    file,
    tableBytes: new Uint8Array(),
  } as unknown as StoredPackage;
  const log = pino({ level: 'silent' });

  // Blockstores key blocks by multihash (their listing gives CIDv1 raw names).
  const isRoot = (c: CID) => Buffer.from(c.multihash.bytes).equals(Buffer.from(cid.multihash.bytes));
  const first = new NodeIpfs({ libp2p, nodeDir, log });
  const helia = await first.node();
  // What a probe leaves: the root and one leaf.
  for (const [c, bytes] of [blocks.find(([c]) => isRoot(c)), blocks.find(([c]) => !isRoot(c))] as [
    CID,
    Uint8Array,
  ][])
    await helia.blockstore.put(c, bytes);
  await first.provide(pkg);
  assert.equal(first.providing()[pkg.target.path], cid.toString());
  for (const [c] of blocks) assert.ok(await helia.blockstore.has(c), `block ${c} held after provide`);
  assert.deepEqual(await readdir(join(nodeDir, 'ipfs', 'imported')), [cid.toString()]);
  await first.stop();

  // A later start finds the marker and the root block: served as it is (the file is not read:
  // gone, the import would fail and nothing would be provided).
  await rm(file);
  const second = new NodeIpfs({ libp2p, nodeDir, log });
  await second.provide(pkg);
  assert.equal(second.providing()[pkg.target.path], cid.toString());
  await second.stop();
});

test('retain: a pruned package leaves the blockstore with its marker, except the blocks a kept one shares', async () => {
  const nodeDir = join(dir, 'retain');
  const chunk = 262_144;
  const shared = randomBytes(2 * chunk);
  const mk = async (name: string, tail: Buffer, table: Buffer) => {
    const file = join(dir, name);
    await writeFile(file, Buffer.concat([shared, tail]));
    const cid = await importFileKubo(file, { blockstore: new MemoryBlockstore() });
    const chunks = await importBytesKubo(table, { blockstore: new MemoryBlockstore() });
    return {
      target: {
        path: name,
        custom: { ipfs_cid: cid.toString(), ipfs_chunks_cid: chunks.toString() },
      } as unknown as PackageTarget,
      file,
      tableBytes: table,
    } as unknown as StoredPackage;
  };
  const a = await mk('dchat-1.0.0-linux-x64', randomBytes(chunk + 5), randomBytes(300));
  const b = await mk('dchat-1.0.1-linux-x64', randomBytes(chunk + 7), randomBytes(300));
  const ipfs = new NodeIpfs({ libp2p, nodeDir, log: pino({ level: 'silent' }) });
  await ipfs.provideAll([a, b]);
  const helia = await ipfs.node();
  const held = async () => {
    const keys: string[] = [];
    for await (const { cid } of helia.blockstore.getAll())
      keys.push(Buffer.from(cid.multihash.bytes).toString('hex'));
    return keys.sort();
  };
  const blocksOf = async (p: StoredPackage) => {
    const bs = new MemoryBlockstore();
    await importFileKubo(p.file, { blockstore: bs });
    await importBytesKubo(p.tableBytes, { blockstore: bs });
    const keys: string[] = [];
    for await (const { cid } of bs.getAll()) keys.push(Buffer.from(cid.multihash.bytes).toString('hex'));
    return keys.sort();
  };
  const [ofA, ofB] = [await blocksOf(a), await blocksOf(b)];
  assert.deepEqual(await held(), [...new Set([...ofA, ...ofB])].sort());
  assert.ok(
    ofA.some((k) => ofB.includes(k)),
    'the two packages share leaves',
  );

  await ipfs.retain([b]);
  assert.deepEqual(await held(), ofB, "only b's blocks are left, the shared ones with them");
  assert.deepEqual(await readdir(join(nodeDir, 'ipfs', 'imported')), [b.target.custom.ipfs_cid]);
  assert.deepEqual(Object.keys(ipfs.providing()), [b.target.path]);
  await ipfs.retain([b]);
  assert.deepEqual(await held(), ofB, 'nothing more to remove');
  await ipfs.stop();
});
