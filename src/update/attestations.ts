/**
 * Rebuild attestations on the node operator's side: fetched from the mirrors beside a package
 * (`<target>.intoto.jsonl`), kept beside the verified package in the home, and counted against the
 * signed target (trust/attestations.ts) for `update verify`. Fetching is best effort: a release
 * without attestations is still a release; a network that requires them says so by its minimum.
 */
import { join } from 'node:path';
import { trustOffline } from '../download/trust-session.ts';
import { DchatError } from '../errors.ts';
import { MAX_BUNDLE_BYTES } from '../model/attestation.ts';
import type { PackageTarget } from '../model/package.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import type { HomePaths } from '../store/home.ts';
import { readCappedIfExists, readFlagFile } from '../store/read-capped.ts';
import { type AttestationCount, countAttestations, parseBundle } from '../trust/attestations.ts';
import { listPackages } from '../trust/package-check.ts';
import type { SourceRegistry } from './registry.ts';

export const homeAttestations = (paths: HomePaths, target: string) =>
  join(paths.packagesDir, `${target}.intoto.jsonl`);

/** Where `update verify` reads attestations: a flag, a repository directory, or the home. */
export async function readAttestations(
  paths: HomePaths,
  target: string,
  o: { file?: string; metadataDir?: string },
): Promise<{ from: string | null; envelopes: unknown[] }> {
  if (o.file) {
    const bytes = await readFlagFile('--attestations', o.file, MAX_BUNDLE_BYTES);
    return { from: o.file, envelopes: parseBundle(bytes.toString('utf8')).envelopes };
  }
  const places = [
    ...(o.metadataDir ? [join(o.metadataDir, 'packages', `${target}.intoto.jsonl`)] : []),
    homeAttestations(paths, target),
  ];
  for (const p of places) {
    const bytes = await readCappedIfExists(p, MAX_BUNDLE_BYTES);
    if (bytes) return { from: p, envelopes: parseBundle(bytes.toString('utf8')).envelopes };
  }
  return { from: null, envelopes: [] };
}

/**
 * Fetches the attestations of `target` from the first mirror that has them and keeps them in the
 * home. Returns how many lines were kept (0 when no mirror has any).
 */
export async function fetchAttestations(
  paths: HomePaths,
  reg: SourceRegistry,
  target: string,
  signal?: AbortSignal,
): Promise<{ from: string | null; lines: number }> {
  for (const { source } of reg.live) {
    if (!source.fetchAttestations) continue;
    const bytes = await source
      .fetchAttestations(target, { maxBytes: MAX_BUNDLE_BYTES, ...(signal ? { signal } : {}) })
      .catch(() => undefined);
    if (!bytes) continue;
    const { lines } = parseBundle(Buffer.from(bytes).toString('utf8'));
    await writeFileAtomic(homeAttestations(paths, target), bytes);
    return { from: source.uri, lines };
  }
  return { from: null, lines: 0 };
}

export interface AttestationPolicy {
  /** Builder public keys (hex) the network trusts; undefined: any distinct key is counted. */
  builders?: ReadonlySet<string>;
  /** Matching attestations from distinct builders required; 0: report only. */
  min: number;
}

export function checkAttestations(
  envelopes: readonly unknown[],
  target: PackageTarget,
  policy: AttestationPolicy,
): AttestationCount & { required: number } {
  const count = countAttestations(
    envelopes,
    { name: target.path, sha256: target.custom.sha256, blake3: target.custom.blake3 },
    policy.builders,
  );
  if (count.matching.length < policy.min)
    throw new DchatError(
      'E_ATTESTATIONS',
      `${count.matching.length} of the required ${policy.min} independent rebuild attestations match ${target.path}` +
        (count.rejected.length
          ? ` (${count.rejected.length} did not count: ${[...new Set(count.rejected.map((r) => r.reason))].join(', ')})`
          : ''),
      { details: { matching: count.matching.length, required: policy.min, rejected: count.rejected } },
    );
  return { ...count, required: policy.min };
}

/**
 * A validator's check before it approves a hard fork (governance genesis `reproducible`): the
 * trusted package of `version` for this platform has at least `min_attestations` matching
 * attestations from the builders the network names, among those kept in the home (update download
 * fetched them beside the package). E_NOT_FOUND when the release is not trusted here yet.
 */
export async function requireAttestedRelease(
  paths: HomePaths,
  now: Date,
  version: string,
  platform: string,
  policy: { builders: readonly string[]; min_attestations: number },
): Promise<AttestationCount & { required: number; target: string }> {
  const trusted = await trustOffline(paths, now);
  const target = listPackages(trusted.requireTargets()).find(
    (t) => t.custom.version === version && t.custom.platform === platform,
  );
  if (!target)
    throw new DchatError(
      'E_NOT_FOUND',
      `dchat ${version} for ${platform} is not in this home's trusted metadata: run \`dchat update download --version ${version}\` first (it also fetches the release's attestations)`,
    );
  const found = await readAttestations(paths, target.path, {});
  const c = checkAttestations(found.envelopes, target, {
    min: policy.min_attestations,
    builders: new Set(policy.builders),
  });
  return { ...c, target: target.path };
}
