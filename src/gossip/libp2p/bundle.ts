/**
 * The TUF bundle inside a VersionAnnouncement (exact bytes of timestamp, snapshot, targets and the
 * chain of roots after v1, base64) as a MetadataFetcher, so the ordinary TUF client update
 * (trust/updater.ts) checks an announcement exactly as it checks a mirror. `verifyBundle` runs that
 * update against an in-memory copy of the node's trusted state: nothing is persisted until the
 * release is accepted, and a bundle that fails leaves the node's trust untouched.
 *
 * Roots: a receiver pinned to root N follows N+1, N+2... to the sender's root, so a bundle carries
 * the sender's chain from v2 up (the newest MAX_BUNDLED_ROOTS of it), each link checked by the
 * sender before it is sent (a stale or foreign root kept on disk would make honest announcements
 * look forged) and again by the receiver's TUF update.
 */
import { DchatError } from '../../errors.ts';
import { MAX_BUNDLED_ROOTS, type TufBundle } from '../../model/announcement.ts';
import { MemoryTrustStore } from '../../trust/memory-store.ts';
import { parseMetadata, type RoleName } from '../../trust/metadata.ts';
import { TrustedSet } from '../../trust/trusted-set.ts';
import { type MetadataFetcher, type TrustStore, updateTrust } from '../../trust/updater.ts';

const ROLES: readonly RoleName[] = ['root', 'timestamp', 'snapshot', 'targets'];

/** Serves the bundle's documents under the names the TUF client asks for (404 for the rest). */
export class BundleFetcher implements MetadataFetcher {
  private readonly roots = new Map<number, Uint8Array>();
  private readonly timestamp: Uint8Array;
  private readonly snapshot: Uint8Array;
  private readonly targets: Uint8Array;

  constructor(bundle: TufBundle) {
    for (const b64 of bundle.roots) {
      const bytes = Buffer.from(b64, 'base64');
      // Only its version is read here; signatures are checked by the update like any root's.
      const v = versionOf(bytes);
      if (v !== undefined) this.roots.set(v, bytes);
    }
    this.timestamp = Buffer.from(bundle.timestamp, 'base64');
    this.snapshot = Buffer.from(bundle.snapshot, 'base64');
    this.targets = Buffer.from(bundle.targets, 'base64');
  }

  async fetch(name: string, maxBytes: number): Promise<Uint8Array | undefined> {
    let bytes: Uint8Array | undefined;
    const m = /^(\d{1,12})\.(root|snapshot|targets)\.json$/.exec(name);
    if (name === 'timestamp.json') bytes = this.timestamp;
    else if (m?.[2] === 'root') bytes = this.roots.get(Number(m[1]));
    else if (m?.[2] === 'snapshot')
      bytes = versionOf(this.snapshot) === Number(m[1]) ? this.snapshot : undefined;
    else if (m?.[2] === 'targets')
      bytes = versionOf(this.targets) === Number(m[1]) ? this.targets : undefined;
    if (bytes && bytes.byteLength > maxBytes)
      throw new DchatError('E_TOO_LARGE', `bundled ${name} is ${bytes.byteLength} bytes, over ${maxBytes}`);
    return bytes;
  }
}

function versionOf(bytes: Uint8Array): number | undefined {
  try {
    const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as { signed?: { version?: unknown } };
    const v = doc.signed?.version;
    return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Trusted metadata bytes by role, held in memory (a copy of the node's trust store). */
export interface TrustSnapshot extends Partial<Record<RoleName, Uint8Array>> {
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

/** Kept here for the callers that import it with the bundle code. */
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
  | { ok: true; trusted: TrustedSet; docs: TrustSnapshot; unchanged: boolean }
  | { ok: false; error: DchatError };

/**
 * The announcement check: the TUF client update over the bundle against `current` (the node's
 * trusted state), and the claimed version must be a target of the verified targets (optionally
 * for `platform`). Never throws: the verdict carries the stable error code.
 */
export async function verifyBundle(
  current: TrustSnapshot,
  bundle: TufBundle,
  claim: { version: string; platform?: string | undefined },
  now: Date,
): Promise<BundleVerdict> {
  try {
    const mem = new MemoryTrustStore(current);
    const r = await updateTrust(mem, new BundleFetcher(bundle), now);
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
    return { ok: true, trusted: r.trusted, docs: mem.docs, unchanged: r.unchanged };
  } catch (err) {
    const e =
      err instanceof DchatError
        ? err
        : new DchatError('E_MALFORMED', `bundle: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    return { ok: false, error: e };
  }
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
