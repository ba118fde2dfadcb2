/**
 * The TUF bundle inside a VersionAnnouncement (exact bytes of timestamp, snapshot, targets and any
 * newer roots, base64) as a MetadataFetcher, so the ordinary TUF client update (trust/updater.ts)
 * checks an announcement exactly as it checks a mirror. `verifyBundle` runs that update against
 * an in-memory copy of the node's trusted state: nothing is persisted until the release is
 * accepted, and a bundle that fails leaves the node's trust untouched.
 */
import { DchatError } from '../../errors.ts';
import type { TufBundle } from '../../model/announcement.ts';
import { parseMetadata, type RoleName } from '../../trust/metadata.ts';
import type { TrustedSet } from '../../trust/trusted-set.ts';
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
export type TrustSnapshot = Partial<Record<RoleName, Uint8Array>>;

export class MemoryTrustStore implements TrustStore {
  readonly docs: TrustSnapshot;
  constructor(initial: TrustSnapshot) {
    this.docs = { ...initial };
  }
  async load(role: RoleName): Promise<Uint8Array | undefined> {
    return this.docs[role];
  }
  async save(role: RoleName, bytes: Uint8Array): Promise<void> {
    this.docs[role] = bytes;
  }
  async remove(role: RoleName): Promise<void> {
    delete this.docs[role];
  }
}

export async function snapshotOf(store: TrustStore): Promise<TrustSnapshot> {
  const out: TrustSnapshot = {};
  for (const r of ROLES) {
    const b = await store.load(r);
    if (b) out[r] = b;
  }
  return out;
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

/** The bundle a node announces: its trusted timestamp, snapshot, targets (and its root if rotated). */
export function bundleFrom(docs: TrustSnapshot): TufBundle {
  const { timestamp, snapshot, targets, root } = docs;
  if (!timestamp || !snapshot || !targets)
    throw new DchatError('E_NOT_INITIALIZED', 'no trusted release metadata to announce');
  const roots: string[] = [];
  if (root) {
    const v = parseMetadata('root', root).signed.version;
    if (v > 1) roots.push(Buffer.from(root).toString('base64'));
  }
  return {
    roots,
    timestamp: Buffer.from(timestamp).toString('base64'),
    snapshot: Buffer.from(snapshot).toString('base64'),
    targets: Buffer.from(targets).toString('base64'),
  };
}
