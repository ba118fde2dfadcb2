/**
 * `dchat release init|publish|rotate-keys|refresh`: the release maintainer's side. Reads keys and
 * the package, computes digests and the chunk table, builds the next TUF versions (trust/repository)
 * and writes them into the mirror directory in the crash-safe order of mirror-dir.ts.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { merkleRootHex } from '../crypto/merkle.ts';
import { DchatError, UsageError } from '../errors.ts';
import {
  BuildInfoSchema,
  type BuildProvenance,
  MAX_BUILD_INFO_BYTES,
  provenanceOf,
} from '../model/build-info.ts';
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
import { parseJsonBytes, parseWith } from '../model/schema-util.ts';
import type { CidVersion } from '../sources/ipfs/kubo-cid.ts';
import { copyFileAtomic, linkFileAtomic, sweepDeadTemp, writeFileAtomic } from '../store/atomic.ts';
import { digestFile } from '../store/file-digest.ts';
import { readCappedIfExists, readFlagFile } from '../store/read-capped.ts';
import type { SigningKey } from '../trust/keys.ts';
import { serializeMetadata } from '../trust/metadata.ts';
import {
  addSignatures,
  keysForRole,
  nextTargets,
  publishTargets,
  type Repo,
  refreshRepo,
  sameKeysForAllRoles,
} from '../trust/repository.ts';
import { buildStatement, parseSigDocument, type SigDocument } from '../trust/statement.ts';
import { initWithRoles, rotateRoles } from './ceremony.ts';
import { contentAddresses } from './content-addresses.ts';
import { DEFAULT_EXPIRY } from './defaults.ts';
import { loadRepo, mirrorPaths, writeRepoRoles, writeSums } from './mirror-dir.ts';
import { type DeltaReport, makeDeltas, resolveDeltaFrom } from './publish-delta.ts';
import { loadReleaseConfig } from './release-config.ts';
import { loadStaged, writeStaged } from './staging.ts';
import { announcedTargetsBytes, targetsBeyond } from './targets-retention.ts';

export { DEFAULT_EXPIRY };

export interface InitRepoOptions {
  dir: string;
  keys: SigningKey[];
  threshold: number;
  now: Date;
  rootExpiresSec?: number;
}

/** A new repository whose four roles trust `keys`, `threshold` of them each (all keys at hand). */
export async function initRepository(o: InitRepoOptions): Promise<Repo> {
  const r = await initWithRoles({
    dir: o.dir,
    specs: sameKeysForAllRoles(o.keys, o.threshold),
    signers: o.keys,
    now: o.now,
    rootExpiresSec: o.rootExpiresSec,
  });
  return r.committed as Repo;
}

export interface PublishInput {
  dir: string;
  packagePath: string;
  version: string;
  platform: string;
  keys: SigningKey[];
  now: Date;
  sigPath?: string;
  /**
   * `release build`'s provenance record of the package (source commit, toolchain), copied into
   * the signed `custom.build`; default `<package>.buildinfo.json` when it describes these bytes.
   */
  buildInfoPath?: string;
  packageType?: PackageType;
  channel?: Channel;
  security?: boolean;
  minCompatible?: string;
  /** Staged rollout: the share of nodes (0-100) that take this release now. */
  rolloutPercentage?: number;
  releaseNotesUrl?: string;
  /** One value for targets, snapshot and timestamp (spec/CLI.md `publish --expires`). */
  expiresSec?: number;
  baseUrls?: string[];
  /** Tracker announce URLs of the .torrent and magnet (none by default: no public tracker). */
  announce?: string[];
  chunkSize?: number;
  /** The IPFS CID recorded in `custom.ipfs_cid`: as `ipfs add` (0, default) or `ipfs add --cid-version 1`. */
  cidVersion?: CidVersion;
  /**
   * Stage the new targets in DIR/staging for detached signing instead of committing: signed by
   * those of `keys` the root lists for targets (maybe none); joins a targets already staged, so
   * several packages go out in one signing round. Package files are written; metadata is not.
   */
  prepare?: boolean;
  /**
   * Older versions to publish patches from (`--delta-from`: versions, `none`, `last:N`); absent:
   * the repository's release.toml default (publish-delta.ts). The compressed full package is
   * offered too whenever any encoding is asked for.
   */
  deltaFrom?: string;
  /**
   * Releases per platform the targets document keeps (`--keep-releases`; older ones and their
   * patches are left out: targets-retention.ts); absent: release.toml `[targets] keep_releases`;
   * 0: every release.
   */
  keepReleases?: number;
}

