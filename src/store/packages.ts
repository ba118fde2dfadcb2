/**
 * $DCHAT_HOME/packages: the one module that knows its layout (store/home.ts names the files).
 *   dchat-<v>-<p>              a verified package, mode 0755 (a dchat build is an executable)
 *   dchat-<v>-<p>.chunks       its chunk table
 *   dchat-<v>-<p>.target.json  the signed target entry it was verified against (`dchat.target-entry/1`)
 * Sidecars are written atomically, and only for a table that matches the signed target (size,
 * chunk count, Merkle root), before the package itself is put in place by one rename, so
 * `dchat update verify` works offline on any package found here. Nothing else ever writes here.
 */
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { type ChunkTable, serializeChunkTable } from '../model/chunks.ts';
import type { PackageTarget } from '../model/package.ts';
import { checkChunkTable } from '../trust/package-check.ts';
import { copyFileAtomic, fsyncDir, writeFileAtomic } from './atomic.ts';
import type { HomePaths } from './home.ts';
import { withHomeLock } from './lock.ts';

export const TARGET_ENTRY_FORMAT = 'dchat.target-entry/1';
/** Packages are executables (spec/CLI.md `update install` runs them). */
export const PACKAGE_MODE = 0o755;

/** The final path of `target`'s package. */
export function packagePath(paths: HomePaths, target: PackageTarget): string {
  return paths.packageFile(target.custom.version, target.custom.platform);
}

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
 * Puts a complete, fsynced file that the caller verified in full (every chunk against `table`,
 * the whole file against `target`) in place: sidecars first, then the executable mode, then one
 * rename (a copy across filesystems), then the directory fsync. All of it as the one writer of
 * the home's packages (store/lock.ts): a node and a CLI download committing the same release
 * cannot leave one's chunk table beside the other's package. Returns the chunk table bytes.
 */
export function installPackage(
  paths: HomePaths,
  file: string,
  target: PackageTarget,
  table: ChunkTable,
): Promise<Uint8Array> {
  return withHomeLock(paths, 'packages', async () => {
    const tableBytes = await writePackageSidecars(paths, target, table);
    const final = packagePath(paths, target);
    await mkdir(paths.packagesDir, { recursive: true });
    await chmod(file, PACKAGE_MODE);
    try {
      await rename(file, final);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await copyFileAtomic(file, final, PACKAGE_MODE);
      await rm(file, { force: true });
    }
    await fsyncDir(paths.packagesDir);
    return tableBytes;
  });
}

/**
 * Writes the sidecars of a package already in place (a verified copy found at the final path),
 * under the packages lock. Returns the chunk table bytes.
 */
export function refreshSidecars(
  paths: HomePaths,
  target: PackageTarget,
  table: ChunkTable,
): Promise<Uint8Array> {
  return withHomeLock(paths, 'packages', () => writePackageSidecars(paths, target, table));
}

/** A file at `target`'s final path that failed verification leaves packages/ for `to` (never served). */
export async function quarantinePackage(paths: HomePaths, target: PackageTarget, to: string): Promise<void> {
  await rename(packagePath(paths, target), to);
  await fsyncDir(paths.packagesDir).catch(() => {});
}

/**
 * Removes `target`'s package and its sidecars (keep-N pruning), as the one writer of packages/:
 * the package first, so a crash leaves at most sidecars, which a scan skips and a download rewrites.
 */
export function removePackage(paths: HomePaths, target: PackageTarget): Promise<void> {
  const { version, platform } = target.custom;
  return withHomeLock(paths, 'packages', async () => {
    await rm(packagePath(paths, target), { force: true });
    await rm(paths.chunkTableFile(version, platform), { force: true });
    await rm(paths.targetFile(version, platform), { force: true });
    await fsyncDir(paths.packagesDir).catch(() => {});
  });
}
