/**
 * The seed's debug lines (UPDATE_DISTRIBUTION.md "Logging"), shared by `update check`,
 * `download`, `verify` and the node: each source tried, each verification step with ✓ or ✗, and
 * the one info line of a verified package. Target `dchat::package` for packages and sources,
 * `dchat::trust` for the TUF metadata.
 */
import { logTarget } from '../log/logger.ts';
import type { SourceAttempt } from '../sources/mirror-fetcher.ts';
import type { TrustedSet } from '../trust/trusted-set.ts';

const CHECK_LINES: Record<string, string> = {
  size: 'Size check: length matches the signed length',
  sha256: 'Hash verification: SHA-256 match',
  blake3: 'Hash verification: BLAKE3 match',
  signature: 'Signature verification: key trusted',
};

/** One line per verification step that ran, in order; the result line at info (or warn). */
export function logChecks(
  version: string,
  checks: readonly { name: string; ok: boolean }[],
  failure?: { code: string; message: string },
): void {
  const log = logTarget('package');
  for (const c of checks) {
    const line = CHECK_LINES[c.name] ?? `Check ${c.name}`;
    if (c.ok) log.debug(`${line} ✓`);
    else log.debug(`${line.replace(' match', '').replace(' matches', '')} ✗ (mismatch)`);
  }
  if (failure) log.warn({ code: failure.code }, `Package ${version} failed verification: ${failure.message}`);
  else log.info(`Package ${version} verified successfully`);
}

/** Each source a download will use, before the first byte. */
export function logSourcesTried(sources: readonly { source: { type: string; uri: string } }[]): void {
  const log = logTarget('package');
  for (const s of sources) log.debug({ source_type: s.source.type }, `Trying download from ${s.source.uri}`);
}

/** Each mirror the TUF refresh asked, in order, and the metadata it accepted. */
export function logRefresh(attempts: readonly SourceAttempt[], trusted?: TrustedSet): void {
  const pkg = logTarget('package');
  const trust = logTarget('trust');
  for (const a of attempts) {
    pkg.debug({ source_type: a.source.type }, `Trying metadata from ${a.source.uri}`);
    if (!a.ok && a.error) pkg.debug({ code: a.error.code }, `${a.source.uri} failed: ${a.error.message}`);
  }
  if (!trusted) return;
  const t = trusted.targets?.signed;
  trust.debug(
    `Metadata verification: root v${trusted.root.signed.version}, timestamp v${trusted.timestamp?.signed.version ?? '?'}, snapshot v${trusted.snapshot?.signed.version ?? '?'}, targets v${t?.version ?? '?'}: signatures meet thresholds ✓`,
  );
}