export interface PublishResult {
  /** The repository after the publish (unchanged with `prepare`). */
  repo: Repo;
  name: string;
  custom: PackageCustom;
  /** With `prepare`: the staged targets, carrying the signatures made so far. */
  staged?: Repo['targets'];
  /** What each encoding measured and whether it was published (empty without deltas). */
  deltas: DeltaReport[];
  /** Targets the new targets document left out (keep-releases). */
  removed: string[];
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

  // The CIDs Kubo's `ipfs add` gives the package and its table (IPFS nodes fetch and provide it by
  // them) and its .torrent (nodes seed it under that info hash).
  const tableBytes = serializeChunkTable(table);
  const addr = await contentAddresses({ file: o.packagePath, name, size: d.size, tableBytes }, o);
  const build = await loadBuildInfo(o, d.sha256);
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
    ...addr.custom,
    ...(sig ? { signature: sig.signature, signer_pubkey: sig.signer_pubkey } : {}),
    ...(o.releaseNotesUrl ? { release_notes_url: o.releaseNotesUrl } : {}),
    ...(o.minCompatible ? { min_compatible_version: o.minCompatible } : {}),
    ...(o.rolloutPercentage !== undefined ? { rollout_percentage: o.rolloutPercentage } : {}),
    ...(build ? { build } : {}),
  };
  const exp = o.expiresSec;
  const input = { path: name, length: d.size, sha256: d.sha256, custom };
  // release.toml, read once, when a flag leaves a default to it.
  const config =
    o.deltaFrom === undefined || o.keepReleases === undefined ? await loadReleaseConfig(o.dir) : undefined;
  const from = resolveDeltaFrom(repo, o.deltaFrom, config, o.version, o.platform);
  const deltas = from
    ? await makeDeltas({
        dir: o.dir,
        repo,
        packagePath: o.packagePath,
        name,
        platform: o.platform,
        from,
        chunkSize,
        now: o.now,
        ...(o.cidVersion !== undefined ? { cidVersion: o.cidVersion } : {}),
        ...(o.announce ? { announce: o.announce } : {}),
        ...(o.baseUrls ? { baseUrls: o.baseUrls } : {}),
      })
    : { inputs: [], report: [] };
  const inputs = [input, ...deltas.inputs];
  const keep = o.keepReleases ?? config?.keepReleases ?? 0;
  let next: Repo | undefined;
  let staged: Repo['targets'] | undefined;
  let removed: string[];
  if (o.prepare) {
    const already = (await loadStaged(o.dir)).targets;
    const version = repo.targets.signed.version + 1;
    // A staged targets prepared against an older state is stale: start from the current one.
    const base = already && already.signed.version === version ? already.signed : repo.targets.signed;
    removed = beyondKept(base.targets, inputs, keep);
    staged = nextTargets(base, version, inputs, {
      now: o.now,
      targetsExpiresSec: exp ?? DEFAULT_EXPIRY.targets,
      remove: removed,
    });
    addSignatures(staged, keysForRole(repo.root.signed, 'targets', o.keys));
  } else {
    removed = beyondKept(repo.targets.signed.targets, inputs, keep);
    // Sign first: a key set below threshold must fail before anything is written (exit 3).
    next = publishTargets(repo, inputs, {
      keys: o.keys,
      now: o.now,
      targetsExpiresSec: exp ?? DEFAULT_EXPIRY.targets,
      snapshotExpiresSec: exp ?? DEFAULT_EXPIRY.snapshot,
      timestampExpiresSec: exp ?? DEFAULT_EXPIRY.timestamp,
      remove: removed,
    });
  }
  checkAnnounceable(staged ?? (next as Repo).targets, keep);
  const p = mirrorPaths(o.dir);
  const byHash = p.targetByHash(d.sha256, name);
  await copyFileAtomic(o.packagePath, byHash);
  await linkFileAtomic(byHash, p.packageFile(name));
  await writeFileAtomic(p.chunkTable(name), tableBytes);
  await writeFileAtomic(p.torrentFile(name), addr.torrent);
  if (sig && o.sigPath)
    await writeFileAtomic(p.sigFile(name), await readFlagFile('--sig', o.sigPath, LIMITS.signatureFileBytes));
  if (staged) {
    await writeStaged(o.dir, { targets: staged });
    return { repo, name, custom, staged, deltas: deltas.report, removed };
  }
  const done = next as Repo;
  await writeRepoRoles(o.dir, done);
  await writeSums(o.dir, done);
  return { repo: done, name, custom, deltas: deltas.report, removed };
}

