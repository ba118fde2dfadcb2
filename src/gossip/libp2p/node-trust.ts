/**
 * The node's trusted TUF state as the gossip adapter uses it: an in-memory copy of the trust
 * store, the synchronous announcement check over it (the core's validator), and the persistence
 * of exactly what a check verified once the core accepts the release (written in order, not
 * verified again). Trust changed by another path (a mirror refresh) is picked up by `load`.
 */
import { randomUUID } from 'node:crypto';
import { ANNOUNCE_FORMAT, MAX_BUNDLED_ROOTS, type VersionAnnouncement } from '../../model/announcement.ts';
import type { DownloadSource } from '../../model/download-source.ts';
import { defaultPriority } from '../../model/source-kind.ts';
import { compareVersions } from '../../model/version.ts';
import { applyBundle } from '../../trust/apply-bundle.ts';
import type { TrustDocs, TrustStore } from '../../trust/updater.ts';
import { encodeGossipMessage, GOSSIP_FORMAT, type ValidationResult } from '../core/index.ts';
import {
  type BundleVerdict,
  bundleFrom,
  type RootHistory,
  snapshotOf,
  type TrustSnapshot,
  verifyBundleSync,
} from './bundle.ts';

export type VerifiedBundle = Extract<BundleVerdict, { ok: true }>;

export class NodeTrust {
  docs: TrustSnapshot = {};
  highest: string | undefined;
  private readonly store: TrustStore & Partial<RootHistory>;
  private readonly clock: () => Date;
  private chain: Promise<unknown> = Promise.resolve();
  private commits = 0;

  constructor(store: TrustStore & Partial<RootHistory>, clock: () => Date) {
    this.store = store;
    this.clock = clock;
  }

  /** The core's validator: the TUF update over the bundle, against the trusted state in memory. */
  readonly validate = (a: VersionAnnouncement): ValidationResult => {
    const v = verifyBundleSync(
      this.docs,
      a.metadata,
      { version: a.version, platform: a.platform },
      this.clock(),
    );
    return v.ok ? { ok: true, proof: v } : { ok: false, code: v.error.code, reason: v.error.message };
  };

  /**
   * An accepted release: what its check verified becomes the trusted state at once (the next
   * check runs against it) and is written to the store, after any earlier write, once, as one set
   * under the home's trust lock. If another writer (a CLI refresh) changed the store since the
   * check, the bundle is applied again to what is stored now and written only if it still moves
   * trust forward: the store never goes back to an older set.
   */
  commit(v: VerifiedBundle): Promise<void> {
    this.commits++;
    const base = this.docs;
    this.set(v.docs);
    const write = this.chain.then(() =>
      this.store.transact(async (current, commit) => {
        let next = v.docs;
        let roots = v.changes.filter((c) => c.role === 'root' && c.bytes).map((c) => c.bytes as Uint8Array);
        if (!sameSet(current, base)) {
          try {
            const again = applyBundle(current, bundleFrom(v.docs), this.clock());
            next = again.docs;
            roots = again.changes
              .filter((c) => c.role === 'root' && c.bytes)
              .map((c) => c.bytes as Uint8Array);
            if (again.unchanged && roots.length === 0) return;
          } catch {
            return; // what is stored now is newer (or diverged): keep it; `load` picks it up.
          }
        }
        const { previousRoots: _chain, ...set } = next as TrustSnapshot;
        await commit(set, roots);
      }),
    );
    this.chain = write.catch(() => {});
    return write;
  }

  /** Re-reads the store (after pending writes); a commit meanwhile makes it read again. */
  async load(): Promise<void> {
    for (;;) {
      const seen = this.commits;
      await this.chain;
      const docs = await snapshotOf(this.store);
      if (seen === this.commits) return this.set(docs);
    }
  }

  flush(): Promise<unknown> {
    return this.chain;
  }

  /**
   * A new announcement of `version` from the trusted state: the whole root chain if the message
   * fits the cap, else its newest part (the oldest roots matter only to nodes that far behind,
   * which a mirror serves).
   */
  announcement(o: {
    version: string;
    ttl: number;
    nodeId: string;
    addrs: readonly string[];
    maxBytes: number;
    platform?: string;
  }): VersionAnnouncement {
    const sources: DownloadSource[] = o.addrs.slice(0, 1).map((uri) => ({
      id: randomUUID(),
      source_type: 'Peer',
      uri,
      priority: defaultPriority('peer'),
      failure_count: 0,
      origin: 'configured',
    }));
    const a: VersionAnnouncement = {
      format: ANNOUNCE_FORMAT,
      id: randomUUID(),
      node_id: o.nodeId,
      version: o.version,
      metadata: bundleFrom(this.docs),
      sources,
      timestamp: this.clock().toISOString(),
      ttl: o.ttl,
    };
    if (o.platform) a.platform = o.platform;
    for (let n = MAX_BUNDLED_ROOTS; n > 0 && a.metadata.roots.length > 0 && !fits(a, o.maxBytes); n--)
      a.metadata = bundleFrom(this.docs, Math.min(n, a.metadata.roots.length) - 1);
    return a;
  }

  private set(docs: TrustSnapshot): void {
    this.docs = docs;
    this.highest = highestVersionOf(docs);
  }
}

function fits(a: VersionAnnouncement, maxBytes: number): boolean {
  try {
    encodeGossipMessage(
      { format: GOSSIP_FORMAT, type: 'announce', kind: 'release', announcement: a },
      maxBytes,
    );
    return true;
  } catch {
    return false;
  }
}

/** The highest release version among the trusted targets, if any. */
export function highestVersionOf(docs: TrustSnapshot): string | undefined {
  if (!docs.targets) return undefined;
  try {
    const doc = JSON.parse(Buffer.from(docs.targets).toString('utf8')) as {
      signed?: { targets?: Record<string, { custom?: { version?: unknown } }> };
    };
    let best: string | undefined;
    for (const t of Object.values(doc.signed?.targets ?? {})) {
      const v = t.custom?.version;
      if (typeof v !== 'string') continue;
      try {
        if (best === undefined || compareVersions(v, best) > 0) best = v;
      } catch {
        // Not SemVer: not a release we rank.
      }
    }
    return best;
  } catch {
    return undefined;
  }
}

/** Same documents, byte for byte, in the four roles. */
function sameSet(a: TrustDocs, b: TrustDocs): boolean {
  return (['root', 'timestamp', 'snapshot', 'targets'] as const).every((r) => {
    const x = a[r];
    const y = b[r];
    return x === y || (x !== undefined && y !== undefined && Buffer.from(x).equals(Buffer.from(y)));
  });
}
