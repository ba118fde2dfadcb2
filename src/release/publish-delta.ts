/**
 * `release publish --delta-from`: which older packages to diff from (the flag, or the repository's
 * release.toml `[delta] from_last = N`: the last N releases of the same platform), and the encoded
 * targets (release/delta.ts) written into the mirror directory beside the package, like packages:
 * targets/<sha256>.<name>, packages/<name>, its chunk table and .torrent, with the same content
 * addresses (IPFS CIDs, info hash, magnet) in their custom. Returns the TUF target inputs.
 */
import { tmpdir } from 'node:os';
import { merkleRootHex } from '../crypto/merkle.ts';
import { DchatError, UsageError } from '../errors.ts';
import { CHUNKS_FORMAT, serializeChunkTable } from '../model/chunks.ts';
import { ENCODED_FORMAT, type EncodedCustom, type Encoding, encodedName } from '../model/encoded.ts';
import { LIMITS } from '../model/limits.ts';
import { packageName, parsePackageName } from '../model/platform.ts';
import { compareVersions, isValidVersion } from '../model/version.ts';
import type { CidVersion } from '../sources/ipfs/kubo-cid.ts';
import { copyFileAtomic, linkFileAtomic, writeFileAtomic } from '../store/atomic.ts';
import { digestFile } from '../store/file-digest.ts';
import type { Repo, TargetInput } from '../trust/repository.ts';
import { contentAddresses } from './content-addresses.ts';
import {
  bestPatch,
  compressedFull,
  disposeContext,
  type Encoded,
  encodeContext,
  type PairMeasure,
} from './delta.ts';
import { mirrorPaths } from './mirror-dir.ts';
import { MAX_DELTA_FROM, type ReleaseConfig } from './release-config.ts';

export interface DeltaReport {
  name?: string;
  from?: string;
  algorithm?: Encoding;
  size?: number;
  /** Share of the zstd -19 full file (patches) or of the package (compressed full). */
  share: number;
  published: boolean;
  tried: PairMeasure['tried'];
}

/**
 * The versions to diff from: `flag` (comma-separated versions, `none`, or `last:N`), else the
 * repository's release.toml `[delta] from_last` (`config`, read by the caller when the flag is
 * absent); undefined when no encoding is wanted at all (`none`, no config).
 */
export function resolveDeltaFrom(
  repo: Repo,
  flag: string | undefined,
  config: ReleaseConfig | undefined,
  version: string,
  platform: string,
): string[] | undefined {
  let spec = flag;
  if (spec === undefined) {
    const n = config?.deltaFromLast ?? 0;
    if (n === 0) return undefined;
    spec = `last:${n}`;
  }
  if (spec === 'none') return undefined;
  const last = /^last:(\d{1,2})$/.exec(spec);
  if (last) {
    const n = Math.min(Number(last[1]), MAX_DELTA_FROM);
    return Object.keys(repo.targets.signed.targets)
      .map((t) => parsePackageName(t))
      .filter((p) => p !== undefined && p.platform === platform && p.version !== version)
      .map((p) => (p as { version: string }).version)
      .filter((v) => compareVersions(v, version) < 0)
      .sort((a, b) => compareVersions(b, a))
      .slice(0, n);
  }
  const list = [...new Set(spec.split(',').map((s) => s.trim()))];
  if (list.length > MAX_DELTA_FROM)
    throw new UsageError('--delta-from', `at most ${MAX_DELTA_FROM} versions, got ${list.length}`);
  for (const v of list) {
    if (!isValidVersion(v)) throw new UsageError('--delta-from', `'${v.slice(0, 40)}' is not a version`);
    if (v === version) throw new UsageError('--delta-from', `${v} is the version being published`);
    if (!repo.targets.signed.targets[packageName(v, platform)])
      throw new UsageError('--delta-from', `${packageName(v, platform)} is not published in this repository`);
  }
  return list;
}

