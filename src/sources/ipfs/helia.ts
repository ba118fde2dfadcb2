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
 */
import { withBitswap } from '@helia/bitswap';
import type { Helia } from '@helia/interface';
import type { Libp2p } from '@libp2p/interface';
import { MemoryBlockstore } from 'blockstore-core';
import { FsBlockstore } from 'blockstore-fs';
import { createHeliaLight } from 'helia';
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
  const helia = createHeliaLight({ blockstore });
  // The libp2p is the caller's: Helia neither creates, starts nor stops it (withLibp2pLight would
  // create a second one with its own identity and port).
  Object.defineProperty(helia, 'libp2p', { value: o.libp2p, enumerable: true });
  const node = withBitswap(helia as EmbeddedHelia);
  await node.start();
  return node;
}
