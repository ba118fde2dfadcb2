/**
 * $DCHAT_HOME/encoded: the encoded targets (model/encoded.ts: patches, compressed packages) this
 * home fetched and verified against their own signed targets, kept after they were applied so a
 * node serves them to peers like any package (issue 14: "peers serve patches like any file").
 *   <name>          the encoded target's bytes, exactly as signed
 *   <name>.chunks   its chunk table (the signed Merkle root was checked before it was written)
 * Kept apart from packages/: nothing here is ever installed or run, and a node indexes a file
 * here only after checking it again against the trusted targets (node/package-store.ts).
 */
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Metadata, Targets } from '@tufjs/models';
import { type ChunkTable, serializeChunkTable } from '../model/chunks.ts';
import { encodedToPrune } from '../trust/encoded-targets.ts';
import { fsyncDir, writeFileAtomic } from './atomic.ts';
import type { HomePaths } from './home.ts';
import { withHomeLock } from './lock.ts';

export function encodedDir(paths: HomePaths): string {
  return join(paths.home, 'encoded');
}

/** The kept file of encoded target `name` (a TUF target path: no directory part, never `..`). */
export function encodedFile(paths: HomePaths, name: string): string {
  return join(encodedDir(paths), name);
}

export function encodedTableFile(paths: HomePaths, name: string): string {
  return `${encodedFile(paths, name)}.chunks`;
}

/** A TUF path that may name a file in encoded/ (one plain component). */
export function isPlainName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._+-]{0,255}$/.test(name) && !name.includes('..');
}

/**
 * Moves a complete file the caller verified in full against its signed encoded target (every
 * chunk against `table`, the whole file against the hashes) into encoded/: the table first, then
 * one rename. Same filesystem as partial/ (both under the home); a failure leaves nothing.
 */
export function keepEncoded(paths: HomePaths, file: string, name: string, table: ChunkTable): Promise<void> {
  return withHomeLock(paths, 'packages', async () => {
    const dir = encodedDir(paths);
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(encodedTableFile(paths, name), serializeChunkTable(table));
    try {
      await rename(file, encodedFile(paths, name));
    } catch (err) {
      await rm(encodedTableFile(paths, name), { force: true });
      throw err;
    }
    await fsyncDir(dir);
  });
}

/** Names of the kept encoded files (tables excluded); none when the directory does not exist. */
export async function listKeptEncoded(paths: HomePaths): Promise<string[]> {
  try {
    return (await readdir(encodedDir(paths))).filter((n) => !n.endsWith('.chunks') && isPlainName(n));
  } catch {
    return [];
  }
}

/** Removes a kept encoded file and its table (no longer trusted, or damaged). */
export async function dropEncoded(paths: HomePaths, name: string): Promise<void> {
  await Promise.all([
    rm(encodedFile(paths, name), { force: true }),
    rm(encodedTableFile(paths, name), { force: true }),
  ]);
}

/**
 * Keep-N for the kept files, as for installed versions: those that decode to releases older than
 * the `keep` newest the targets list go (trust/encoded-targets.ts encodedToPrune). Returns them.
 */
export async function pruneEncoded(
  paths: HomePaths,
  targets: Metadata<Targets>,
  keep: number,
): Promise<string[]> {
  const gone = encodedToPrune(await listKeptEncoded(paths), targets, keep);
  for (const name of gone) await dropEncoded(paths, name);
  return gone;
}
