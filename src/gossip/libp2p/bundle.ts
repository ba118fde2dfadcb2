/**
 * The TUF bundle inside a VersionAnnouncement (exact bytes of timestamp, snapshot, targets and the
 * chain of roots after v1, base64) as a MetadataFetcher, so the ordinary TUF client update
 * (trust/update-steps.ts) checks an announcement exactly as it checks a mirror. `verifyBundleSync`
 * runs that update synchronously (trust/apply-bundle.ts) against an in-memory copy of the node's
 * trusted state: nothing is persisted until the release is accepted, and then exactly the
 * documents it verified are written, not verified again.
 *
 * Roots: a receiver pinned to root N follows N+1, N+2... to the sender's root, so a bundle carries
 * the sender's chain from v2 up (the newest MAX_BUNDLED_ROOTS of it), each link checked by the
 * sender before it is sent (a stale or foreign root kept on disk would make honest announcements
 * look forged) and again by the receiver's TUF update.
 */
import { DchatError } from '../../errors.ts';
import { MAX_BUNDLED_ROOTS, type TufBundle } from '../../model/announcement.ts';
import { applyBundle, bundleLookup, type TrustChange, type TrustDocs } from '../../trust/apply-bundle.ts';
import { MemoryTrustStore } from '../../trust/memory-store.ts';
import { parseMetadata, type RoleName } from '../../trust/metadata.ts';
import { TrustedSet } from '../../trust/trusted-set.ts';
import type { MetadataFetcher, TrustStore } from '../../trust/updater.ts';

const ROLES: readonly RoleName[] = ['root', 'timestamp', 'snapshot', 'targets'];

/** Serves the bundle's documents under the names the TUF client asks for (404 for the rest). */
export class BundleFetcher implements MetadataFetcher {
  private readonly lookup: ReturnType<typeof bundleLookup>;
  constructor(bundle: TufBundle) {
    this.lookup = bundleLookup(bundle);
  }
  async fetch(name: string, maxBytes: number): Promise<Uint8Array | undefined> {
    return this.lookup(name, maxBytes);
  }
}

/** Trusted metadata bytes by role, held in memory (a copy of the node's trust store). */
export interface TrustSnapshot extends TrustDocs {
  /**
   * Roots before the current one that a peer pinned to an older root needs, oldest first (v2 up
   * to the current version - 1, or the newest part of that chain), each link verified.
   */
  previousRoots?: Uint8Array[];
}

/** A trust store that also keeps every root it trusted by version (FileTrustStore does). */
export interface RootHistory {
  loadRoot(version: number): Promise<Uint8Array | undefined>;
}

/** Kept here for the callers that import it with the bundle code (trust/memory-store.ts). */
export { MemoryTrustStore };

export async function snapshotOf(store: TrustStore & Partial<RootHistory>): Promise<TrustSnapshot> {
  // One read of the whole set: a concurrent update cannot hand peers a mixed bundle.
  const set = await store.loadSet();
  const out: TrustSnapshot = {};
  for (const r of ROLES) {
    const b = set[r];
    if (b) out[r] = b;
  }
  const loadRoot = store.loadRoot?.bind(store);
  if (out.root && loadRoot) {
    const chain = await rootChainBelow(out.root, loadRoot);
    if (chain.length > 0) out.previousRoots = chain;
  }
  return out;
}

/**
 * The kept roots just below `current` (down to v2, at most MAX_BUNDLED_ROOTS - 1 of them), oldest
 * first, stopping at the first gap or at a root that does not sign its successor: only a chain
 * every receiver's TUF update would follow is handed out.
 */
export async function rootChainBelow(
  current: Uint8Array,
  load: (version: number) => Promise<Uint8Array | undefined>,
): Promise<Uint8Array[]> {
  let next: Uint8Array = current;
  let v: number;
  try {
    v = parseMetadata('root', current).signed.version;
  } catch {
    return [];
  }
  const chain: Uint8Array[] = [];
  const epoch = new Date(0);
  for (v = v - 1; v >= 2 && chain.length < MAX_BUNDLED_ROOTS - 1; v--) {
    const bytes = await load(v).catch(() => undefined);
    if (!bytes) break;
    try {
      // Expiry plays no part in following a chain (TUF 5.3): only signatures and versions.
      new TrustedSet(bytes, epoch).updateRoot(next);
    } catch {
      break;
    }
    chain.unshift(bytes);
    next = bytes;
  }
  return chain;
}

