/**
 * A mirror directory as `release publish` writes it and any static HTTPS server (nginx) serves it:
 *   root.json                           latest trusted root (what `dchat trust init --root` pins)
 *   metadata/N.root.json, root.json      the root chain (TUF consistent snapshots)
 *   metadata/N.targets.json, N.snapshot.json, timestamp.json
 *   targets/<sha256>.<name>              packages by content (what a stock TUF client fetches)
 *   packages/<name>                      the same files by name (hard links)
 *   packages/<name>.chunks               chunk tables; packages/<name>.sig dchat-sign signatures
 *   packages/<name>.torrent              BitTorrent metainfo (web seeds: the --base-url mirrors)
 *   SHA256SUMS, BLAKE3SUMS               for `sha256sum -c` / `b3sum -c` from DIR
 * Write order keeps every instant consistent for readers and crashes: packages, then targets, then
 * snapshot, then timestamp.json last (its rename is the commit point), then the SUMS files.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Metadata, Root } from '@tufjs/models';
import { DchatError, UsageError } from '../errors.ts';
import { LIMITS } from '../model/limits.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { readCappedIfExists as readCapped } from '../store/read-capped.ts';
import { parseMetadata, serializeMetadata } from '../trust/metadata.ts';
import type { Repo } from '../trust/repository.ts';

export function mirrorPaths(dir: string) {
  return {
    metadataDir: join(dir, 'metadata'),
    targetsDir: join(dir, 'targets'),
    packagesDir: join(dir, 'packages'),
    rootCopy: join(dir, 'root.json'),
    meta: (name: string) => join(dir, 'metadata', name),
    targetByHash: (sha256: string, name: string) => join(dir, 'targets', `${sha256}.${name}`),
    packageFile: (name: string) => join(dir, 'packages', name),
    chunkTable: (name: string) => join(dir, 'packages', `${name}.chunks`),
    sigFile: (name: string) => join(dir, 'packages', `${name}.sig`),
    torrentFile: (name: string) => join(dir, 'packages', `${name}.torrent`),
    /** Rebuild attestations of a package, one DSSE envelope per line (release attest). */
    attestations: (name: string) => join(dir, 'packages', `${name}.intoto.jsonl`),
    sha256sums: join(dir, 'SHA256SUMS'),
    blake3sums: join(dir, 'BLAKE3SUMS'),
  };
}

async function readMeta(dir: string, name: string, max: number): Promise<Uint8Array> {
  const bytes = await readCapped(mirrorPaths(dir).meta(name), max);
  if (!bytes) throw new DchatError('E_NOT_A_REPOSITORY', `${dir} has no metadata/${name}`);
  return bytes;
}

/** Highest N with metadata/N.root.json present. */
async function latestRootVersion(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(mirrorPaths(dir).metadataDir);
  } catch {
    throw new UsageError(
      '--out',
      `${dir} is not a release repository (run \`dchat release init --out ${dir}\` first)`,
    );
  }
  const versions = names
    .map((n) => /^(\d+)\.root\.json$/.exec(n)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number);
  if (versions.length === 0)
    throw new UsageError('--out', `${dir} is not a release repository (no metadata/1.root.json)`);
  return Math.max(...versions);
}

/** Loads the current state of a repository written by `release init` / `publish`. */
export async function loadRepo(dir: string): Promise<Repo> {
  const rootVersion = await latestRootVersion(dir);
  try {
    const root = parseMetadata('root', await readMeta(dir, `${rootVersion}.root.json`, LIMITS.rootBytes));
    const timestamp = parseMetadata(
      'timestamp',
      await readMeta(dir, 'timestamp.json', LIMITS.timestampBytes),
    );
    const snapVersion = timestamp.signed.snapshotMeta.version;
    const snapshot = parseMetadata(
      'snapshot',
      await readMeta(dir, `${snapVersion}.snapshot.json`, LIMITS.snapshotBytes),
    );
    const tVersion = snapshot.signed.meta['targets.json']?.version;
    if (tVersion === undefined)
      throw new DchatError('E_NOT_A_REPOSITORY', `${dir}: snapshot lists no targets.json`);
    const targets = parseMetadata(
      'targets',
      await readMeta(dir, `${tVersion}.targets.json`, LIMITS.targetsBytes),
    );
    return { root, targets, snapshot, timestamp };
  } catch (err) {
    if (err instanceof DchatError && err.code === 'E_NOT_A_REPOSITORY')
      throw new UsageError('--out', err.message, { cause: err });
    throw err;
  }
}

export async function isRepo(dir: string): Promise<boolean> {
  return stat(mirrorPaths(dir).meta('1.root.json')).then(
    () => true,
    () => false,
  );
}

/** Writes a root version (chain file, metadata/root.json and DIR/root.json). */
export async function writeRoot(dir: string, root: Metadata<Root>): Promise<void> {
  const p = mirrorPaths(dir);
  const bytes = serializeMetadata(root);
  await writeFileAtomic(p.meta(`${root.signed.version}.root.json`), bytes);
  await writeFileAtomic(p.meta('root.json'), bytes);
  await writeFileAtomic(p.rootCopy, bytes);
}

/** Writes targets, snapshot and finally timestamp (the commit point), each atomically. */
export async function writeRepoRoles(dir: string, repo: Repo): Promise<void> {
  const p = mirrorPaths(dir);
  await writeFileAtomic(
    p.meta(`${repo.targets.signed.version}.targets.json`),
    serializeMetadata(repo.targets),
  );
  await writeFileAtomic(
    p.meta(`${repo.snapshot.signed.version}.snapshot.json`),
    serializeMetadata(repo.snapshot),
  );
  await writeFileAtomic(p.meta('timestamp.json'), serializeMetadata(repo.timestamp));
}

/** Regenerates SHA256SUMS and BLAKE3SUMS from the signed targets (never from what is on disk). */
export async function writeSums(dir: string, repo: Repo): Promise<void> {
  const p = mirrorPaths(dir);
  const sha: string[] = [];
  const b3: string[] = [];
  for (const [name, t] of Object.entries(repo.targets.signed.targets).sort(([a], [b]) =>
    a.localeCompare(b),
  )) {
    sha.push(`${t.hashes.sha256}  packages/${name}`);
    const blake3 = (t.custom as { blake3?: string }).blake3;
    if (blake3) b3.push(`${blake3}  packages/${name}`);
  }
  await writeFileAtomic(p.sha256sums, sha.length ? `${sha.join('\n')}\n` : '');
  await writeFileAtomic(p.blake3sums, b3.length ? `${b3.join('\n')}\n` : '');
}
