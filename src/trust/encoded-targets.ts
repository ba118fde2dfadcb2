/**
 * The encoded targets (model/encoded.ts) of the trusted targets metadata, cross-checked like
 * packages are (pure): TUF length and hashes agree with the custom fields, the chunk count fits,
 * and `to` / `from` name package targets of one platform. One that does not check out is left
 * out (a client can always fetch the full package), never trusted for anything.
 */
import type { Metadata, Targets } from '@tufjs/models';
import { chunkCount } from '../model/chunks.ts';
import { type EncodedTarget, encodedBase, isEncodedCustom, parseEncodedCustom } from '../model/encoded.ts';
import type { PackageTarget } from '../model/package.ts';
import { compareVersions } from '../model/version.ts';
import { listPackages } from './package-check.ts';

/** Every well-formed encoded target whose `to` (and `from`) are trusted packages. */
export function listEncoded(targets: Metadata<Targets>): EncodedTarget[] {
  const packages = new Map(listPackages(targets).map((p) => [p.path, p]));
  const out: EncodedTarget[] = [];
  for (const [path, t] of Object.entries(targets.signed.targets)) {
    if (!isEncodedCustom(t.custom)) continue;
    let custom: EncodedTarget['custom'];
    try {
      custom = parseEncodedCustom(t.custom, `target ${path}`);
    } catch {
      continue;
    }
    const sha256 = t.hashes.sha256;
    if (!sha256 || sha256 !== custom.sha256 || t.length !== custom.size_bytes) continue;
    if (custom.chunks.count !== chunkCount(t.length, custom.chunks.size)) continue;
    const to = packages.get(custom.to);
    if (!to) continue;
    const patch = custom.algorithm !== 'zstd';
    if (patch !== (custom.from !== undefined)) continue;
    if (custom.from !== undefined) {
      const from = packages.get(custom.from);
      if (!from || from.custom.platform !== to.custom.platform || from.path === to.path) continue;
    }
    out.push({ path, length: t.length, sha256, custom });
  }
  return out.sort((a, b) => a.length - b.length || a.path.localeCompare(b.path));
}

/** Encodings of `to`: patches whose base is one of `held`, and compressed full copies. */
export function encodingsOf(
  all: readonly EncodedTarget[],
  to: PackageTarget,
  held: ReadonlySet<string>,
): EncodedTarget[] {
  return all.filter(
    (e) => e.custom.to === to.path && (e.custom.from === undefined || held.has(e.custom.from)),
  );
}

/**
 * The view of an encoded target the download engine takes (it fetches and checks any target by
 * path, length, SHA-256, BLAKE3 and chunk anchor). Never written anywhere, never installed as a
 * package: the version and platform are those of the package it decodes to. Every content address
 * (IPFS CIDs, BitTorrent info hash and magnet, web seeds) is the encoded file's own or absent:
 * the package's would make an IPFS or BitTorrent source hand over the package's bytes for the
 * patch, which fail the patch's chunks and get that source penalised.
 */
export function engineTarget(e: EncodedTarget, to: PackageTarget): PackageTarget {
  const {
    ipfs_cid: _cid,
    ipfs_chunks_cid: _chunksCid,
    btih: _btih,
    magnet: _magnet,
    sources: _sources,
    signature: _signature,
    signer_pubkey: _signer,
    ...rest
  } = to.custom;
  const own = e.custom;
  return {
    path: e.path,
    length: e.length,
    sha256: e.sha256,
    custom: {
      ...rest,
      sha256: e.sha256,
      blake3: own.blake3,
      size_bytes: e.length,
      chunks: own.chunks,
      ...(own.ipfs_cid ? { ipfs_cid: own.ipfs_cid } : {}),
      ...(own.ipfs_chunks_cid ? { ipfs_chunks_cid: own.ipfs_chunks_cid } : {}),
      ...(own.btih ? { btih: own.btih } : {}),
      ...(own.magnet ? { magnet: own.magnet } : {}),
      ...(own.sources ? { sources: own.sources } : {}),
    },
  };
}

/**
 * Which kept encoded files (store/encoded.ts) to remove: those that decode to a release older than
 * the `keep` newest the targets list for its platform (the keep-N of installed versions: a peer
 * wants patches to recent releases), and those the targets still name while no longer listing
 * the package they decode to. A file whose release the targets do not list yet (metadata older
 * than the file) is left alone.
 */
export function encodedToPrune(kept: readonly string[], targets: Metadata<Targets>, keep: number): string[] {
  const packages = new Map(listPackages(targets).map((p) => [p.path, p]));
  const decodesTo = new Map(listEncoded(targets).map((e) => [e.path, e.custom.to]));
  const newest = new Map<string, Set<string>>();
  for (const p of packages.values()) {
    const vs = newest.get(p.custom.platform) ?? new Set<string>();
    newest.set(p.custom.platform, vs.add(p.custom.version));
  }
  const window = new Map(
    [...newest].map(([platform, vs]) => [
      platform,
      new Set([...vs].sort((a, b) => compareVersions(b, a)).slice(0, Math.max(1, keep))),
    ]),
  );
  return kept.filter((name) => {
    const to = packages.get(decodesTo.get(name) ?? encodedBase(name) ?? '');
    if (!to) return Object.hasOwn(targets.signed.targets, name);
    return !window.get(to.custom.platform)?.has(to.custom.version);
  });
}
