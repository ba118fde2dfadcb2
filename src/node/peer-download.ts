/**
 * Downloads one trusted package from peers with the download engine (src/download/engine.ts) and
 * a PeerSource (priority 30): chunk table checked against the signed Merkle root, every chunk
 * checked before it is written, resume from what is already verified after a crash, the whole
 * file checked against the signed target, then an atomic rename into $DCHAT_HOME/packages. A
 * failure leaves no file there. The verified package is then indexed for serving to peers.
 */
import { downloadPackage } from '../download/engine.ts';
import { parseChunkTable } from '../model/chunks.ts';
import { LIMITS } from '../model/limits.ts';
import type { PackageTarget } from '../model/package.ts';
import type { PeerSource } from '../sources/peer.ts';
import type { HomePaths } from '../store/home.ts';
import { readCapped } from '../store/read-capped.ts';
import { checkChunkTable, listPackages } from '../trust/package-check.ts';
import type { TrustedSet } from '../trust/trusted-set.ts';
import type { PackageStore, StoredPackage } from './package-store.ts';

/** Default priority of peer transfer among sources (seed: cache, HTTPS 10, IPFS 20, peers 30). */
export const PEER_PRIORITY = 30;

export interface PeerDownloadOptions {
  paths: HomePaths;
  trusted: TrustedSet;
  target: PackageTarget;
  source: PeerSource;
  store: PackageStore;
  /** Parallel streams (spread over peers). */
  parallel?: number;
  signal?: AbortSignal;
  /** Progress: chunks verified so far of the total. */
  onProgress?: (done: number, total: number) => void;
}

export async function downloadFromPeers(o: PeerDownloadOptions): Promise<StoredPackage> {
  const { target, source } = o;
  // The peer source checks the chunk table against the signed root and each range against the
  // table, so it can blame the peer that lied; the engine checks everything again regardless.
  source.expect(target);
  const targets = o.trusted.requireTargets();
  await downloadPackage({
    target,
    allTargets: listPackages(targets),
    root: o.trusted.root.signed,
    sources: [{ source, priority: PEER_PRIORITY }],
    paths: o.paths,
    parallelSources: o.parallel ?? 4,
    ...(o.signal ? { signal: o.signal } : {}),
    onEvent: (e) => {
      if (e.type === 'progress') o.onProgress?.(e.chunks_done, e.chunks_total);
    },
  });
  // The engine committed the verified package and its sidecars; index them for serving.
  const { version, platform } = target.custom;
  const tableBytes = await readCapped(o.paths.chunkTableFile(version, platform), LIMITS.chunkTableBytes);
  const table = parseChunkTable(tableBytes);
  checkChunkTable(target, table);
  return o.store.adopt(target, table, tableBytes, 'peer');
}
