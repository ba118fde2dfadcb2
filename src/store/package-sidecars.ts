/**
 * The two files kept beside a verified package (store/home.ts): `dchat-<v>-<p>.chunks`, its chunk
 * table, and `dchat-<v>-<p>.target.json`, the signed target entry it was verified against, in
 * the format the download engine writes at its commit step (`dchat.target-entry/1`). Both are
 * written atomically, and only for a table that matches the signed target (size, chunk count,
 * Merkle root), before the package itself is put in place.
 */
import { type ChunkTable, serializeChunkTable } from '../model/chunks.ts';
import type { PackageTarget } from '../model/package.ts';
import { checkChunkTable } from '../trust/package-check.ts';
import { writeFileAtomic } from './atomic.ts';
import type { HomePaths } from './home.ts';
import { withHomeLock } from './lock.ts';

export const TARGET_ENTRY_FORMAT = 'dchat.target-entry/1';

/** The signed target entry as kept beside the package. */
export function targetEntry(target: PackageTarget): Record<string, unknown> {
  return {
    format: TARGET_ENTRY_FORMAT,
    path: target.path,
    length: target.length,
    hashes: { sha256: target.sha256 },
    custom: target.custom,
  };
}

/** Writes both sidecars of `target`; returns the chunk table's bytes (what peers are served). */
export async function writePackageSidecars(
  paths: HomePaths,
  target: PackageTarget,
  table: ChunkTable,
): Promise<Uint8Array> {
  checkChunkTable(target, table);
  const { version, platform } = target.custom;
  const tableBytes = serializeChunkTable(table);
  await writeFileAtomic(paths.chunkTableFile(version, platform), tableBytes);
  await writeFileAtomic(
    paths.targetFile(version, platform),
    `${JSON.stringify(targetEntry(target), null, 1)}\n`,
  );
  return tableBytes;
}

/**
 * Writes the sidecars of `target` and then puts the package in place (`place`, e.g. the rename of
 * the verified partial file), as the one writer of the home's packages (store/lock.ts): a node and
 * a CLI download committing the same release cannot leave one's chunk table beside the other's
 * package. Returns the chunk table's bytes.
 */
export function commitPackage(
  paths: HomePaths,
  target: PackageTarget,
  table: ChunkTable,
  place: () => Promise<void> = async () => {},
): Promise<Uint8Array> {
  return withHomeLock(paths, 'packages', async () => {
    const bytes = await writePackageSidecars(paths, target, table);
    await place();
    return bytes;
  });
}
