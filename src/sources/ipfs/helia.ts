/**
 * The embedded IPFS node: Helia with bitswap over a libp2p the caller already runs (the dchat
 * node's own), and nothing else. Not `createHelia()`, which adds delegated HTTP routing and libp2p
 * defaults (public bootstrap, mDNS, autoTLS, UPnP, DHT, relay, WebRTC): here there is no router at
 * all, so blocks are asked of, and served to, the peers this libp2p is connected to (our own
 * network), and bitswap is the only way blocks move. Reusing the node's libp2p means one identity,
 * one port and the peers gossip already found; bitswap treats every open connection as a peer when
 * it starts, so starting it late (at the first IPFS use) finds them.
 *
 * Blocks live in `blocksDir` (blockstore-fs, one file per block) or in memory when none is given.
 *
 * Memory: helia's index (the only entry its package exports) statically imports @helia/libp2p and
 * @helia/http for `createHelia`, and with them libp2p's whole default stack (kad-dht, WebRTC with
 * its native addon, autoTLS with an ACME client and axios, UPnP, mDNS, websockets, relay...). Under
 * plain Node that graph is loaded and kept although `createHeliaLight` uses none of it: about 40 MB
 * of resident memory per node, measured here (`npm run bench -- node-rss`, a node holding
 * releases). So under plain Node the node class is loaded from its own file beside the index; in
 * the single executable esbuild drops the unused graph (helia declares no side effects) when the
 * index is imported by name (./helia-index.ts).
 */

import { isSea } from 'node:sea';
import { withBitswap } from '@helia/bitswap';
import type { Helia } from '@helia/interface';
import type { Libp2p } from '@libp2p/interface';
import { MemoryBlockstore } from 'blockstore-core';
import { FsBlockstore } from 'blockstore-fs';
import type { createHeliaLight } from 'helia';
import type { Blockstore } from 'interface-blockstore';
import { guardCancelledReads } from './cancelled-reads.ts';

export type EmbeddedHelia = Helia & { libp2p: Libp2p };

export interface HeliaOptions {
  libp2p: Libp2p;
  /** Directory of the persistent blockstore; in memory when undefined. */
  blocksDir?: string;
  /** A blockstore of the caller's (tests: one holding tampered blocks). Wins over `blocksDir`. */
  blockstore?: Blockstore;
}

/** A started Helia node that exchanges blocks with `libp2p`'s peers over bitswap only. */
export async function startHelia(o: HeliaOptions): Promise<EmbeddedHelia> {
  guardCancelledReads();
  const blockstore = o.blockstore ?? (o.blocksDir ? new FsBlockstore(o.blocksDir) : new MemoryBlockstore());
  const helia = (await heliaLight())({ blockstore });
  // The libp2p is the caller's: Helia neither creates, starts nor stops it (withLibp2pLight would
  // create a second one with its own identity and port).
  Object.defineProperty(helia, 'libp2p', { value: o.libp2p, enumerable: true });
  const node = withBitswap(helia as EmbeddedHelia);
  await node.start();
  return node;
}

type CreateHeliaLight = typeof createHeliaLight;
type HeliaClass = new (init: Parameters<CreateHeliaLight>[0] & { name: string; version: string }) => unknown;

/** `createHeliaLight` (the Helia class with helia's name and version), without helia's index. */
async function heliaLight(): Promise<CreateHeliaLight> {
  if (isSea()) return (await import('./helia-index.ts')).createHeliaLight;
  try {
    // helia exports only `import` conditions: resolved as an import, not with require.resolve.
    const index = new URL(import.meta.resolve('helia'));
    const [{ Helia }, { name, version }] = (await Promise.all([
      import(new URL('./helia.js', index).href),
      import(new URL('./version.js', index).href),
    ])) as [{ Helia: HeliaClass }, { name: string; version: string }];
    if (typeof Helia !== 'function' || typeof version !== 'string') throw new Error('unknown layout');
    return ((init) => new Helia({ name, version, ...init })) as CreateHeliaLight;
  } catch {
    // Another helia release laid its files out differently: the index works, only heavier.
    return (await import('./helia-index.ts')).createHeliaLight;
  }
}
