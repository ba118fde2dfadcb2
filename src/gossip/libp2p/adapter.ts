/**
 * The libp2p adapter of the gossip core (quinn's pump, STYLE.md section 4): it feeds the pure
 * GossipNode with connections, bytes and time, and performs the actions it drains.
 *
 * Division of labour with gossipsub:
 *  - Announcements travel on the gossipsub topic /dchat/announce/1 (mesh, IHAVE/IWANT, scoring:
 *    gossipsub's job on a real network). The core's own mesh control (GRAFT, PRUNE, IHAVE,
 *    IWANT) and its per-peer `announce` sends are therefore not put on the wire here.
 *  - Hops: gossipsub forwards messages unchanged, so it cannot count a TTL. Our topic validator
 *    answers IGNORE to every valid announcement (gossipsub never forwards it) and REJECT to every
 *    invalid one (gossipsub's P4 penalty, then graylisting). When the core accepts a release it
 *    received with ttl t, the node publishes one copy of its own with ttl t-1 (t >= 1), deduped by
 *    announcement id: the core's hop rule on top of gossipsub's mesh.
 *  - Anti-entropy and mirror sharing (HELLO with digest and mirrors on connect, periodic DIGEST,
 *    WANT and BUNDLE answers, MIRRORS) go peer to peer on /dchat/digest/1.
 *
 * Validation order (nothing is relayed before it passed): size cap and per-peer verification
 * budget -> decode with the core's schemas -> replay of a version at or below the highest
 * trusted one (ignored, not penalised) -> the TUF client update (trust/updater.ts) over the
 * announcement's bundle against an in-memory copy of the node's trusted state, and the claimed
 * version must be among the verified targets -> the core (dedupe, rate limit, graylist, scoring)
 * with that verdict. Trust is persisted only for releases the core accepted.
 */