export interface MakeDeltasInput {
  dir: string;
  repo: Repo;
  packagePath: string;
  name: string;
  platform: string;
  from: string[];
  chunkSize: number;
  now: Date;
  /** As for the package: the CID version, trackers and web seeds of its content addresses. */
  cidVersion?: CidVersion;
  announce?: readonly string[];
  baseUrls?: readonly string[];
}

/** Makes and writes the encodings of the new package; returns their target inputs and a report. */
export async function makeDeltas(
  o: MakeDeltasInput,
): Promise<{ inputs: TargetInput[]; report: DeltaReport[] }> {
  const p = mirrorPaths(o.dir);
  const ctx = await encodeContext(o.packagePath, tmpdir());
  const inputs: TargetInput[] = [];
  const report: DeltaReport[] = [];
  try {
    const full = await compressedFull(ctx);
    report.push({
      ...(full ? { name: encodedName(o.name, 'zstd'), algorithm: 'zstd' as const, size: full.size } : {}),
      share: ctx.fullZstd.length / ctx.newBytes.length,
      published: Boolean(full),
      tried: [{ algorithm: 'zstd', size: ctx.fullZstd.length, ms: 0 }],
    });
    if (full) inputs.push(await writeEncoded(o, full, encodedName(o.name, 'zstd')));
    for (const v of o.from) {
      const fromName = packageName(v, o.platform);
      const signed = o.repo.targets.signed.targets[fromName];
      const basePath = p.packageFile(fromName);
      const d = await digestFile(basePath, { maxBytes: LIMITS.packageBytes }).catch((cause) => {
        throw new DchatError('E_NOT_FOUND', `${basePath}: ${(cause as Error).message}`, { cause });
      });
      if (!signed || d.sha256 !== signed.hashes.sha256)
        throw new DchatError('E_HASH_MISMATCH', `${basePath} is not the published ${fromName}`);
      const m = await bestPatch(ctx, basePath, v);
      const share = m.best ? m.best.size / ctx.fullZstd.length : 1;
      const name = m.best ? encodedName(o.name, m.best.algorithm, v) : undefined;
      report.push({
        from: fromName,
        ...(m.best && name ? { name, algorithm: m.best.algorithm, size: m.best.size } : {}),
        share,
        published: Boolean(m.best),
        tried: m.tried,
      });
      if (m.best && name) inputs.push(await writeEncoded(o, m.best, name, fromName));
    }
  } finally {
    await disposeContext(ctx);
  }
  return { inputs, report };
}

async function writeEncoded(
  o: MakeDeltasInput,
  e: Encoded,
  name: string,
  from?: string,
): Promise<TargetInput> {
  const p = mirrorPaths(o.dir);
  const d = await digestFile(e.file, { chunkSize: o.chunkSize });
  const chunks = d.chunks ?? [];
  const tableBytes = serializeChunkTable({
    format: CHUNKS_FORMAT,
    hash: 'blake3',
    chunk_size: o.chunkSize,
    size: d.size,
    chunks,
  });
  // Recorded like the package's (release/content-addresses.ts), so IPFS and BitTorrent serve the
  // patch as they serve packages; the file hashed is the one written below.
  const addr = await contentAddresses({ file: e.file, name, size: d.size, tableBytes }, o);
  const custom: EncodedCustom = {
    format: ENCODED_FORMAT,
    algorithm: e.algorithm,
    to: o.name,
    ...(from ? { from } : {}),
    sha256: d.sha256,
    blake3: d.blake3,
    size_bytes: d.size,
    chunks: { hash: 'blake3', size: o.chunkSize, count: chunks.length, root: merkleRootHex(chunks) },
    ...addr.custom,
  };
  const byHash = p.targetByHash(d.sha256, name);
  await copyFileAtomic(e.file, byHash);
  await linkFileAtomic(byHash, p.packageFile(name));
  await writeFileAtomic(p.chunkTable(name), tableBytes);
  await writeFileAtomic(p.torrentFile(name), addr.torrent);
  return { path: name, length: d.size, sha256: d.sha256, custom };
}
