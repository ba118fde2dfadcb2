/**
 * Verify (spec/CLI.md `update verify`): a file on disk rechecked against trusted metadata, offline
 * (what the store kept since the last refresh) or after a TUF client update from a repository
 * directory (`--metadata DIR`), which persists what it accepts. The verdict is a value; only a
 * failure to read trust or the file throws.
 */
import type { Digests } from '../crypto/hash.ts';
import { trustOffline, trustUpdate } from '../download/trust-session.ts';
import { verifyFile } from '../download/verify-file.ts';
import type { ErrorCode } from '../errors.ts';
import { report, verificationResultOf } from '../metrics/sink.ts';
import type { PackageTarget } from '../model/package.ts';
import { DirectoryFetcher } from '../sources/directory-fetcher.ts';
import type { FileDigestRun } from '../store/file-digest.ts';
import type { HomePaths } from '../store/home.ts';
import type { PackageVerdict } from '../trust/package-check.ts';
import type { TrustedSet } from '../trust/trusted-set.ts';
import { logChecks } from './log-lines.ts';

export interface VerifyRequest {
  file: string;
  version: string;
  platform: string;
  /** A repository or mirror copy to update trust from first. */
  metadataDir?: string;
  /** Hashing of `file` the caller started early (store/file-digest.ts), to overlap with trust. */
  hashing?: FileDigestRun;
}

/** The package check's answer as the CLI consumes it: a failure always has a code and a message. */
export type Verdict =
  | { ok: true; target: PackageTarget; checks: PackageVerdict['checks'] }
  | { ok: false; code: ErrorCode; message: string; target: PackageTarget; checks: PackageVerdict['checks'] };

export function toVerdict(v: PackageVerdict): Verdict {
  if (v.ok) return { ok: true, target: v.target, checks: v.checks };
  return {
    ok: false,
    code: v.code ?? 'E_HASH_MISMATCH',
    message: v.message ?? 'the package does not match its signed metadata',
    target: v.target,
    checks: v.checks,
  };
}

export interface Verified {
  verdict: Verdict;
  digests: Digests;
  trusted: TrustedSet;
}

export async function verifyPackage(paths: HomePaths, r: VerifyRequest, now: Date): Promise<Verified> {
  let trusted: TrustedSet;
  try {
    trusted = r.metadataDir
      ? (await trustUpdate(paths, new DirectoryFetcher(r.metadataDir), now)).trusted
      : await trustOffline(paths, now);
  } catch (err) {
    r.hashing?.stop();
    throw err;
  }
  const { verdict, digests } = await verifyFile(trusted, r.file, r.version, r.platform, r.hashing);
  const v = toVerdict(verdict);
  const result = verificationResultOf(v.ok ? undefined : v.code);
  if (result) report.verified(result);
  logChecks(r.version, v.checks, v.ok ? undefined : v);
  return { verdict: v, digests, trusted };
}
