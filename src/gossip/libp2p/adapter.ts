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
 * Validation order (nothing is relayed before it passed), cheapest first: ban list -> size cap
 * and one decode with the core's schemas -> replay of a version at or below the highest trusted
 * one (ignored, not penalised) -> the verdict already known for this exact signed content, if
 * any -> a sender the core graylists gets no verification at all -> per-peer verification budget
 * and a global cap on verifications in flight -> the TUF client update (trust/updater.ts) over
 * the announcement's bundle against an in-memory copy of the node's trusted state, and the claimed
 * version must be among the verified targets -> the core (dedupe, rate limit, graylist, scoring)
 * with that verdict. Trust is persisted only for releases the core accepted.
 *
 * Verdicts are kept by content (version, platform and the bundle's bytes), not by announcement id:
 * a forger re-sends the same forged bundle under fresh ids, and each copy is then known forged at
 * the cost of one hash. A copy the core does not judge (its sender is graylisted there) but whose
 * content is proven forged still gets REJECT, so gossipsub's invalid-message penalty (P4) keeps
 * counting and graylists the sender on the gossipsub side too.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { GossipSub, Message } from '@libp2p/gossipsub';
import { TopicValidatorResult } from '@libp2p/gossipsub';
import type { PeerId, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { DchatError, isSecurityCode } from '../../errors.ts';
import { ANNOUNCE_FORMAT, MAX_BUNDLED_ROOTS, type VersionAnnouncement } from '../../model/announcement.ts';
import type { DownloadSource } from '../../model/download-source.ts';
import { defaultPriority } from '../../model/source-kind.ts';
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
  /** Open connections to `peer`, with who dialled (libp2p Connection.direction). */
  getConnections(peer: PeerId): readonly { direction: 'inbound' | 'outbound' }[];
  /** Dials under way (libp2p getDialQueue), to recognise a simultaneous open. */
  getDialQueue(): readonly { peerId?: PeerId | undefined }[];
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
  /** The core's mirror list changed (a peer shared mirrors): every mirror, best first. */
  onMirrorsChanged?: (mirrors: DownloadSource[]) => void;
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
  /** Direct messages sent, by core message type (hello, digest, want, bundle, mirrors...). */
  directSentByType: Record<string, number>;
  /** Direct messages not sent because too many were in flight (anti-entropy repairs the loss). */
  directDropped: number;
  directReceived: number;
  /** Peers disconnected and banned for their score. */
  refusedPeers: number;
  /** Per peer: messages of theirs that were rejected. */
  rejectedBy: Record<string, number>;
}

type Outcome = 'accepted' | 'rejected' | 'ignored';

/** Verdicts kept (by content), how long one is trusted, and TUF checks run at once. */
const MAX_VERDICTS = 1024;
const VERDICT_TTL_MS = 60_000;
const MAX_VERIFICATIONS_IN_FLIGHT = 8;
/** Ids remembered as published by this node, and releases held without being pushed. */
const MAX_PUBLISHED_IDS = 4096;
const DIRECT_TIMEOUT_MS = 10_000;
const MAX_DIRECT_SENDS_IN_FLIGHT = 128;
/** Inbound direct messages read at once over all peers (each up to twice the message cap). */
const MAX_DIRECT_READS_IN_FLIGHT = 64;

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
    directSentByType: {},
    directDropped: 0,
    directReceived: 0,
    refusedPeers: 0,
    rejectedBy: {},
  };
  private readonly host: GossipHost;
  private readonly init: GossipServiceInit;
  private readonly now: () => number;
  private readonly peerIds = new Map<string, PeerId>();
  /** Verdicts of the TUF check by content digest (see contentDigest), least recently used first. */
  private readonly verdicts = new Map<string, { result: ValidationResult; at: number }>();
  /** TUF checks under way, by content digest: copies arriving meanwhile wait for the same one. */
  private readonly verifying = new Map<string, Promise<ValidationResult>>();
  /** The announcement being fed to the core right now, with its verdict (the core's validator). */
  private current: { a: VersionAnnouncement; result: ValidationResult } | undefined;
  private readonly digests = new WeakMap<VersionAnnouncement, string>();
  /** Bumped whenever the trusted state changes: verdicts computed against older state are dropped. */
  private trustEpoch = 0;
  /** Trusted state each accepted bundle leads to (persisted when the core accepts it). */
  private docs: TrustSnapshot = {};
  private trustedHighest: string | undefined;
  private readonly published = new Set<string>();
  /** Releases held for digests and WANT only (adopted at start): never pushed by this node. */
  private readonly quiet = new Set<string>();
  private readonly verifyBuckets: PeerBuckets;
  private timer: NodeJS.Timeout | undefined;
  private directInFlight = 0;
  private directReading = 0;
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
    await this.loadDocs();
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
    this.track(peer);
  }

  /**
   * Registers a connected peer with the core, telling it who dialled: only the dialer sends HELLO.
   * A dial of ours to the peer still under way means both sides dialled at once: both then count
   * as dialers and both send HELLO (the core's rule), rather than both waiting for the other.
   * False if the peer is banned (hung up) or no longer connected.
   */
  private track(peer: PeerId): boolean {
    const id = peer.toString();
    if (this.peerIds.has(id)) return true;
    if (this.init.bans.isBanned(id, this.now())) {
      void this.host.hangUp(peer).catch(() => {});
      return false;
    }
    const conns = this.host.getConnections(peer);
    if (conns.length === 0) return false;
    const dialled =
      conns.some((c) => c.direction === 'outbound') ||
      this.host.getDialQueue().some((d) => d.peerId?.toString() === id);
    this.peerIds.set(id, peer);
    this.feed(() => this.core.connected(this.now(), id, dialled ? 'outbound' : 'inbound'));
    return true;
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
    if (this.directReading >= MAX_DIRECT_READS_IN_FLIGHT) {
      stream.abort(new Error('busy'));
      return;
    }
    this.directReading++;
    try {
      // Up to twice the cap is read, so the core sees (and penalises) a frame just over it.
      const lp = lpStream(stream, { maxDataLength: cap * 2 });
      const frame = await lp.read({ signal: AbortSignal.timeout(DIRECT_TIMEOUT_MS) });
      await stream.close().catch(() => {});
      this.stats.directReceived++;
      await this.ingest(peer, frame.subarray(), 'direct');
    } catch {
      // A broken or oversized stream: dropped; the core never saw bytes to judge.
      stream.abort(new Error('bad digest stream'));
    } finally {
      this.directReading--;
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
    if (!this.track(peerId)) return 'ignored';
    const cap = this.core.config.maxMessageBytes;
    const decoded = bytes.byteLength <= cap ? decodeGossipMessage(bytes, cap) : undefined;
    const message = decoded?.ok ? decoded.message : undefined;
    if (via === 'topic' && message && message.type !== 'announce') {
      this.stats.badTopicMessages++;
      this.countRejected(peer);
      return 'rejected';
    }
    const a = message?.type === 'announce' || message?.type === 'bundle' ? message.announcement : undefined;
    let verdict: ValidationResult | undefined;
    if (a && !this.holds(a.id)) {
      if (this.trustedHighest !== undefined && compareVersions(a.version, this.trustedHighest) <= 0) {
        this.stats.replaysIgnored++;
        return 'ignored';
      }
      verdict = this.knownVerdict(a);
      // A sender the core graylists is not read by it: its message costs no verification.
      if (!verdict && !this.graylisted(peer)) {
        if (
          !this.verifyBuckets.admit(peer, this.now(), 0) ||
          (this.verifying.size >= MAX_VERIFICATIONS_IN_FLIGHT && !this.verifying.has(this.digestOf(a)))
        ) {
          this.stats.verifyRateLimited++;
          return 'ignored';
        }
        verdict = await this.check(a);
        if (!verdict.ok)
          this.log('debug', 'announcement failed verification', { peer, id: a.id, code: verdict.code });
      }
    }
    const now = this.now();
    const actions = message
      ? this.feedChecked(a, verdict, () => this.core.receive(now, peer, message, bytes.byteLength))
      : this.feed(() => this.core.receiveBytes(now, peer, bytes));
    let outcome: Outcome = 'ignored';
    for (const act of actions) {
      if (act.type === 'accepted' && a && act.announcement.id === a.id) outcome = 'accepted';
      if (act.type === 'rejected' && act.from === peer) {
        outcome = 'rejected';
        if (act.reason === 'invalid' && a) this.stats.forgedAnnouncements++;
      }
    }
    if (outcome === 'ignored' && verdict && !verdict.ok && isSecurityCode(verdict.code)) {
      // Content proven forged that the core did not judge (a graylisted sender): still forged.
      this.stats.forgedAnnouncements++;
      this.countRejected(peer);
      outcome = 'rejected';
    }
    if (via === 'topic' && outcome === 'ignored' && !message) outcome = 'rejected';
    return outcome;
  }

  private graylisted(peer: string): boolean {
    const score = this.core.peerScore(peer, this.now());
    return score !== undefined && score < this.core.config.graylistThreshold;
  }

  private holds(id: string): boolean {
    return this.core.heldReleases().some((a) => a.id === id);
  }

  /** Digest of what a verdict depends on: the claim (version, platform) and the signed bundle. */
  private digestOf(a: VersionAnnouncement): string {
    let d = this.digests.get(a);
    if (d === undefined) {
      d = contentDigest(a);
      this.digests.set(a, d);
    }
    return d;
  }

  /** The verdict of this exact content against the current trusted state, if still fresh. */
  private knownVerdict(a: VersionAnnouncement): ValidationResult | undefined {
    const key = this.digestOf(a);
    const v = this.verdicts.get(key);
    if (!v) return undefined;
    this.verdicts.delete(key);
    if (this.now() - v.at > VERDICT_TTL_MS) return undefined;
    this.verdicts.set(key, v);
    return v.result;
  }

  /**
   * The TUF check of `a` against the trusted state, one at a time per content: copies of the same
   * bundle arriving meanwhile wait for that check. The verdict is kept unless the trusted state
   * changed while it ran.
   */
  private check(a: VersionAnnouncement): Promise<ValidationResult> {
    const key = this.digestOf(a);
    const running = this.verifying.get(key);
    if (running) return running;
    const epoch = this.trustEpoch;
    const p = verifyBundle(
      this.docs,
      a.metadata,
      { version: a.version, platform: a.platform },
      this.trustNow(),
    )
      .then((v): ValidationResult => {
        const result: ValidationResult = v.ok
          ? { ok: true }
          : { ok: false, code: v.error.code, reason: v.error.message };
        if (epoch === this.trustEpoch) {
          this.verdicts.set(key, { result, at: this.now() });
          if (this.verdicts.size > MAX_VERDICTS)
            this.verdicts.delete(this.verdicts.keys().next().value as string);
        }
        return result;
      })
      .finally(() => this.verifying.delete(key));
    this.verifying.set(key, p);
    return p;
  }

  /** Runs `input` on the core with `verdict` as the validator's answer for `a`. */
  private feedChecked(
    a: VersionAnnouncement | undefined,
    verdict: ValidationResult | undefined,
    input: () => void,
  ): GossipAction<string>[] {
    this.current = a && verdict ? { a, result: verdict } : undefined;
    try {
      return this.feed(input);
    } finally {
      this.current = undefined;
    }
  }

  /** The core's synchronous validator: the verdict computed just before, for this exact content. */
  private lookupVerdict(a: VersionAnnouncement): ValidationResult {
    if (this.current && this.current.a === a) return this.current.result;
    return (
      this.knownVerdict(a) ?? {
        ok: false,
        code: 'E_INTERNAL',
        reason: 'announcement reached the core unverified',
      }
    );
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
        this.init.onMirrorsChanged?.(this.core.mirrors());
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
    if (this.directInFlight >= MAX_DIRECT_SENDS_IN_FLIGHT) {
      this.stats.directDropped++;
      return;
    }
    this.directInFlight++;
    this.stats.directSent++;
    this.stats.directSentByType[message.type] = (this.stats.directSentByType[message.type] ?? 0) + 1;
    void (async () => {
      const signal = AbortSignal.timeout(DIRECT_TIMEOUT_MS);
      let stream: Stream | undefined;
      try {
        stream = await this.host.dialProtocol(peer, DIGEST_PROTOCOL, { signal });
        const lp = lpStream(stream, { maxDataLength: bytes.byteLength });
        await lp.write(bytes, { signal });
        await stream.close({ signal });
      } catch (err) {
        stream?.abort(err instanceof Error ? err : new Error(String(err)));
        this.log('debug', 'direct send failed', { to, type: message.type, error: (err as Error)?.message });
      } finally {
        this.directInFlight--;
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
        await this.loadDocs();
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
    remember(this.published, a.id);
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
      priority: defaultPriority('peer'),
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
    // The whole chain if it fits in one message; else its newest part (the oldest roots matter
    // only to nodes that far behind, which a mirror serves).
    for (let n = MAX_BUNDLED_ROOTS; n > 0 && a.metadata.roots.length > 0 && !this.fits(a); n--)
      a.metadata = bundleFrom(this.docs, Math.min(n, a.metadata.roots.length) - 1);
    return a;
  }

  private fits(a: VersionAnnouncement): boolean {
    try {
      encodeGossipMessage(
        { format: GOSSIP_FORMAT, type: 'announce', announcement: a },
        this.core.config.maxMessageBytes,
      );
      return true;
    } catch {
      return false;
    }
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
      remember(this.published, held.id);
      this.publishRaw({ ...held, ttl: hops });
      return { id: held.id, version: v, ttl: hops };
    }
    const a = this.makeAnnouncement(v, hops);
    const r = await this.localPublish(a, false);
    if (!r.ok) throw new DchatError(r.code, r.reason ?? 'announcement refused');
    return { id: a.id, version: v, ttl: hops };
  }

  private async localPublish(a: VersionAnnouncement, quiet: boolean): Promise<ValidationResult> {
    const verdict = await this.check(a);
    if (quiet) remember(this.quiet, a.id);
    let result: ValidationResult = { ok: false, code: 'E_INTERNAL' };
    this.feedChecked(a, verdict, () => {
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
    await this.loadDocs();
  }

  /** Reads the trusted state from the store; verdicts reached against the old one are dropped. */
  private async loadDocs(): Promise<void> {
    this.docs = await snapshotOf(this.init.trustStore);
    this.trustedHighest = highestVersionOf(this.docs);
    this.trustEpoch++;
    this.verdicts.clear();
  }

  private trustNow(): Date {
    return this.init.trustClock?.() ?? new Date(this.now());
  }

  private log(level: 'debug' | 'info' | 'warn', msg: string, data?: Record<string, unknown>): void {
    this.init.onLog?.(level, msg, data);
  }
}

/**
 * What a verdict depends on, as a SHA-256: the claim (version, platform) and the bundle's bytes.
 * Not the id (a forger reuses genuine ids and varies its own), nor ttl, sources or timestamp,
 * which no signature covers and no check reads.
 */
function contentDigest(a: VersionAnnouncement): string {
  const h = createHash('sha256');
  const m = a.metadata;
  for (const part of [a.version, a.platform ?? '', m.timestamp, m.snapshot, m.targets, ...m.roots])
    h.update(part).update('\n');
  return h.digest('hex');
}

/** Adds `id` to a bounded set of ids, forgetting the oldest past MAX_PUBLISHED_IDS. */
function remember(set: Set<string>, id: string): void {
  set.delete(id);
  set.add(id);
  if (set.size > MAX_PUBLISHED_IDS) set.delete(set.values().next().value as string);
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
