/**
 * The local copy (step 1 of the download): a verified file at the final path ends the download at
 * once; one that fails verification leaves packages/ for the partial directory, where it serves
 * as a cache source for the chunks that still verify (never from packages/, never to peers).
 */
import { stat } from 'node:fs/promises';
import type { Root } from '@tufjs/models';

import { type DchatError, toDchatError, VerificationError } from '../errors.ts';
import { CHUNKS_FORMAT, type ChunkTable } from '../model/chunks.ts';
import type { PackageTarget } from '../model/package.ts';
import { CacheSource } from '../sources/cache.ts';
import { digestFile } from '../store/file-digest.ts';
import type { HomePaths } from '../store/home.ts';
import { packagePath, quarantinePackage, refreshSidecars } from '../store/packages.ts';
import { checkChunkTable, checkPackage } from '../trust/package-check.ts';
import type { PartialPaths } from './resume.ts';
import type { DownloadEvent, DownloadResult } from './types.ts';

export type LocalCopy =
  | { kind: 'none' }
  | { kind: 'verified'; result: Omit<DownloadResult, 'durationMs'> }
  | { kind: 'invalid'; path: string; error: DchatError; event: DownloadEvent };

export async function checkLocalCopy(
  paths: HomePaths,
  pp: PartialPaths,
  target: PackageTarget,
  root: Root,
  allTargets: readonly PackageTarget[],
  signal?: AbortSignal,
): Promise<LocalCopy> {
  const final = packagePath(paths, target);
  if (!(await stat(final).catch(() => undefined))) return { kind: 'none' };
  const info = target.custom.chunks;
  try {
    const d = await digestFile(final, {
      maxBytes: target.length,
      chunkSize: info.size,
      ...(signal ? { signal } : {}),
    });
    const verdict = checkPackage(target, d, root, allTargets);
    if (!verdict.ok) throw new VerificationError(verdict.code ?? 'E_HASH_MISMATCH', verdict.message ?? '');
    const table: ChunkTable = {
      format: CHUNKS_FORMAT,
      hash: 'blake3',
      chunk_size: info.size,
      size: d.size,
      chunks: d.chunks ?? [],
    };
    checkChunkTable(target, table);
    await refreshSidecars(paths, target, table);
    return {
      kind: 'verified',
      result: {
        path: final,
        target: target.path,
        version: target.custom.version,
        platform: target.custom.platform,
        size: d.size,
        sha256: d.sha256,
        blake3: d.blake3,
        alreadyPresent: true,
        chunks: table.chunks.length,
        resumedChunks: 0,
        resumedBytes: 0,
        fetchedBytes: 0,
        chunkTableFrom: 'local',
        sources: [],
        checks: verdict.checks,
      },
    };
  } catch (err) {
    const e = toDchatError(err);
    if (e.code === 'E_ABORTED' || e.code === 'E_IO') throw e;
    await quarantinePackage(paths, target, pp.suspect);
    const event: DownloadEvent = { type: 'cache-invalid', path: final, code: e.code, message: e.message };
    return { kind: 'invalid', path: final, error: e, event };
  }
}

/** The quarantined copy of an earlier run as a cache source, if there is one. */
export async function suspectSource(
  pp: PartialPaths,
  target: PackageTarget,
): Promise<CacheSource | undefined> {
  const st = await stat(pp.suspect).catch(() => undefined);
  if (!st?.isFile()) return undefined;
  return new CacheSource({ files: { [target.path]: pp.suspect }, id: 'cache' });
}