export type BundleVerdict =
  | {
      ok: true;
      trusted: TrustedSet;
      /** The trusted state after the update, root chain included. */
      docs: TrustSnapshot;
      /** Documents to persist, in order (see trust/apply-bundle.ts). */
      changes: TrustChange[];
      unchanged: boolean;
    }
  | { ok: false; error: DchatError };

/**
 * The announcement check, synchronous: the TUF client update over the bundle against `current`
 * (the node's trusted state, in memory), and the claimed version must be a target of the verified
 * targets (optionally for `platform`). Never throws: the verdict carries the stable error code.
 */
export function verifyBundleSync(
  current: TrustSnapshot,
  bundle: TufBundle,
  claim: { version: string; platform?: string | undefined },
  now: Date,
): BundleVerdict {
  try {
    const r = applyBundle(current, bundle, now);
    const targets = r.trusted.requireTargets().signed.targets;
    const found = Object.values(targets).some((t) => {
      const c = t.custom as { version?: unknown; platform?: unknown };
      return c.version === claim.version && (claim.platform === undefined || c.platform === claim.platform);
    });
    if (!found)
      throw new DchatError(
        'E_VERSION_MISMATCH',
        `the signed targets do not list version ${claim.version}${claim.platform ? ` for ${claim.platform}` : ''}`,
      );
    const docs: TrustSnapshot = { ...r.docs };
    const chain = rootChainAfter(current, r.changes);
    if (chain.length > 0) docs.previousRoots = chain;
    else delete docs.previousRoots;
    return { ok: true, trusted: r.trusted, docs, changes: r.changes, unchanged: r.unchanged };
  } catch (err) {
    const e =
      err instanceof DchatError
        ? err
        : new DchatError('E_MALFORMED', `bundle: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    return { ok: false, error: e };
  }
}

/** verifyBundleSync for callers that hold a promise-shaped port (kept for the async API). */
export async function verifyBundle(
  current: TrustSnapshot,
  bundle: TufBundle,
  claim: { version: string; platform?: string | undefined },
  now: Date,
): Promise<BundleVerdict> {
  return verifyBundleSync(current, bundle, claim, now);
}

/**
 * The roots below the current one after an update that saved `changes`: the chain kept before,
 * the old current root, and every root followed except the new current one (v2 up, the newest
 * MAX_BUNDLED_ROOTS - 1), each link already verified by the update.
 */
function rootChainAfter(before: TrustSnapshot, changes: readonly TrustChange[]): Uint8Array[] {
  const followed = changes.filter((c) => c.role === 'root' && c.bytes).map((c) => c.bytes as Uint8Array);
  const chain = [...(before.previousRoots ?? [])];
  if (followed.length > 0) {
    if (before.root) chain.push(before.root);
    chain.push(...followed.slice(0, -1));
  }
  const kept = chain.filter((b) => {
    try {
      return parseMetadata('root', b).signed.version >= 2;
    } catch {
      return false;
    }
  });
  return kept.slice(Math.max(0, kept.length - (MAX_BUNDLED_ROOTS - 1)));
}

/**
 * The bundle a node announces: its trusted timestamp, snapshot, targets, and its root chain from
 * v2 up to the current root (the newest `maxRoots` of it; v1 is what every receiver starts from).
 */
export function bundleFrom(docs: TrustSnapshot, maxRoots: number = MAX_BUNDLED_ROOTS): TufBundle {
  const { timestamp, snapshot, targets, root } = docs;
  if (!timestamp || !snapshot || !targets)
    throw new DchatError('E_NOT_INITIALIZED', 'no trusted release metadata to announce');
  const chain: Uint8Array[] = [];
  if (root && parseMetadata('root', root).signed.version > 1) chain.push(...(docs.previousRoots ?? []), root);
  const roots = chain
    .slice(Math.max(0, chain.length - Math.max(0, maxRoots)))
    .map((b) => Buffer.from(b).toString('base64'));
  return {
    roots,
    timestamp: Buffer.from(timestamp).toString('base64'),
    snapshot: Buffer.from(snapshot).toString('base64'),
    targets: Buffer.from(targets).toString('base64'),
  };
}