import { randomUUID } from 'node:crypto';
import type { GossipSub, Message } from '@libp2p/gossipsub';
import { TopicValidatorResult } from '@libp2p/gossipsub';
import type { PeerId, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { DchatError } from '../../errors.ts';
import { ANNOUNCE_FORMAT, type VersionAnnouncement } from '../../model/announcement.ts';
import type { DownloadSource } from '../../model/download-source.ts';
import { compareVersions } from '../../model/version.ts';
import type { TrustedSet } from '../../trust/trusted-set.ts';
import { type TrustStore, updateTrust } from '../../trust/updater.ts';
import {
  decodeGossipMessage,
  encodeGossipMessage,
  GOSSIP_FORMAT,
  type GossipAction,
  type GossipConfig,
  type GossipMessage,
  GossipNode,
  type GossipStats,
  type ValidationResult,
} from '../core/index.ts';
import { BundleFetcher, bundleFrom, snapshotOf, type TrustSnapshot, verifyBundle } from './bundle.ts';
import type { ProtocolHost } from './rpc.ts';
import { PeerBuckets } from './token-bucket.ts';
import { ANNOUNCE_TOPIC, DIGEST_PROTOCOL } from './topics.ts';

/** What the adapter needs of a libp2p node (narrow, so it can be wired and tested plainly). */
export interface GossipHost extends ProtocolHost {
  peerId: PeerId;
  pubsub: GossipSub;
  hangUp(peer: PeerId): Promise<void>;
  addEventListener(type: 'peer:connect' | 'peer:disconnect', fn: (e: CustomEvent<PeerId>) => void): void;
  removeEventListener(type: 'peer:connect' | 'peer:disconnect', fn: (e: CustomEvent<PeerId>) => void): void;
  getPeers(): PeerId[];
}

/** Peers the node refuses (connection gater) until their ban ends. */
export class BanList {
  private readonly until = new Map<string, number>();
  ban(peer: string, untilMs: number): void {
    this.until.set(peer, untilMs);
    if (this.until.size > 4096) this.until.delete(this.until.keys().next().value as string);
  }
  isBanned(peer: string, now = Date.now()): boolean {
    const u = this.until.get(peer);
    if (u === undefined) return false;
    if (u > now) return true;
    this.until.delete(peer);
    return false;
  }
  list(now = Date.now()): string[] {
    return [...this.until.entries()].filter(([, u]) => u > now).map(([p]) => p);
  }
}

export interface AcceptedRelease {
  announcement: VersionAnnouncement;
  from: string | undefined;
  via: 'push' | 'sync' | 'local';
  trusted: TrustedSet | undefined;
}

export interface GossipServiceInit {
  trustStore: TrustStore;
  bans: BanList;
  config?: Partial<GossipConfig>;
  mirrors?: readonly DownloadSource[];
  /** Hops put on announcements this node originates (default: the core's maxTtl). */
  defaultTtl?: number;
  /** Announcement verifications (TUF updates) one peer may trigger per second, and in a burst. */
  verifyPerSec?: number;
  verifyBurst?: number;
  now?: () => number;
  /** Reference time of expiry decisions (the CLI's clock, DCHAT_FAKE_NOW in tests); default: now. */
  trustClock?: () => Date;
  onAccepted?: (r: AcceptedRelease) => void;
  onLog?: (level: 'debug' | 'info' | 'warn', msg: string, data?: Record<string, unknown>) => void;
  /** Where this node can be reached, put in its announcements as a Peer source. */
  selfAddrs?: () => string[];
}

/** What the adapter counts beyond the core's own stats. */
export interface AdapterStats {
  /** Announcements dropped as forged, untrusted-key, tampered or otherwise invalid (REJECT). */
  forgedAnnouncements: number;
  /** Announcements of a version at or below the highest trusted one (IGNORE, no penalty). */
  replaysIgnored: number;
  /** Verifications refused by the per-peer budget. */
  verifyRateLimited: number;
  /** Messages on the announce topic that are not announcements, or not decodable (REJECT). */
  badTopicMessages: number;
  published: number;
  /** Releases the core accepted, by how they came: gossip push, anti-entropy sync, our own. */
  acceptedVia: { push: number; sync: number; local: number };
  directSent: number;
  directReceived: number;
  /** Peers disconnected and banned for their score. */
  refusedPeers: number;
  /** Per peer: messages of theirs that were rejected. */
  rejectedBy: Record<string, number>;
}

type Outcome = 'accepted' | 'rejected' | 'ignored';

const MAX_VERDICTS = 1024;

export class GossipService {
  readonly core: GossipNode<string>;
  readonly stats: AdapterStats = {
    forgedAnnouncements: 0,
    replaysIgnored: 0,
    verifyRateLimited: 0,
    badTopicMessages: 0,
    published: 0,
    acceptedVia: { push: 0, sync: 0, local: 0 },
    directSent: 0,
    directReceived: 0,
    refusedPeers: 0,
    rejectedBy: {},
  };
  private readonly host: GossipHost;
  private readonly init: GossipServiceInit;
  private readonly now: () => number;
  private readonly peerIds = new Map<string, PeerId>();
  /** Verdicts of the TUF check, by announcement id, tied to the exact content checked. */
  private readonly verdicts = new Map<string, { key: string; result: ValidationResult }>();
  /** Trusted state each accepted bundle leads to (persisted when the core accepts it). */
  private docs: TrustSnapshot = {};
  private trustedHighest: string | undefined;
  private readonly published = new Set<string>();
  /** Releases held for digests and WANT only (adopted at start): never pushed by this node. */
  private readonly quiet = new Set<string>();
  private readonly verifyBuckets: PeerBuckets;
  private timer: NodeJS.Timeout | undefined;
  private persistChain: Promise<unknown> = Promise.resolve();
  private running = false;
  private readonly onConnect = (e: CustomEvent<PeerId>) => this.peerConnected(e.detail);
  private readonly onDisconnect = (e: CustomEvent<PeerId>) => this.peerDisconnected(e.detail);

  constructor(host: GossipHost, init: GossipServiceInit) {
    this.host = host;
    this.init = init;
    this.now = init.now ?? Date.now;
    this.core = new GossipNode<string>({
      now: this.now(),
      validate: (a) => this.lookupVerdict(a),
      config: { seed: seedOf(host.peerId.toString()), ...init.config },
      mirrors: init.mirrors ?? [],
    });
    const perSec = init.verifyPerSec ?? 5;
    this.verifyBuckets = new PeerBuckets({
      requestsPerSec: perSec,
      requestBurst: init.verifyBurst ?? 20,
      bytesPerSec: Number.MAX_SAFE_INTEGER,
      byteBurst: Number.MAX_SAFE_INTEGER,
    });
  }

  get coreStats(): GossipStats {
    return this.core.stats;
  }

  get highestTrusted(): string | undefined {
    return this.trustedHighest;
  }

  // ---- lifecycle (Startable) ----------------------------------------------------------------

  async start(): Promise<void> {
    this.docs = await snapshotOf(this.init.trustStore);
    this.trustedHighest = highestVersionOf(this.docs);
    const ps = this.host.pubsub;
    ps.topicValidators.set(ANNOUNCE_TOPIC, (peer, msg) => this.validateTopic(peer, msg));
    ps.subscribe(ANNOUNCE_TOPIC);
    await this.host.handle(DIGEST_PROTOCOL, (stream, conn) => this.onDirect(stream, conn.remotePeer), {
      maxInboundStreams: 16,
      maxOutboundStreams: 32,
    });
    this.host.addEventListener('peer:connect', this.onConnect);
    this.host.addEventListener('peer:disconnect', this.onDisconnect);
    this.running = true;
    for (const p of this.host.getPeers()) this.peerConnected(p);
    this.pump();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.host.removeEventListener('peer:connect', this.onConnect);
    this.host.removeEventListener('peer:disconnect', this.onDisconnect);
    this.host.pubsub.topicValidators.delete(ANNOUNCE_TOPIC);
    await this.host.unhandle(DIGEST_PROTOCOL).catch(() => {});
    await this.persistChain.catch(() => {});
  }

  // ---- inputs -------------------------------------------------------------------------------

  private peerConnected(peer: PeerId): void {
    const id = peer.toString();
    if (this.init.bans.isBanned(id, this.now())) {
      void this.host.hangUp(peer).catch(() => {});
      return;
    }
    this.peerIds.set(id, peer);
    this.core.connected(this.now(), id);
    this.pump();
  }

  private peerDisconnected(peer: PeerId): void {
    const id = peer.toString();
    this.core.disconnected(this.now(), id);
    this.peerIds.delete(id);
    this.pump();
  }

  /** gossipsub topic validator: see the file comment for the order of checks. */
  private async validateTopic(peer: PeerId, msg: Message): Promise<TopicValidatorResult> {
    const outcome = await this.ingest(peer, msg.data, 'topic');
    if (outcome === 'rejected') return TopicValidatorResult.Reject;
    return TopicValidatorResult.Ignore;
  }

  private async onDirect(stream: Stream, peer: PeerId): Promise<void> {
    const cap = this.core.config.maxMessageBytes;
    try {
      const lp = lpStream(stream, { maxDataLength: cap * 2 });
      const frame = await lp.read({ signal: AbortSignal.timeout(10_000) });
      await stream.close().catch(() => {});
      this.stats.directReceived++;
      await this.ingest(peer, frame.subarray(), 'direct');
    } catch {
      // A broken or oversized stream: dropped; the core never saw bytes to judge.
      stream.abort(new Error('bad digest stream'));
    }
  }

  /**
   * One message from `peer`: pre-checks and the async TUF verification, then the core. Returns
   * what became of it, for the topic validator's verdict. Never throws.
   */
  private async ingest(peerId: PeerId, bytes: Uint8Array, via: 'topic' | 'direct'): Promise<Outcome> {
    const peer = peerId.toString();
    if (!this.running) return 'ignored';
    if (this.init.bans.isBanned(peer, this.now())) return 'rejected';
    if (!this.peerIds.has(peer)) {
      this.peerIds.set(peer, peerId);
      this.core.connected(this.now(), peer);
    }
    let announcement: VersionAnnouncement | undefined;
    if (bytes.byteLength <= this.core.config.maxMessageBytes) {
      const decoded = decodeGossipMessage(bytes, this.core.config.maxMessageBytes);
      if (decoded.ok) {
        const m = decoded.message;
        if (m.type === 'announce' || m.type === 'bundle') announcement = m.announcement;
        if (via === 'topic' && m.type !== 'announce') {
          this.stats.badTopicMessages++;
          this.countRejected(peer);
          return 'rejected';
        }
      }
    }
    if (announcement && !this.holds(announcement.id)) {
      const a = announcement;
      if (this.trustedHighest !== undefined && compareVersions(a.version, this.trustedHighest) <= 0) {
        this.stats.replaysIgnored++;
        return 'ignored';
      }
      const key = contentKey(a);
      const known = this.verdicts.get(a.id);
      if (!known || known.key !== key) {
        if (!this.verifyBuckets.admit(peer, this.now(), 0)) {
          this.stats.verifyRateLimited++;
          return 'ignored';
        }
        const v = await verifyBundle(
          this.docs,
          a.metadata,
          { version: a.version, platform: a.platform },
          this.trustNow(),
        );
        const result: ValidationResult = v.ok
          ? { ok: true }
          : { ok: false, code: v.error.code, reason: v.error.message };
        if (!v.ok)
          this.log('debug', 'announcement failed verification', { peer, id: a.id, code: v.error.code });
        this.remember(a.id, key, result);
      }
    }
    const actions = this.feed(() => this.core.receiveBytes(this.now(), peer, bytes));
    let outcome: Outcome = 'ignored';
    for (const act of actions) {
      if (act.type === 'accepted' && announcement && act.announcement.id === announcement.id)
        outcome = 'accepted';
      if (act.type === 'rejected' && act.from === peer) {
        outcome = 'rejected';
        if (act.reason === 'invalid' && announcement) this.stats.forgedAnnouncements++;
      }
    }
    if (via === 'topic' && outcome === 'ignored' && !this.decodable(bytes)) outcome = 'rejected';
    return outcome;
  }

  private decodable(bytes: Uint8Array): boolean {
    return decodeGossipMessage(bytes, this.core.config.maxMessageBytes).ok;
  }

  private holds(id: string): boolean {
    return this.core.heldReleases().some((a) => a.id === id);
  }

  private remember(id: string, key: string, result: ValidationResult): void {
    this.verdicts.delete(id);
    this.verdicts.set(id, { key, result });
    if (this.verdicts.size > MAX_VERDICTS) this.verdicts.delete(this.verdicts.keys().next().value as string);
  }

  /** The core's synchronous validator: the verdict computed just before, for this exact content. */
  private lookupVerdict(a: VersionAnnouncement): ValidationResult {
    const v = this.verdicts.get(a.id);
    if (v && v.key === contentKey(a)) return v.result;
    return { ok: false, code: 'E_INTERNAL', reason: 'announcement reached the core unverified' };
  }

  // ---- outputs ------------------------------------------------------------------------------

  /** Runs `input` on the core, performs every action it queued, and returns them. */
  private feed(input: () => void): GossipAction<string>[] {
    input();
    const actions = this.core.drain();
    for (const a of actions) this.perform(a);
    this.schedule();
    return actions;
  }

  private pump(): void {
    this.feed(() => {});
  }

  private schedule(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    const due = this.core.pollTimeout();
    if (!Number.isFinite(due)) return;
    const delay = Math.max(0, Math.min(60_000, due - this.now()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.running) return;
      this.feed(() => this.core.timeout(this.now()));
    }, delay);
    this.timer.unref();
  }

  private perform(a: GossipAction<string>): void {
    switch (a.type) {
      case 'send':
        this.send(a.to, a.message);
        return;
      case 'accepted':
        this.onAccepted(a.announcement, a.from, a.via);
        return;
      case 'rejected':
        this.countRejected(a.from);
        return;
      case 'disconnect': {
        this.stats.refusedPeers++;
        this.init.bans.ban(a.peer, this.now() + this.core.config.banMs);
        const pid = this.peerIds.get(a.peer);
        this.log('info', 'disconnecting misbehaving peer', { peer: a.peer, reason: a.reason });
        if (pid) void this.host.hangUp(pid).catch(() => {});
        return;
      }
      case 'mirrors-changed':
        return;
    }
  }

  private countRejected(peer: string): void {
    const r = this.stats.rejectedBy;
    if (r[peer] !== undefined || Object.keys(r).length < 1024) r[peer] = (r[peer] ?? 0) + 1;
  }

  private send(to: string, message: GossipMessage): void {
    // gossipsub carries announcements and does its own mesh upkeep (see the file comment).
    switch (message.type) {
      case 'announce':
      case 'graft':
      case 'prune':
      case 'ihave':
      case 'iwant':
        return;
    }
    const peer = this.peerIds.get(to);
    if (!peer) return;
    let bytes: Uint8Array;
    try {
      bytes = encodeGossipMessage(message, this.core.config.maxMessageBytes);
    } catch (err) {
      this.log('warn', 'message too large to send', { type: message.type, error: (err as Error).message });
      return;
    }
    this.stats.directSent++;
    void (async () => {
      const signal = AbortSignal.timeout(10_000);
      let stream: Stream | undefined;
      try {
        stream = await this.host.dialProtocol(peer, DIGEST_PROTOCOL, { signal });
        const lp = lpStream(stream, { maxDataLength: bytes.byteLength });
        await lp.write(bytes, { signal });
        await stream.close({ signal });
      } catch (err) {
        stream?.abort(err instanceof Error ? err : new Error(String(err)));
        this.log('debug', 'direct send failed', { to, type: message.type, error: (err as Error)?.message });
      }
    })();
  }

  private onAccepted(a: VersionAnnouncement, from: string | undefined, via: 'push' | 'sync' | 'local'): void {
    this.stats.acceptedVia[via]++;
    const maxTtl = this.core.config.maxTtl;
    const relayTtl = via === 'local' ? Math.min(a.ttl, maxTtl) : Math.min(a.ttl, maxTtl) - 1;
    if (relayTtl >= 0 && !this.quiet.has(a.id)) this.publish({ ...a, ttl: relayTtl });
    if (via === 'local') {
      this.init.onAccepted?.({ announcement: a, from, via, trusted: undefined });
      return;
    }
    // Persist what was verified: the same TUF update, now against the store on disk, in order.
    this.persistChain = this.persistChain.then(async () => {
      try {
        const r = await updateTrust(this.init.trustStore, new BundleFetcher(a.metadata), this.trustNow());
        this.docs = await snapshotOf(this.init.trustStore);
        this.trustedHighest = highestVersionOf(this.docs);
        this.log('info', 'release accepted', { version: a.version, id: a.id, from, via });
        this.init.onAccepted?.({ announcement: a, from, via, trusted: r.trusted });
      } catch (err) {
        this.log('warn', 'could not persist an accepted release', {
          id: a.id,
          error: (err as Error).message,
        });
      }
    });
  }

  private publish(a: VersionAnnouncement): void {
    // One copy per announcement id from this node, whatever number of copies it received.
    if (this.published.has(a.id)) return;
    this.published.add(a.id);
    if (this.published.size > 4096) this.published.delete(this.published.values().next().value as string);
    this.publishRaw(a);
  }

  private publishRaw(a: VersionAnnouncement): void {
    let bytes: Uint8Array;
    try {
      bytes = encodeGossipMessage(
        { format: GOSSIP_FORMAT, type: 'announce', announcement: a },
        this.core.config.maxMessageBytes,
      );
    } catch (err) {
      this.log('warn', 'announcement too large to publish', { error: (err as Error).message });
      return;
    }
    this.stats.published++;
    this.host.pubsub.publish(ANNOUNCE_TOPIC, bytes).catch((err: Error) => {
      this.log('debug', 'publish failed', { error: err.message });
    });
  }

  // ---- local operations ---------------------------------------------------------------------

  /** A new announcement of `version` from this node's trusted metadata. */
  makeAnnouncement(version: string, ttl: number, platform?: string): VersionAnnouncement {
    const now = this.trustNow().toISOString();
    const sources: DownloadSource[] = (this.init.selfAddrs?.() ?? []).slice(0, 1).map((uri) => ({
      id: randomUUID(),
      source_type: 'Peer',
      uri,
      priority: 30,
      failure_count: 0,
      origin: 'configured',
    }));
    const a: VersionAnnouncement = {
      format: ANNOUNCE_FORMAT,
      id: randomUUID(),
      node_id: this.host.peerId.toString(),
      version,
      metadata: bundleFrom(this.docs),
      sources,
      timestamp: now,
      ttl,
    };
    if (platform) a.platform = platform;
    return a;
  }

  /**
   * Holds the node's highest trusted release for digests and WANT answers without pushing it
   * (a node that restarts, or got a release from a mirror, can serve late joiners at once).
   */
  async adoptTrusted(): Promise<VersionAnnouncement | undefined> {
    const version = this.trustedHighest;
    if (!version || this.core.heldReleases().some((h) => h.version === version)) return undefined;
    const a = this.makeAnnouncement(version, 0);
    const r = await this.localPublish(a, true);
    return r.ok ? a : undefined;
  }

  /**
   * Announces `version` (default: the highest trusted) with `ttl` hops. If this node already
   * holds an announcement of it, that one is pushed (same id, so copies coming back dedupe).
   */
  async announce(version?: string, ttl?: number): Promise<{ id: string; version: string; ttl: number }> {
    const v = version ?? this.trustedHighest;
    const hops = Math.min(ttl ?? this.init.defaultTtl ?? this.core.config.maxTtl, this.core.config.maxTtl);
    if (!v) throw new DchatError('E_NOT_FOUND', 'no trusted release to announce');
    const held = this.core.heldReleases().find((h) => h.version === v);
    if (held) {
      this.quiet.delete(held.id);
      this.published.add(held.id);
      this.publishRaw({ ...held, ttl: hops });
      return { id: held.id, version: v, ttl: hops };
    }
    const a = this.makeAnnouncement(v, hops);
    const r = await this.localPublish(a, false);
    if (!r.ok) throw new DchatError(r.code, r.reason ?? 'announcement refused');
    return { id: a.id, version: v, ttl: hops };
  }

  private async localPublish(a: VersionAnnouncement, quiet: boolean): Promise<ValidationResult> {
    const v = await verifyBundle(
      this.docs,
      a.metadata,
      { version: a.version, platform: a.platform },
      this.trustNow(),
    );
    this.remember(
      a.id,
      contentKey(a),
      v.ok ? { ok: true } : { ok: false, code: v.error.code, reason: v.error.message },
    );
    if (quiet) this.quiet.add(a.id);
    let result: ValidationResult = { ok: false, code: 'E_INTERNAL' };
    this.feed(() => {
      result = this.core.publish(this.now(), a);
    });
    return result;
  }

  /** The download engine (or the node's loop) found a bad chunk from `peer`. */
  badChunk(peer: string): void {
    this.feed(() => this.core.badChunk(this.now(), peer));
  }

  peerScore(peer: string): number {
    return this.core.peerScore(peer, this.now()) ?? 0;
  }

  /** The node's current trusted metadata (what it announces and serves to peers). */
  trustedDocs(): TrustSnapshot {
    return this.docs;
  }

  /** Trust changed by another path (e.g. a mirror update): reload the in-memory copy. */
  async reloadTrust(): Promise<void> {
    this.docs = await snapshotOf(this.init.trustStore);
    this.trustedHighest = highestVersionOf(this.docs);
  }

  private trustNow(): Date {
    return this.init.trustClock?.() ?? new Date(this.now());
  }

  private log(level: 'debug' | 'info' | 'warn', msg: string, data?: Record<string, unknown>): void {
    this.init.onLog?.(level, msg, data);
  }
}

/** Identity of an announcement's signed content (the id alone can be reused by a forger). */
function contentKey(a: VersionAnnouncement): string {
  const m = a.metadata;
  return `${a.version}|${a.platform ?? ''}|${m.timestamp}|${m.snapshot}|${m.targets}|${m.roots.join(',')}`;
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

/** A per-node seed for the core's random choices (mesh, gossip targets, jitter). */
function seedOf(peerId: string): number {
  let h = 2166136261;
  for (let i = 0; i < peerId.length; i++) h = Math.imul(h ^ peerId.charCodeAt(i), 16777619);
  return h >>> 0;
}