/** The targets keep-releases leaves out when `inputs` join `targets` (none when keep is 0). */
function beyondKept(
  targets: Readonly<Record<string, { custom?: unknown }>>,
  inputs: readonly { path: string; custom: unknown }[],
  keep: number,
): string[] {
  if (keep === 0) return [];
  const all: Record<string, { custom?: unknown }> = { ...targets };
  for (const t of inputs) all[t.path] = { custom: t.custom };
  return targetsBeyond(all, keep, new Set(inputs.map((t) => t.path)));
}

/**
 * A targets document too large for a gossip announcement is refused before anything is written:
 * published anyway, no node would hear of the release by gossip (targets-retention.ts).
 */
function checkAnnounceable(targets: Repo['targets'], keep: number): void {
  const bytes = serializeMetadata(targets).length;
  if (bytes <= announcedTargetsBytes) return;
  const n = Object.keys(targets.signed.targets).length;
  throw new DchatError(
    'E_TOO_LARGE',
    `the targets document would be ${bytes} bytes (${n} targets), more than the ${announcedTargetsBytes} a gossip announcement carries: ` +
      (keep === 0
        ? 'keep fewer releases in it (--keep-releases N, or [targets] keep_releases in release.toml)'
        : `keep fewer than ${keep} releases in it (--keep-releases)`),
  );
}

async function loadBuildInfo(o: PublishInput, sha256: string): Promise<BuildProvenance | undefined> {
  const explicit = o.buildInfoPath !== undefined;
  const path = o.buildInfoPath ?? `${o.packagePath}.buildinfo.json`;
  const bytes = explicit
    ? await readFlagFile('--build-info', path, MAX_BUILD_INFO_BYTES)
    : await readCappedIfExists(path, MAX_BUILD_INFO_BYTES);
  if (!bytes) return undefined;
  const info = parseWith(BuildInfoSchema, parseJsonBytes(bytes, MAX_BUILD_INFO_BYTES, path), path);
  const same = info.sha256 === sha256 && info.version === o.version && info.platform === o.platform;
  if (!same && explicit)
    throw new UsageError(
      '--build-info',
      `${path} describes dchat ${info.version} ${info.platform} sha256 ${info.sha256.slice(0, 16)}…, not this package`,
    );
  return same ? provenanceOf(info) : undefined;
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
 * Root N+1 trusting the new keys for every role, then every other role re-signed by them, so the
 * repository is valid under the new root at once (clients following the chain accept it on their
 * next update). Per-role rotations and detached signing: ceremony.ts rotateRoles.
 */
export async function rotateKeys(o: RotateInput): Promise<Repo & { droppedSignatures: string[] }> {
  const r = await rotateRoles({
    dir: o.dir,
    specs: sameKeysForAllRoles(o.newKeys, o.threshold),
    signers: [...o.oldKeys, ...o.newKeys],
    now: o.now,
    rootExpiresSec: o.rootExpiresSec,
  });
  return { ...(r.committed as Repo), droppedSignatures: r.droppedSignatures };
}
