/**
 * `dchat release init|publish|rotate-keys|refresh`: the release maintainer's side. Reads keys and
 * the package, computes digests and the chunk table, builds the next TUF versions (trust/repository)
 * and writes them into the mirror directory in the crash-safe order of mirror-dir.ts.
 */
import { mkdir, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { digestFile } from '../crypto/file-digest.ts';
import { merkleRootHex } from '../crypto/merkle.ts';
import { DchatError, UsageError } from '../errors.ts';
import { CHUNKS_FORMAT, type ChunkTable, serializeChunkTable } from '../model/chunks.ts';
import { LIMITS } from '../model/limits.ts';
import {
  type Channel,
  DEFAULT_CHUNK_SIZE,
  type PackageCustom,
  type PackageType,
  TARGET_FORMAT,
} from '../model/package.ts';
import { packageName } from '../model/platform.ts';
import { copyFileAtomic, linkFileAtomic, sweepDeadTemp, writeFileAtomic } from '../store/atomic.ts';
import { readFlagFile } from '../store/read-capped.ts';
import type { SigningKey } from '../trust/keys.ts';
import {
  initRepo,
  publishTargets,
  type Repo,
  refreshRepo,
  resignAll,
  rotateRoot,
} from '../trust/repository.ts';
import { buildStatement, parseSigDocument, type SigDocument } from '../trust/statement.ts';
import { isRepo, loadRepo, mirrorPaths, writeRepoRoles, writeRoot, writeSums } from './mirror-dir.ts';

export const DEFAULT_EXPIRY = {
  root: 365 * 86400,
  targets: 30 * 86400,
  snapshot: 7 * 86400,
  timestamp: 7 * 86400,
};

export interface InitRepoOptions {
  dir: string;
  keys: SigningKey[];
  threshold: number;
  now: Date;
  rootExpiresSec?: number;
}

export async function initRepository(o: InitRepoOptions): Promise<Repo> {
  if (await isRepo(o.dir))
    throw new UsageError('--out', `${o.dir} already holds a repository; use rotate-keys to change its keys`);
  const repo = initRepo({
    keys: o.keys,
    threshold: o.threshold,
    now: o.now,
    rootExpiresSec: o.rootExpiresSec ?? DEFAULT_EXPIRY.root,
    targetsExpiresSec: DEFAULT_EXPIRY.targets,
    snapshotExpiresSec: DEFAULT_EXPIRY.snapshot,
    timestampExpiresSec: DEFAULT_EXPIRY.timestamp,
  });
  const p = mirrorPaths(o.dir);
  await mkdir(p.targetsDir, { recursive: true });
  await mkdir(p.packagesDir, { recursive: true });
  await writeRoot(o.dir, repo.root);
  await writeRepoRoles(o.dir, repo);
  await writeSums(o.dir, repo);
  return repo;
}

export interface PublishInput {
  dir: string;
  packagePath: string;
  version: string;
  platform: string;
  keys: SigningKey[];
  now: Date;
  sigPath?: string;
  packageType?: PackageType;
  channel?: Channel;
  security?: boolean;
  minCompatible?: string;
  releaseNotesUrl?: string;
  /** One value for targets, snapshot and timestamp (spec/CLI.md `publish --expires`). */
  expiresSec?: number;
  baseUrls?: string[];
  chunkSize?: number;
}

export interface PublishResult {
  repo: Repo;
  name: string;
  custom: PackageCustom;
}

export async function publishRelease(o: PublishInput): Promise<PublishResult> {
  const repo = await loadRepo(o.dir);
  // A publish killed mid-copy left a partial package (hundreds of MiB) under a temp name.
  const p0 = mirrorPaths(o.dir);
  for (const d of [p0.targetsDir, p0.packagesDir, p0.metadataDir, o.dir]) await sweepDeadTemp(d);
  const st = await stat(o.packagePath).catch((cause) => {
    throw new UsageError('--package', `cannot read ${o.packagePath}: ${(cause as Error).message}`, { cause });
  });
  if (!st.isFile()) throw new UsageError('--package', `${o.packagePath} is not a regular file`);
  if (st.size > LIMITS.packageBytes)
    throw new DchatError('E_TOO_LARGE', `--package is ${st.size} bytes, more than ${LIMITS.packageBytes}`);
  const name = packageName(o.version, o.platform);
  const chunkSize = o.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const d = await digestFile(o.packagePath, { chunkSize });
  const chunks = d.chunks ?? [];
  const table: ChunkTable = {
    format: CHUNKS_FORMAT,
    hash: 'blake3',
    chunk_size: chunkSize,
    size: d.size,
    chunks,
  };

  let sig: SigDocument | undefined;
  if (o.sigPath) sig = await loadMatchingSig(o.sigPath, o.version, o.platform, d);
  // A released version is immutable (apt, TUF practice): nodes may already hold the old bytes,
  // and rewriting packages/<name> before the new timestamp commits would leave it disagreeing
  // with the trusted metadata after a crash. Re-publishing the same bytes is allowed (e.g. --sig).
  const existing = repo.targets.signed.targets[name];
  if (existing && existing.hashes.sha256 !== d.sha256) {
    throw new UsageError(
      '--version',
      `${name} is already published with other bytes; publish a new version instead`,
    );
  }

  const custom: PackageCustom = {
    format: TARGET_FORMAT,
    version: o.version,
    release_date: o.now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    package_type: o.packageType ?? 'Binary',
    platform: o.platform,
    sha256: d.sha256,
    blake3: d.blake3,
    size_bytes: d.size,
    channel: o.channel ?? 'stable',
    security: o.security ?? false,
    chunks: { hash: 'blake3', size: chunkSize, count: chunks.length, root: merkleRootHex(chunks) },
    ...(sig ? { signature: sig.signature, signer_pubkey: sig.signer_pubkey } : {}),
    ...(o.releaseNotesUrl ? { release_notes_url: o.releaseNotesUrl } : {}),
    ...(o.minCompatible ? { min_compatible_version: o.minCompatible } : {}),
    ...(o.baseUrls?.length ? { sources: o.baseUrls } : {}),
  };
  const exp = o.expiresSec;
  // Sign first: a key set below threshold must fail before anything is written (exit 3).
  const next = publishTargets(repo, [{ path: name, length: d.size, sha256: d.sha256, custom }], {
    keys: o.keys,
    now: o.now,
    targetsExpiresSec: exp ?? DEFAULT_EXPIRY.targets,
    snapshotExpiresSec: exp ?? DEFAULT_EXPIRY.snapshot,
    timestampExpiresSec: exp ?? DEFAULT_EXPIRY.timestamp,
  });
  const p = mirrorPaths(o.dir);
  const byHash = p.targetByHash(d.sha256, name);
  await copyFileAtomic(o.packagePath, byHash);
  await linkFileAtomic(byHash, p.packageFile(name));
  await writeFileAtomic(p.chunkTable(name), serializeChunkTable(table));
  if (sig && o.sigPath)
    await writeFileAtomic(p.sigFile(name), await readFlagFile('--sig', o.sigPath, LIMITS.signatureFileBytes));
  await writeRepoRoles(o.dir, next);
  await writeSums(o.dir, next);
  return { repo: next, name, custom };
}

async function loadMatchingSig(
  path: string,
  version: string,
  platform: string,
  d: { size: number; sha256: string; blake3: string },
): Promise<SigDocument> {
  const bytes = await readFlagFile('--sig', path, LIMITS.signatureFileBytes);
  const doc = parseSigDocument(bytes);
  const want = buildStatement(version, platform, d);
  const got = doc.statement;
  if (got.name !== want.name || got.version !== want.version || got.platform !== want.platform) {
    throw new DchatError('E_WRONG_TARGET', `${basename(path)} signs ${got.name}, not ${want.name}`);
  }
  if (got.size !== want.size || got.sha256 !== want.sha256 || got.blake3 !== want.blake3) {
    throw new DchatError('E_HASH_MISMATCH', `${basename(path)} was made for other bytes than --package`);
  }
  return doc;
}

export interface RefreshInput {
  dir: string;
  keys: SigningKey[];
  now: Date;
  expiresSec?: number;
}

export async function refreshRepository(o: RefreshInput): Promise<Repo> {
  const repo = await loadRepo(o.dir);
  const next = refreshRepo(repo, {
    keys: o.keys,
    now: o.now,
    snapshotExpiresSec: o.expiresSec ?? DEFAULT_EXPIRY.snapshot,
    timestampExpiresSec: o.expiresSec ?? DEFAULT_EXPIRY.timestamp,
  });
  await writeRepoRoles(o.dir, next);
  return next;
}

export interface RotateInput {
  dir: string;
  oldKeys: SigningKey[];
  newKeys: SigningKey[];
  threshold: number;
  now: Date;
  rootExpiresSec?: number;
}

/**
 * Root N+1 trusting the new keys, then every other role re-signed by them, so the repository is
 * valid under the new root at once (clients following the chain accept it on their next update).
 */
export async function rotateKeys(o: RotateInput): Promise<Repo & { droppedSignatures: string[] }> {
  const repo = await loadRepo(o.dir);
  const root = rotateRoot(repo, {
    oldKeys: o.oldKeys,
    newKeys: o.newKeys,
    threshold: o.threshold,
    now: o.now,
    rootExpiresSec: o.rootExpiresSec ?? DEFAULT_EXPIRY.root,
  });
  const next = resignAll(repo, root, {
    keys: o.newKeys,
    now: o.now,
    targetsExpiresSec: DEFAULT_EXPIRY.targets,
    snapshotExpiresSec: DEFAULT_EXPIRY.snapshot,
    timestampExpiresSec: DEFAULT_EXPIRY.timestamp,
  });
  // Root first: a client that sees the new timestamp must be able to find the root that signs it.
  await writeRoot(o.dir, root);
  await writeRepoRoles(o.dir, next);
  await writeSums(o.dir, next);
  return next;
}
