/**
 * The package check (pure): given the trusted targets, the digests of some bytes and what they
 * claim to be, decide. Order matters for the error the operator sees: first which target, then
 * size, then both hashes, then the optional dchat-sign signature.
 */
import type { Metadata, Root, Targets } from '@tufjs/models';
import type { Digests } from '../crypto/hash.ts';
import { digestEquals } from '../crypto/hash.ts';
import { merkleRootHex } from '../crypto/merkle.ts';
import { DchatError, type ErrorCode } from '../errors.ts';
import { type ChunkTable, chunkCount } from '../model/chunks.ts';
import { type PackageTarget, parsePackageCustom, TARGET_FORMAT } from '../model/package.ts';
import { packageName, parsePackageName } from '../model/platform.ts';
import { compareVersions } from '../model/version.ts';
import { buildStatement, verifyStatementSignature } from './statement.ts';

/**
 * Every package target of the trusted targets metadata, parsed and cross-checked. A TUF
 * repository may hold other files too (DESIGN: targets): a target that neither is named like a
 * dchat package nor claims the dchat target format is not ours and is skipped (see
 * `otherTargets`); one that looks like ours but does not check out is still E_MALFORMED.
 */
export function listPackages(targets: Metadata<Targets>): PackageTarget[] {
  const out: PackageTarget[] = [];
  for (const [path, t] of Object.entries(targets.signed.targets)) {
    if (!isPackageTarget(path, t.custom)) continue;
    out.push(toPackageTarget(path, t.length, t.hashes, t.custom));
  }
  return out.sort(
    (a, b) =>
      compareVersions(a.custom.version, b.custom.version) ||
      a.custom.platform.localeCompare(b.custom.platform),
  );
}

/** The targets that are not dchat packages (ignored; callers list them at debug level). */
export function otherTargets(targets: Metadata<Targets>): string[] {
  return Object.entries(targets.signed.targets)
    .filter(([path, t]) => !isPackageTarget(path, t.custom))
    .map(([path]) => path)
    .sort();
}

function isPackageTarget(path: string, custom: unknown): boolean {
  const format = (custom as { format?: unknown } | undefined)?.format;
  return format === TARGET_FORMAT || parsePackageName(path) !== undefined;
}

function toPackageTarget(
  path: string,
  length: number,
  hashes: Record<string, string>,
  custom: unknown,
): PackageTarget {
  const c = parsePackageCustom(custom, `target ${path}`);
  const sha256 = hashes.sha256;
  // The signed statement must agree with itself: TUF's length/hashes and the seed's fields.
  if (
    !sha256 ||
    sha256 !== c.sha256 ||
    length !== c.size_bytes ||
    path !== packageName(c.version, c.platform)
  ) {
    throw new DchatError('E_MALFORMED', `target ${path}: TUF length/hashes and custom fields disagree`);
  }
  if (c.chunks.count !== chunkCount(length, c.chunks.size)) {
    throw new DchatError(
      'E_MALFORMED',
      `target ${path}: chunk count ${c.chunks.count} does not fit ${length} bytes`,
    );
  }
  return { path, length, sha256, custom: c };
}

/** The trusted target for (version, platform), or E_NOT_FOUND naming what is known. */
export function findPackage(targets: Metadata<Targets>, version: string, platform: string): PackageTarget {
  const name = packageName(version, platform);
  const t = targets.signed.targets[name];
  if (!t) {
    throw new DchatError(
      'E_NOT_FOUND',
      `no trusted release ${version} for ${platform} (targets v${targets.signed.version} has no ${name})`,
    );
  }
  return toPackageTarget(name, t.length, t.hashes, t.custom);
}

export type CheckName = 'size' | 'sha256' | 'blake3' | 'signature';
export interface PackageVerdict {
  ok: boolean;
  code?: ErrorCode;
  message?: string;
  target: PackageTarget;
  /** Each check that ran, in order, and whether it passed; `signature` is absent when unsigned. */
  checks: { name: CheckName; ok: boolean }[];
}

/** Public keys (raw hex) of the targets role: the keys allowed to make dchat-sign signatures. */
export function releaseKeys(root: Root): Set<string> {
  const ids = root.roles.targets?.keyIDs ?? [];
  return new Set(
    ids.map((id) => root.keys[id]?.keyVal.public).filter((k): k is string => typeof k === 'string'),
  );
}

/**
 * Decides whether bytes with digests `d` are the trusted `target`. Never throws for a mismatch:
 * the verdict carries the code. `allTargets` lets a mismatch be recognised as another genuine
 * release (mix-and-match) and reported as such.
 */
export function checkPackage(
  target: PackageTarget,
  d: Digests,
  root: Root,
  allTargets: readonly PackageTarget[] = [],
): PackageVerdict {
  const checks: PackageVerdict['checks'] = [];
  const fail = (code: ErrorCode, message: string): PackageVerdict => ({
    ok: false,
    code,
    message,
    target,
    checks,
  });
  const other = allTargets.find(
    (t) => t.path !== target.path && t.sha256 === d.sha256 && t.length === d.size,
  );
  if (other) {
    checks.push({ name: 'size', ok: d.size === target.length });
    return fail('E_WRONG_TARGET', `these bytes are the genuine ${other.path}, not ${target.path}`);
  }
  if (d.size !== target.length) {
    checks.push({ name: 'size', ok: false });
    return d.size > target.length
      ? fail('E_TOO_LARGE', `${d.size} bytes, more than the ${target.length} signed for ${target.path}`)
      : fail('E_SIZE_MISMATCH', `${d.size} bytes, ${target.length} were signed for ${target.path}`);
  }
  checks.push({ name: 'size', ok: true });
  const shaOk = digestEquals(d.sha256, target.sha256);
  checks.push({ name: 'sha256', ok: shaOk });
  if (!shaOk)
    return fail('E_HASH_MISMATCH', `SHA-256 ${d.sha256} does not match the signed ${target.sha256}`);
  const b3Ok = digestEquals(d.blake3, target.custom.blake3);
  checks.push({ name: 'blake3', ok: b3Ok });
  if (!b3Ok)
    return fail('E_HASH_MISMATCH', `BLAKE3 ${d.blake3} does not match the signed ${target.custom.blake3}`);
  const c = target.custom;
  if (c.signature !== undefined || c.signer_pubkey !== undefined) {
    try {
      if (!c.signature || !c.signer_pubkey)
        throw new DchatError('E_SIGNATURE', 'signature without signer_pubkey (or the reverse)');
      verifyStatementSignature(
        buildStatement(c.version, c.platform, d),
        c.signature,
        c.signer_pubkey,
        releaseKeys(root),
      );
      checks.push({ name: 'signature', ok: true });
    } catch (err) {
      checks.push({ name: 'signature', ok: false });
      const e = err as DchatError;
      return fail(e.code ?? 'E_SIGNATURE', e.message);
    }
  }
  return { ok: true, target, checks };
}

/** Checks a chunk table from any source against the Merkle root the target signed. */
export function checkChunkTable(target: PackageTarget, table: ChunkTable): void {
  const info = target.custom.chunks;
  if (table.size !== target.length || table.chunk_size !== info.size || table.chunks.length !== info.count) {
    throw new DchatError(
      'E_CHUNK_MISMATCH',
      `chunk table of ${target.path} does not have the signed size or count`,
    );
  }
  if (merkleRootHex(table.chunks) !== info.root) {
    throw new DchatError(
      'E_CHUNK_MISMATCH',
      `chunk table of ${target.path} does not match the signed Merkle root`,
    );
  }
}
