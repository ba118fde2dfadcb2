/**
 * A release is several packages (one per platform) in one signed targets.json. A proposal names
 * the release by the SHA-256 of its package entries (path and SHA-256 of each, sorted by path,
 * canonical JSON), and the targets document by the SHA-256 of its bytes.
 */
import canonicalJson from '@tufjs/canonical-json';
import { sha256Hex } from '../crypto/hash.ts';
import type { SignedTargets } from './proposal.ts';

const { canonicalize } = canonicalJson;

export function releaseDigest(packages: readonly { path: string; sha256: string }[]): string {
  const entries = [...packages]
    .map((p) => ({ path: p.path, sha256: p.sha256 }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return sha256Hex(canonicalize(entries));
}

/** What a trusted targets document says about releases: its hash and each version's digest. */
export function signedTargetsOf(
  targetsBytes: Uint8Array,
  packages: readonly { path: string; sha256: string; version: string }[],
): SignedTargets {
  const byVersion = new Map<string, { path: string; sha256: string }[]>();
  for (const p of packages) {
    const list = byVersion.get(p.version) ?? [];
    list.push(p);
    byVersion.set(p.version, list);
  }
  return {
    targets_hash: sha256Hex(targetsBytes),
    releases: [...byVersion].map(([version, list]) => ({ version, sha256: releaseDigest(list) })),
  };
}
