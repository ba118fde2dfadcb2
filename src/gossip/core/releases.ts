import type { VersionAnnouncement } from '../../model/announcement.ts';
import { type Digest, MAX_DIGEST_ENTRIES } from './messages.ts';

const NOTHING: readonly string[] = Object.freeze([]);

export type CompareVersions = (a: string, b: string) => number;

/** An accepted release as the node keeps it for relaying, IWANT and WANT. */
export interface HeldRelease<P> {
  announcement: VersionAnnouncement;
  /** TTL put on every copy this node sends (received ttl - 1; the origin's own ttl). -1: never pushed. */
  relayTtl: number;
  acceptedAt: number;
  /** Peers known to hold it (they sent it, announced it, or were told by IHAVE): no IHAVE to them. */
  knownHave: Set<P>;
  /** Peers we sent the whole announcement to: each gets it at most once per connection, so IWANT
   * and WANT cannot be used to make us repeat large messages (an amplification attack). */
  sentTo: Set<P>;
  /** Peers we answered a WANT for (anti-entropy), likewise once per connection. */
  bundledTo: Set<P>;
  /** The copy we send (ttl = relayTtl), built once. */
  outgoing?: VersionAnnouncement;
}

/**
 * The releases a node has accepted, newest last, and the highest version it knows. Acceptance is
 * monotonic: only a version above `highest` is ever added, which is what makes replays of old
 * (or equal) releases harmless and keeps the digest a short list.
 */
export class ReleaseBook<P> {
  private readonly byId = new Map<string, HeldRelease<P>>();
  private readonly order: string[] = [];
  private readonly capacity: number;
  private readonly compare: CompareVersions;
  private highestVersion: string | undefined;
  private cachedDigest: Digest | undefined;

  constructor(capacity: number, compare: CompareVersions, initialHighest?: string) {
    this.capacity = Math.max(1, capacity);
    this.compare = compare;
    this.highestVersion = initialHighest;
  }

  get highest(): string | undefined {
    return this.highestVersion;
  }

  /** True if `version` is above everything known: only such a release can be accepted. */
  isNewer(version: string): boolean {
    return this.highestVersion === undefined || this.compare(version, this.highestVersion) > 0;
  }

  get(id: string): HeldRelease<P> | undefined {
    return this.byId.get(id);
  }

  /** Held releases, oldest first. */
  list(): HeldRelease<P>[] {
    return this.order.map((id) => this.byId.get(id) as HeldRelease<P>);
  }

  /** A peer left: forget what we knew about it, so after a reconnect it is served again. */
  forgetPeer(peer: P): void {
    for (const held of this.byId.values()) {
      held.knownHave.delete(peer);
      held.sentTo.delete(peer);
      held.bundledTo.delete(peer);
    }
  }

  add(announcement: VersionAnnouncement, relayTtl: number, now: number): HeldRelease<P> {
    const held: HeldRelease<P> = {
      announcement,
      relayTtl,
      acceptedAt: now,
      knownHave: new Set(),
      sentTo: new Set(),
      bundledTo: new Set(),
    };
    this.byId.set(announcement.id, held);
    this.order.push(announcement.id);
    if (this.isNewer(announcement.version)) this.highestVersion = announcement.version;
    while (this.order.length > this.capacity) this.byId.delete(this.order.shift() as string);
    this.cachedDigest = undefined;
    return held;
  }

  /** The newest held releases, newest first; shared (not copied) until the book changes. */
  digest(): Digest {
    if (!this.cachedDigest) {
      const releases: Digest['releases'] = [];
      for (let i = this.order.length - 1; i >= 0 && releases.length < MAX_DIGEST_ENTRIES; i--) {
        const a = (this.byId.get(this.order[i] as string) as HeldRelease<P>).announcement;
        releases.push({ id: a.id, version: a.version });
      }
      this.cachedDigest = { releases };
    }
    return this.cachedDigest;
  }

  /** Ids in a peer's digest that we would accept (newer than our highest), newest first. */
  missingFrom(d: Digest): readonly string[] {
    // Most digests (every HELLO of a quiet network) hold nothing new: answer without allocating.
    const first = d.releases[0];
    if (first === undefined || this.byId.has(first.id) || !this.isNewer(first.version)) return NOTHING;
    const out: string[] = [];
    for (const r of d.releases) if (!this.byId.has(r.id) && this.isNewer(r.version)) out.push(r.id);
    return out;
  }

  /** True if we hold something newer than anything in the peer's digest. */
  hasNewerThan(d: Digest): boolean {
    if (this.order.length === 0) return false;
    const newest = (this.byId.get(this.order[this.order.length - 1] as string) as HeldRelease<P>)
      .announcement;
    for (const r of d.releases) if (this.compare(r.version, newest.version) >= 0) return false;
    return true;
  }
}
