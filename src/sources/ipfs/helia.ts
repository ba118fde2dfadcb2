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

export type EmbeddedHelia = Helia & { libp2p: Libp2p };

export interface HeliaOptions {
  libp2p: Libp2p;
  /** Directory of the persistent blockstore; in memory when undefined. */
  blocksDir?: string;
  /** A blockstore of the caller's (tests: one holding tampered blocks). Wins over `blocksDir`. */
  blockstore?: Blockstore;
}

/**
 * True for the rejection a cancelled read leaves behind: a block want aborted (the read's signal:
 * the planner gave its chunks to a faster source, the download ended, the stall timer fired).
 */
export function isAbortedBlockRead(reason: unknown): boolean {
  const e = reason as { name?: unknown; message?: unknown; errors?: unknown } | null | undefined;
  const aborted = (x: unknown) => (x as { name?: unknown } | null)?.name === 'AbortError';
  if (e?.name === 'AbortError') return e.message === 'Want was aborted';
  return (
    e?.name === 'LoadBlockFailedError' &&
    Array.isArray(e.errors) &&
    e.errors.length > 0 &&
    e.errors.every(aborted)
  );
}

let guarded = false;

/**
 * ipfs-unixfs-exporter 16 walks a file of more than one DAG level with p-queue and drops the
 * promise of each child walk (`void queue.add(...)`, its errors go to an 'error' event as well):
 * when a read is cancelled, its aborted block wants reject that dropped promise, and Node ends the
 * process on an unhandled rejection (a node died mid-download in `bench channels` at 256 MiB).
 * Those rejections, and only those, are dropped here; any other still ends the process as before.
 */
function guardCancelledReads(): void {
  if (guarded) return;
  guarded = true;
  process.on('unhandledRejection', (reason) => {
    if (isAbortedBlockRead(reason)) return;
    throw reason;
  });
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
