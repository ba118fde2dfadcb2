/**
 * A node's downloads go through the update service (src/update/): the node's PeerSource beside
 * the configured mirrors, every chunk checked before it is written, resume after a crash, the
 * whole file checked against the signed target, then an atomic rename into $DCHAT_HOME/packages.
 * This module adds what only a node does afterwards: index the verified package for serving.
 */
import { parseChunkTable } from '../model/chunks.ts';
import { LIMITS } from '../model/limits.ts';
import type { PackageTarget } from '../model/package.ts';
import { defaultPriority, type SourceKind } from '../model/source-kind.ts';
import type { PeerSource } from '../sources/peer.ts';
import type { HomePaths } from '../store/home.ts';
import { readCapped } from '../store/read-capped.ts';
import { engineTarget, listEncoded } from '../trust/encoded-targets.ts';
import { checkChunkTable } from '../trust/package-check.ts';
import type { TrustedSet } from '../trust/trusted-set.ts';
import type { Downloaded } from '../update/service.ts';
import type { PackageStore, StoredPackage } from './package-store.ts';

/** Default priority of peer transfer among sources (the table in model/source-kind.ts). */
export const PEER_PRIORITY = defaultPriority('peer');

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

/** Downloads `target` from peers only (the update service with the peer source alone). */
export async function downloadFromPeers(o: PeerDownloadOptions): Promise<StoredPackage> {
  const { target, source } = o;
  // The peer source checks the chunk table against the signed root and each range against the
  // table, so it can blame the peer that lied; the engine checks everything again regardless.
  expectWithEncodings(source, o.trusted, target);
  // Imported here, not at the top: adoptPackage is on an idle node's path, the engine is not.
  const { UpdateService } = await import('../update/service.ts');
  const service = new UpdateService({
    paths: o.paths,
    clock: () => new Date(),
    extraSources: () => [{ source }],
  });
  await service.downloadTrusted(o.trusted, {
    version: target.custom.version,
    platform: target.custom.platform,
    kind: 'peer',
    parallelSources: o.parallel ?? 4,
    ...(o.signal ? { signal: o.signal } : {}),
    onEvent: (e) => {
      if (e.type === 'progress') o.onProgress?.(e.chunks_done, e.chunks_total);
    },
  });
  const stored = await adoptPackage(o.paths, o.store, target, 'peer');
  await o.store.scanEncoded(o.trusted);
  return stored;
}

/** What a node's status says about a download (the bytes fetched; the patch used and what it saved). */
export function fetchedInfo(d: Downloaded): NonNullable<StoredPackage['fetched']> {
  return {
    bytes: d.result.sources.reduce((n, s) => n + s.bytes, 0),
    patch: d.delta?.target ?? null,
    savedBytes: Math.max(0, d.delta?.savedBytes ?? 0),
  };
}

/**
 * Registers `target` and every encoded target of it (patches, the compressed package: issue 14)
 * with the peer source, so a chunk table or chunk of a patch a peer sends is checked against the
 * patch's own signed target on arrival, as a package's is.
 */
export function expectWithEncodings(source: PeerSource, trusted: TrustedSet, target: PackageTarget): void {
  source.expect(target);
  const targets = trusted.targets;
  if (!targets) return;
  for (const e of listEncoded(targets))
    if (e.custom.to === target.path) source.expect(engineTarget(e, target));
}

/** Indexes a package the engine committed (with its sidecars) for serving to peers. */
export async function adoptPackage(
  paths: HomePaths,
  store: PackageStore,
  target: PackageTarget,
  origin: SourceKind,
): Promise<StoredPackage> {
  const { version, platform } = target.custom;
  const tableBytes = await readCapped(paths.chunkTableFile(version, platform), LIMITS.chunkTableBytes);
  const table = parseChunkTable(tableBytes);
  checkChunkTable(target, table);
  return store.adopt(target, table, tableBytes, origin);
}
