/**
 * The gossip protocol of one node as a sans-IO state machine (STYLE.md section 4, quinn-proto):
 * every input is a method call carrying `now` (ms); every effect is a GossipAction queued for the
 * host to drain with `poll()`; `pollTimeout()` says when `timeout(now)` is next due. No timers,
 * clocks, sockets or randomness of its own, so the libp2p adapter, the tests and the simulator
 * of 100,000 nodes run exactly this code.
 *
 * Announcement path, in order, cheapest check first:
 *   rate limit and size cap -> graylist -> dedupe by id -> replay (version <= highest: ignore)
 *   -> the sender's validation budget -> validate (the TUF check, synchronous; failure: drop, no
 *   relay, score down) -> accept -> relay ttl-1 (the hop rule: a copy received with ttl t goes on
 *   with t-1; one received with ttl 0 is kept, never passed on).
 * Validation is synchronous (the node's check is the TUF update over bytes in memory), so there
 * is no verification in flight to track and no verdict to cache: a sender whose announcement
 * fails is graylisted at once (its next messages are not even read), and the per-peer budget
 * bounds what an honest-looking sender can make us check.
 * Over 500 lines on purpose: this is one state machine whose inputs, handlers and periodic work
 * read best as one unit; its data structures (peer-state, seen-cache, releases, mirror-book,
 * pending-requests, action-queue) are already files of their own.
 * Every decision of the protocol is here, once: the libp2p adapter (gossip/libp2p/) only moves
 * these messages over `/dchat/gossip/1` and performs these actions, and the simulator (sim/)
 * drives this same class, so what it measures is what the node runs.
 */
import { type ErrorCode, isSecurityCode } from '../../errors.ts';
import type { VersionAnnouncement } from '../../model/announcement.ts';
import type { DownloadSource } from '../../model/download-source.ts';
import { compareVersions } from '../../model/version.ts';
import { Lru } from '../../util/lru.ts';
import { ActionQueue, type HostAction } from './action-queue.ts';
import {
  type AcceptedVia,
  emptyStats,
  type GossipAction,
  type GossipActionSink,
  type GossipStats,
  type RejectReason,
  type ValidateAnnouncement,
  type ValidateObject,
  type ValidationResult,
} from './actions.ts';
import { type GossipConfig, resolveGossipConfig } from './config.ts';
import {
  type Digest,
  decodeGossipMessage,
  GOSSIP_FORMAT,
  type GossipMessage,
  MAX_IDS_PER_MESSAGE,
  type MessageOf,
  type ObjectMessage,
  type SignedObject,
  type SignedObjectKind,
} from './messages.ts';
import { MirrorBook } from './mirror-book.ts';
import { KIND_RULES, type KindRules } from './object-kinds.ts';
import { type HeldObject, ObjectBook } from './objects.ts';
import { addScore, admit, admitValidation, currentScore, PeerState } from './peer-state.ts';
import { PendingRequests } from './pending-requests.ts';
import { type CompareVersions, type HeldRelease, ReleaseBook } from './releases.ts';
import { Rng } from './rng.ts';
import { SeenCache } from './seen-cache.ts';

export interface GossipNodeInit {
  /** Time of creation (ms, any epoch the host keeps using). */
  now: number;
  /** The release check; the node's real one runs the TUF client update over the embedded bundle. */
  validate: ValidateAnnouncement;
  config?: Partial<GossipConfig>;
  /** Seed of this node's random choices, when nodes share one resolved config (default: config.seed). */
  seed?: number;
  /** Mirrors configured by the operator: shared with peers, always ranked first. */
  mirrors?: readonly DownloadSource[];
  /** Highest release version already trusted (persisted anti-rollback state): nothing at or below is taken. */
  initialHighest?: string;
  /** Version order; SemVer by default. */
  compareVersions?: CompareVersions;
  /** The signed-object check (governance, beacons); absent: objects are ignored, not relayed. */
  validateObject?: ValidateObject;
  /** Replay rules per object kind (tests may narrow caps); default KIND_RULES. */
  kindRules?: KindRules;
}

/** Control messages without content are shared, never rebuilt. */
const GRAFT: GossipMessage = Object.freeze({ format: GOSSIP_FORMAT, type: 'graft' });
const PRUNE: GossipMessage = Object.freeze({ format: GOSSIP_FORMAT, type: 'prune' });
/** Bans remembered at most (oldest forgotten first), so invented peer ids cannot grow memory. */
const MAX_BANS = 4096;

export class GossipNode<P> {
  readonly config: GossipConfig;
  readonly stats: GossipStats = emptyStats();
  private readonly validate: ValidateAnnouncement;
  private readonly rng: Rng;
  private readonly peers = new Map<P, PeerState>();
  private meshSize = 0;
  /** Banned peers and until when; created at the first ban. */
  private banned: Lru<P, number> | undefined;
  private readonly seen: SeenCache;
  private readonly releases: ReleaseBook<P>;
  private readonly objects: ObjectBook<P>;
  private readonly validateObject: ValidateObject | undefined;
  /** The digest as last built from its release and object parts (same object while neither changed). */
  private digestCache:
    | { releases: Digest; objects: readonly unknown[] | undefined; digest: Digest }
    | undefined;
  private readonly book: MirrorBook<P>;
  /** Announcements still to be advertised by IHAVE: id -> heartbeats left. */
  private readonly recent = new Map<string, number>();
  private readonly promised = new PendingRequests<P>();
  /** HELLO messages as last built (without and with graft); rebuilt when digest or mirrors change. */
  private helloCache: [GossipMessage, GossipMessage] | undefined;
  private readonly out = new ActionQueue<P>();
  private nextHeartbeat: number;
  /** A mesh peer went below zero or the mesh grew past D_hi: the next heartbeat has mesh work. */
  private meshDirty = false;
  private nextAntiEntropy: number;

  constructor(init: GossipNodeInit) {
    const c = resolveGossipConfig(init.config);
    this.config = c;
    this.validate = init.validate;
    this.rng = new Rng(init.seed ?? c.seed);
    this.seen = new SeenCache(c.seenCapacity, c.seenTtlMs);
    this.releases = new ReleaseBook<P>(
      c.maxHeldReleases,
      init.compareVersions ?? compareVersions,
      init.initialHighest,
    );
    this.objects = new ObjectBook<P>(init.kindRules ?? KIND_RULES);
    this.validateObject = init.validateObject;
    this.book = new MirrorBook<P>(init.mirrors ?? [], {
      maxLearned: c.maxLearnedMirrors,
      maxPerPeer: c.maxMirrorsPerPeer,
      priorityPenalty: c.learnedPriorityPenalty,
      provenAfter: c.mirrorProvenAfter,
      dropAfterFailures: c.mirrorDropAfterFailures,
    });
    // Random phases: a network of nodes started together must not heartbeat in lockstep.
    this.nextHeartbeat = init.now + this.rng.next() * c.heartbeatMs;
    this.nextAntiEntropy = init.now + this.rng.next() * c.antiEntropyMs;
  }

  // ---- inputs -------------------------------------------------------------------------------

  /**
   * A connection to `peer` is open. The side that dialled ('outbound') speaks first with HELLO
   * (mesh intent, digest, mirrors); the other side answers only what the dialer cannot know
   * (see onHello), which halves the handshake traffic of a network coming up. If both sides
   * call it 'outbound' (a simultaneous open, or a host that cannot tell), both send HELLO and
   * neither answers.
   */
  connected(now: number, peer: P, direction: 'outbound' | 'inbound' = 'outbound'): void {
    this.alignHeartbeat(now);
    const until = this.banned?.peek(peer);
    if (until !== undefined) {
      if (until > now) {
        this.emit({ type: 'disconnect', peer, reason: 'banned' });
        return;
      }
      this.banned?.delete(peer);
    }
    if (this.peers.has(peer)) return;
    const st = new PeerState(now, this.config);
    this.peers.set(peer, st);
    if (this.config.mode === 'flood' || direction === 'inbound') return;
    st.helloSent = true;
    const graft = this.meshSize < this.config.meshDegree;
    if (graft) this.joinMesh(st);
    this.send(peer, this.hello(graft));
  }

  /** The connection to `peer` closed (or the host gave up on it). */
  disconnected(now: number, peer: P): void {
    this.alignHeartbeat(now);
    const st = this.peers.get(peer);
    if (st) this.dropPeer(peer, st);
  }

  /** A message from `peer`, already decoded (the simulator's path); `bytes` is its size on the wire. */
  receive(now: number, peer: P, message: GossipMessage, bytes: number): void {
    this.alignHeartbeat(now);
    const st = this.admitFrom(now, peer, bytes);
    if (st) this.dispatch(now, peer, st, message);
  }

  /** Raw bytes from `peer` (the network adapter's path): limits first, then decode, then dispatch. */
  receiveBytes(now: number, peer: P, bytes: Uint8Array): void {
    this.alignHeartbeat(now);
    const st = this.admitFrom(now, peer, bytes.byteLength);
    if (!st) return;
    const r = decodeGossipMessage(bytes, this.config.maxMessageBytes);
    if (!r.ok) {
      this.stats.malformed++;
      this.penalize(now, peer, st, this.config.scoreMalformed, r.error.code, 'malformed');
      return;
    }
    this.dispatch(now, peer, st, r.message);
  }

  /**
   * Our own release (or one the operator injects): checked like any other, then sent to every
   * peer (floodPublish) or the mesh, carrying the announcement's own ttl.
   */
  publish(now: number, announcement: VersionAnnouncement): ValidationResult {
    this.alignHeartbeat(now);
    const v = this.checkLocal(now, announcement);
    if (!v.ok) return v;
    const held = this.accept(
      now,
      announcement,
      Math.min(announcement.ttl, this.config.maxTtl),
      undefined,
      'local',
      v.proof,
    );
    this.relay(now, held, undefined, this.config.floodPublish);
    return v;
  }

  /**
   * A release this node already trusts (found on disk at start, or fetched from a mirror), held
   * quietly: checked like any other, then offered in digests and WANT answers (late joiners catch
   * up from it) but never pushed, until `announceHeld` says so.
   */
  adopt(now: number, announcement: VersionAnnouncement): ValidationResult {
    this.alignHeartbeat(now);
    const v = this.checkLocal(now, announcement);
    if (v.ok) this.accept(now, announcement, -1, undefined, 'local', v.proof);
    return v;
  }

  /**
   * Our own signed object (a proposal, vote, approval or certificate made here, or one the
   * operator injects): checked like any other, then pushed to every peer (floodPublish) or the
   * mesh with `ttl` hops.
   */
  publishObject(
    now: number,
    kind: SignedObjectKind,
    id: string,
    object: SignedObject,
    ttl: number,
  ): ValidationResult {
    this.alignHeartbeat(now);
    const v = this.checkLocalObject(now, kind, id, object);
    if (!v.ok) return v;
    const held = this.acceptObject(
      now,
      kind,
      id,
      object,
      Math.min(Math.max(0, ttl), this.config.maxTtl),
      undefined,
      'local',
      v.proof,
    );
    this.relayObject(now, held, undefined, this.config.floodPublish);
    return v;
  }

  /** A signed object this node already holds (from its store at start): served to peers that ask
   * or lack it (anti-entropy), never pushed. */
  adoptObject(now: number, kind: SignedObjectKind, id: string, object: SignedObject): ValidationResult {
    this.alignHeartbeat(now);
    const v = this.checkLocalObject(now, kind, id, object);
    if (v.ok) this.acceptObject(now, kind, id, object, -1, undefined, 'local', v.proof);
    return v;
  }

  private checkLocalObject(
    now: number,
    kind: SignedObjectKind,
    id: string,
    object: SignedObject,
  ): ValidationResult {
    if (this.seen.has(id, now) || this.objects.get(id))
      return { ok: false, code: 'E_MALFORMED', reason: `${kind} ${id} already held` };
    if (this.objects.standing(kind, object, id) === 'replay')
      return { ok: false, code: 'E_ROLLBACK', reason: `a newer ${kind} for the same slot is held` };
    return this.checkObject(kind, id, object);
  }

  /**
   * What `publish` and `adopt` check of a release the node itself offers: newer than what it
   * holds, an id not used before, then the full check.
   */
  private checkLocal(now: number, announcement: VersionAnnouncement): ValidationResult {
    if (!this.releases.isNewer(announcement.version))
      return { ok: false, code: 'E_ROLLBACK', reason: `not newer than ${this.releases.highest}` };
    // Ids name announcements network-wide; reusing one would be taken for a duplicate everywhere.
    if (this.seen.has(announcement.id, now) || this.releases.get(announcement.id))
      return { ok: false, code: 'E_MALFORMED', reason: `announcement id ${announcement.id} already used` };
    return this.check(announcement);
  }

  /**
   * Pushes a held release again (the operator's `announce`) with `ttl` hops, to every peer
   * (floodPublish) or the mesh, and advertises it by IHAVE. False if it is not held.
   */
  announceHeld(now: number, id: string, ttl: number): boolean {
    this.alignHeartbeat(now);
    const held = this.releases.get(id);
    if (!held) return false;
    held.relayTtl = Math.min(Math.max(0, ttl), this.config.maxTtl);
    held.sentTo.clear();
    this.relay(now, held, undefined, this.config.floodPublish);
    return true;
  }

  /** The download engine found a chunk from `peer` that does not match the signed chunk table. */
  badChunk(now: number, peer: P): void {
    this.alignHeartbeat(now);
    const st = this.peers.get(peer);
    if (st) this.penalize(now, peer, st, this.config.scoreBadChunk, 'E_CHUNK_MISMATCH', 'bad-chunk');
  }

  /** A download from mirror `uri` succeeded or failed: learned mirrors prove themselves this way. */
  mirrorResult(uri: string, ok: boolean, nowIso?: string): void {
    this.book.report(uri, ok, nowIso);
    this.emit({ type: 'mirrors-changed' });
  }

  /** The operator changed the configured mirrors: keep what was learned, tell every peer. */
  setConfiguredMirrors(mirrors: readonly DownloadSource[]): void {
    this.book.reconfigure(mirrors);
    if (this.config.mode === 'flood') return;
    const message: GossipMessage = {
      format: GOSSIP_FORMAT,
      type: 'mirrors',
      sources: [...this.book.shareable()],
    };
    for (const peer of this.peers.keys()) this.send(peer, message);
  }

  /** Runs whatever is due at `now`: heartbeat (mesh upkeep, IHAVE, expiries) and anti-entropy. */
  timeout(now: number): void {
    if (this.config.mode === 'flood') return;
    const hb = this.config.heartbeatMs;
    if (now >= this.nextHeartbeat) {
      this.heartbeat(now);
      this.nextHeartbeat += hb;
      if (this.nextHeartbeat <= now) this.nextHeartbeat = now + hb;
    }
    const ae = this.config.antiEntropyMs;
    if (ae > 0 && now >= this.nextAntiEntropy) {
      this.antiEntropy(now);
      this.nextAntiEntropy = now + ae * (0.75 + 0.5 * this.rng.next());
    }
  }

  /**
   * When `timeout` is next due (Infinity: never). Flooding keeps no timers; the mesh protocol
   * skips heartbeats while it has nothing to do (no IHAVE to send, no request outstanding, mesh
   * within bounds), like a QUIC connection that arms no timer when idle: a quiet network of
   * 100,000 nodes then costs only its anti-entropy ticks.
   */
  pollTimeout(): number {
    const c = this.config;
    if (c.mode === 'flood') return Number.POSITIVE_INFINITY;
    const busy =
      this.recent.size > 0 ||
      this.promised.size > 0 ||
      this.meshDirty ||
      this.meshSize > c.meshDegreeHigh ||
      (this.meshSize < c.meshDegreeLow && this.peers.size > this.meshSize);
    const hb = busy ? this.nextHeartbeat : Number.POSITIVE_INFINITY;
    return c.antiEntropyMs > 0 ? Math.min(hb, this.nextAntiEntropy) : hb;
  }

  /** The next action for the host, or undefined when there is none. */
  poll(): GossipAction<P> | undefined {
    return this.out.poll();
  }

  /** Every pending action, in order, to `sink` (the simulator's allocation-free path). */
  drainTo(sink: GossipActionSink<P>): void {
    this.out.drainTo(sink);
  }

  /** Every pending action at once (tests and simple hosts). */
  drain(): GossipAction<P>[] {
    const all: GossipAction<P>[] = [];
    for (let a = this.poll(); a !== undefined; a = this.poll()) all.push(a);
    return all;
  }

  // ---- queries ------------------------------------------------------------------------------

  get highestVersion(): string | undefined {
    return this.releases.highest;
  }

  heldReleases(): VersionAnnouncement[] {
    return this.releases.list().map((h) => h.announcement);
  }

  /** Held signed objects of `kind` (one per slot: superseded ones are gone), oldest first. */
  heldObjects(kind: SignedObjectKind): { id: string; object: SignedObject }[] {
    return this.objects.list(kind).map((h) => ({ id: h.id, object: h.object }));
  }

  /** Mirrors, best first: configured, then learned ones that proved themselves, then the rest. */
  mirrors(): DownloadSource[] {
    return this.book.ranked();
  }

  peerScore(peer: P, now: number): number | undefined {
    const st = this.peers.get(peer);
    return st ? currentScore(st, now, this.config) : undefined;
  }

  isBanned(peer: P, now: number): boolean {
    return (this.banned?.peek(peer) ?? 0) > now;
  }

  connectedPeers(): P[] {
    return [...this.peers.keys()];
  }

  meshPeers(): P[] {
    const out: P[] = [];
    for (const [p, st] of this.peers) if (st.inMesh) out.push(p);
    return out;
  }

  // ---- message handling ---------------------------------------------------------------------

  /** Size cap, rate limit and graylist, before anything is looked at. */
  private admitFrom(now: number, peer: P, bytes: number): PeerState | undefined {
    const st = this.peers.get(peer);
    if (!st) {
      this.stats.strangers++;
      return undefined;
    }
    const c = this.config;
    if (bytes > c.maxMessageBytes) {
      this.stats.tooLarge++;
      this.penalize(now, peer, st, c.scoreTooLarge, 'E_TOO_LARGE', 'too-large');
      return undefined;
    }
    if (!admit(st, now, bytes, c)) {
      this.stats.rateLimited++;
      this.penalize(now, peer, st, c.scoreRateLimited, 'E_BUSY', 'rate-limited');
      return undefined;
    }
    if (st.score !== 0 && currentScore(st, now, c) < c.graylistThreshold) {
      this.stats.graylisted++;
      return undefined;
    }
    return st;
  }

  private dispatch(now: number, peer: P, st: PeerState, m: GossipMessage): void {
    switch (m.type) {
      case 'announce':
        if (m.kind === 'release') this.onAnnouncement(now, peer, st, m.announcement, 'push');
        else this.onObject(now, peer, st, m, 'push');
        return;
      case 'bundle':
        if (m.kind === 'release') this.onAnnouncement(now, peer, st, m.announcement, 'sync');
        else this.onObject(now, peer, st, m, 'sync');
        return;
    }
    // Everything else is our protocol's; the seed's flooding speaks only announcements.
    if (this.config.mode === 'flood') return;
    switch (m.type) {
      case 'ihave':
        this.onIhave(now, peer, st, m);
        return;
      case 'iwant':
        if (m.kind === undefined || m.kind === 'release') this.serve(peer, m.ids, 'announce');
        else this.serveObjects(peer, m.ids, 'announce');
        return;
      case 'want':
        if (m.kind === undefined || m.kind === 'release') this.serve(peer, m.ids, 'bundle');
        else this.serveObjects(peer, m.ids, 'bundle');
        return;
      case 'hello':
        this.onHello(now, peer, st, m);
        return;
      case 'graft':
        this.onGraft(now, peer, st);
        return;
      case 'prune':
        if (st.inMesh) this.leaveMesh(st);
        st.backoffUntil = now + this.config.pruneBackoffMs;
        return;
      case 'digest':
        this.onDigest(now, peer, st, m.digest, m.reply);
        return;
      case 'mirrors':
        this.learnMirrors(peer, m.sources);
        return;
    }
  }

  private onAnnouncement(
    now: number,
    from: P,
    st: PeerState,
    a: VersionAnnouncement,
    via: AcceptedVia,
  ): void {
    // Any copy settles an IWANT/WANT for this id, even a duplicate: the promiser did answer.
    if (this.promised.size > 0) this.settlePromise(a.id);
    // Duplicates are most of the traffic: one lookup in `seen` (accepted ids are in it too).
    if (this.seen.has(a.id, now)) {
      this.stats.duplicates++;
      if (this.config.mode === 'mesh') this.releases.get(a.id)?.knownHave.add(from);
      return;
    }
    if (this.releases.get(a.id)) {
      this.stats.duplicates++;
      return;
    }
    if (!this.releases.isNewer(a.version)) {
      // A replay of an old or equal release: harmless, so ignored without penalty. Not added to
      // `seen` (it was not validated): an old version under a new release's id must not make us
      // drop the new release as a duplicate when it arrives.
      this.stats.replaysIgnored++;
      return;
    }
    const c = this.config;
    if (!admitValidation(st, now, c)) {
      this.stats.validateRateLimited++;
      this.penalize(now, from, st, c.scoreRateLimited, 'E_BUSY', 'validate-rate-limited');
      return;
    }
    const v = this.check(a);
    if (!v.ok) {
      // Not added to `seen`: an attacker who sends a forgery under a genuine announcement's id
      // must not make us drop the genuine one when it arrives.
      this.stats.invalid++;
      if (isSecurityCode(v.code)) this.penalize(now, from, st, this.config.scoreInvalid, v.code, 'invalid');
      return;
    }
    if (st.firstDeliveries < this.config.scoreFirstDeliveryCap) {
      st.firstDeliveries++;
      addScore(st, now, this.config.scoreFirstDelivery, this.config);
    }
    // Hop counting (seed: "TTL=5" at A becomes "TTL=4" at B): a copy received with ttl t is
    // passed on with t-1, and one received with ttl 0 is kept but never passed on.
    const ttl = Math.min(a.ttl, this.config.maxTtl);
    const h = this.accept(now, a, ttl - 1, from, via, v.proof);
    h.knownHave.add(from);
    if (h.relayTtl >= 0) this.relay(now, h, from, false);
  }

  /**
   * A signed object: the announcement path with the kind's replay rule (object-kinds.ts) in place
   * of "newer version": dedupe by id -> replay (the slot holds an object this one does not
   * supersede: ignore) -> validation budget -> validate -> accept (the superseded one is dropped)
   * -> relay ttl-1.
   */
  private onObject(now: number, from: P, st: PeerState, m: ObjectMessage, via: AcceptedVia): void {
    if (this.promised.size > 0) this.settlePromise(m.id);
    if (this.seen.has(m.id, now) || this.objects.get(m.id)) {
      this.stats.duplicates++;
      if (this.config.mode === 'mesh') this.objects.get(m.id)?.knownHave.add(from);
      return;
    }
    if (!this.validateObject) return;
    if (this.objects.standing(m.kind, m.object, m.id) === 'replay') {
      this.stats.replaysIgnored++;
      return;
    }
    const c = this.config;
    if (!admitValidation(st, now, c)) {
      this.stats.validateRateLimited++;
      this.penalize(now, from, st, c.scoreRateLimited, 'E_BUSY', 'validate-rate-limited');
      return;
    }
    const v = this.checkObject(m.kind, m.id, m.object);
    if (!v.ok) {
      this.stats.invalid++;
      if (isSecurityCode(v.code)) this.penalize(now, from, st, c.scoreInvalid, v.code, 'invalid');
      return;
    }
    if (st.firstDeliveries < c.scoreFirstDeliveryCap) {
      st.firstDeliveries++;
      addScore(st, now, c.scoreFirstDelivery, c);
    }
    const ttl = Math.min(m.ttl, c.maxTtl);
    const h = this.acceptObject(now, m.kind, m.id, m.object, ttl - 1, from, via, v.proof);
    h.knownHave.add(from);
    if (h.relayTtl >= 0) this.relayObject(now, h, from, false);
  }

  private onIhave(now: number, peer: P, st: PeerState, m: MessageOf<'ihave'>): void {
    if (currentScore(st, now, this.config) < this.config.gossipThreshold) return;
    let ids: string[] | undefined;
    let objectIds: Map<SignedObjectKind, string[]> | undefined;
    for (const it of m.items) {
      if (it.kind !== undefined && it.kind !== 'release') {
        const heldObject = this.objects.get(it.id);
        if (heldObject) {
          heldObject.knownHave.add(peer);
          continue;
        }
        if (!this.validateObject || this.promised.has(it.id) || this.seen.has(it.id, now)) continue;
        if (!this.promise(now, peer, st, it.id)) break;
        objectIds ??= new Map();
        const list = objectIds.get(it.kind) ?? [];
        list.push(it.id);
        objectIds.set(it.kind, list);
        continue;
      }
      const held = this.releases.get(it.id);
      if (held) {
        held.knownHave.add(peer);
        continue;
      }
      if (this.promised.has(it.id) || this.seen.has(it.id, now) || !this.releases.isNewer(it.version))
        continue;
      if (!this.promise(now, peer, st, it.id)) break;
      ids ??= [];
      ids.push(it.id);
    }
    if (ids) this.send(peer, { format: GOSSIP_FORMAT, type: 'iwant', ids });
    if (objectIds)
      for (const [kind, list] of objectIds)
        this.send(peer, { format: GOSSIP_FORMAT, type: 'iwant', kind, ids: list });
  }

  /** `serve` for signed objects: the same once-per-connection rules. */
  private serveObjects(peer: P, ids: readonly string[], as: 'announce' | 'bundle'): void {
    for (const id of ids) {
      const held = this.objects.get(id);
      if (!held) continue;
      if (as === 'announce') {
        if (held.sentTo.has(peer) || held.relayTtl < 0) continue;
        held.sentTo.add(peer);
      } else {
        if (held.bundledTo.has(peer)) continue;
        held.bundledTo.add(peer);
      }
      held.knownHave.add(peer);
      this.send(peer, objectMessage(as, held, Math.max(0, held.relayTtl)));
    }
  }

  /**
   * Answers IWANT (with `announce`) or WANT (with `bundle`). A peer gets a release at most once by
   * push or IWANT and once more by WANT per connection (a lost push is repaired by anti-entropy),
   * so requests cannot make us repeat large messages.
   */
  private serve(peer: P, ids: readonly string[], as: 'announce' | 'bundle'): void {
    for (const id of ids) {
      const held = this.releases.get(id);
      if (!held) continue;
      if (as === 'announce') {
        // IWANT answers the lazy push, so it obeys the hop bound.
        if (held.sentTo.has(peer) || held.relayTtl < 0) continue;
        held.sentTo.add(peer);
      } else {
        // WANT is anti-entropy repair between direct peers: always answered, with the hops left (>= 0).
        if (held.bundledTo.has(peer)) continue;
        held.bundledTo.add(peer);
      }
      held.knownHave.add(peer);
      this.send(peer, {
        format: GOSSIP_FORMAT,
        type: as,
        kind: 'release',
        announcement: withTtl(held, Math.max(0, held.relayTtl)),
      });
    }
  }

  private onHello(now: number, peer: P, st: PeerState, m: MessageOf<'hello'>): void {
    if (m.graft) this.onGraft(now, peer, st);
    if (m.mirrors.length > 0) this.learnMirrors(peer, m.mirrors);
    if (st.helloSent) {
      // Both sides sent a HELLO: each already told the other everything; nothing to answer.
      this.onDigest(now, peer, st, m.digest, true);
      return;
    }
    // We are the listener: say only what the dialer does not know. Our own mesh intent...
    const c = this.config;
    if (!st.inMesh && !m.graft && this.meshSize < c.meshDegree && now >= st.backoffUntil) {
      this.joinMesh(st);
      this.send(peer, GRAFT);
    }
    // ...our mirrors, if we use any worth passing on...
    const mirrors = this.book.shareable();
    if (mirrors.length > 0)
      this.send(peer, { format: GOSSIP_FORMAT, type: 'mirrors', sources: [...mirrors] });
    // ...and our digest only if we hold something newer than the dialer (onDigest decides).
    this.onDigest(now, peer, st, m.digest, false);
  }

  private onGraft(now: number, peer: P, st: PeerState): void {
    if (st.inMesh) return;
    const c = this.config;
    if (now < st.backoffUntil || this.meshSize >= c.meshDegreeHigh || currentScore(st, now, c) < 0) {
      this.send(peer, PRUNE);
      return;
    }
    this.joinMesh(st);
  }

  private onDigest(now: number, peer: P, st: PeerState, d: Digest, isReply: boolean): void {
    let ids: string[] | undefined;
    for (const id of this.releases.missingFrom(d)) {
      if (this.promised.has(id) || this.seen.has(id, now)) continue;
      if (!this.promise(now, peer, st, id)) break;
      ids ??= [];
      ids.push(id);
    }
    if (ids) this.send(peer, { format: GOSSIP_FORMAT, type: 'want', ids });
    if (this.validateObject && d.objects && d.objects.length > 0) {
      const wanted = new Map<SignedObjectKind, string[]>();
      for (const o of d.objects) {
        if (this.objects.get(o.id) || this.promised.has(o.id) || this.seen.has(o.id, now)) continue;
        if (!this.promise(now, peer, st, o.id)) break;
        const list = wanted.get(o.kind) ?? [];
        list.push(o.id);
        wanted.set(o.kind, list);
      }
      for (const [kind, list] of wanted)
        this.send(peer, { format: GOSSIP_FORMAT, type: 'want', kind, ids: list });
    }
    if (!isReply && (this.releases.hasNewerThan(d) || this.objects.hasUnlisted(d.objects)))
      this.send(peer, { format: GOSSIP_FORMAT, type: 'digest', digest: this.digest(), reply: true });
  }

  private learnMirrors(peer: P, sources: readonly DownloadSource[]): void {
    if (this.book.learn(peer, sources) > 0) this.emit({ type: 'mirrors-changed' });
  }

  // ---- periodic work ------------------------------------------------------------------------

  private heartbeat(now: number): void {
    this.seen.prune(now);
    this.expirePromises(now);
    this.expireBans(now);
    this.maintainMesh(now);
    this.lazyGossip(now);
  }

  /** gossipsub mesh upkeep: drop peers that scored below zero, graft up to D below D_lo, prune to D above D_hi. */
  private maintainMesh(now: number): void {
    const c = this.config;
    this.meshDirty = false;
    for (const [p, st] of this.peers) {
      if (st.inMesh && st.score < 0 && currentScore(st, now, c) < 0) {
        this.leaveMesh(st);
        st.backoffUntil = now + c.pruneBackoffMs;
        this.send(p, PRUNE);
      }
    }
    if (this.meshSize < c.meshDegreeLow) {
      const candidates: P[] = [];
      for (const [p, st] of this.peers)
        if (!st.inMesh && now >= st.backoffUntil && currentScore(st, now, c) >= 0) candidates.push(p);
      this.rng.shuffle(candidates);
      for (const p of candidates) {
        if (this.meshSize >= c.meshDegree) break;
        this.joinMesh(this.peers.get(p) as PeerState);
        this.send(p, GRAFT);
      }
    } else if (this.meshSize > c.meshDegreeHigh) {
      // Keep the best-scored D; equal scores are broken at random, not by connection order.
      const members = this.rng.shuffle(this.meshPeers());
      const score = new Map(members.map((p) => [p, currentScore(this.peers.get(p) as PeerState, now, c)]));
      members.sort((a, b) => (score.get(b) as number) - (score.get(a) as number));
      for (const p of members.slice(c.meshDegree)) {
        const st = this.peers.get(p) as PeerState;
        this.leaveMesh(st);
        st.backoffUntil = now + c.pruneBackoffMs;
        this.send(p, PRUNE);
      }
    }
  }

  /**
   * Lazy push: tell up to D_lazy non-mesh peers, not known to have it, which recent releases we
   * hold; they pull with IWANT what they miss. This is what repairs the holes left by lost
   * messages and by mesh peers that swallow announcements.
   */
  private lazyGossip(now: number): void {
    if (this.recent.size === 0) return;
    const c = this.config;
    let batches: Map<P, MessageOf<'ihave'>['items']> | undefined;
    for (const [id, left] of this.recent) {
      if (left <= 1) this.recent.delete(id);
      else this.recent.set(id, left - 1);
      const held = this.releases.get(id) ?? this.objects.get(id);
      if (!held || held.relayTtl < 0) continue;
      const candidates: P[] = [];
      for (const [p, st] of this.peers)
        if (!st.inMesh && !held.knownHave.has(p) && currentScore(st, now, c) >= c.gossipThreshold)
          candidates.push(p);
      for (const p of this.rng.sample(candidates, c.lazyDegree)) {
        held.knownHave.add(p);
        batches ??= new Map();
        let items = batches.get(p);
        if (!items) {
          items = [];
          batches.set(p, items);
        }
        if (items.length < MAX_IDS_PER_MESSAGE)
          items.push(
            'announcement' in held ? { id, version: held.announcement.version } : { kind: held.kind, id },
          );
      }
    }
    if (batches)
      for (const [p, items] of batches) this.send(p, { format: GOSSIP_FORMAT, type: 'ihave', items });
  }

  /** Push-pull with one random peer: our digest out; the peer asks for what it lacks and answers
   * with its own digest if it holds something newer, which we then ask for. */
  private antiEntropy(now: number): void {
    const n = this.peers.size;
    if (n === 0) return;
    let k = this.rng.int(n);
    for (const [p, st] of this.peers) {
      if (k-- > 0) continue;
      // A peer we no longer listen to is not asked either; the next period picks another.
      if (st.score < 0 && currentScore(st, now, this.config) < this.config.gossipThreshold) return;
      this.objects.rotate();
      this.send(p, { format: GOSSIP_FORMAT, type: 'digest', digest: this.digest(), reply: false });
      return;
    }
  }

  private expirePromises(now: number): void {
    if (this.promised.size === 0) return;
    for (const peer of this.promised.expire(now)) {
      const st = this.peers.get(peer);
      if (!st) continue;
      st.promises--;
      this.stats.brokenPromises++;
      this.penalize(now, peer, st, this.config.scoreBrokenPromise, 'E_TIMEOUT', 'broken-promise');
    }
  }

  private expireBans(now: number): void {
    if (!this.banned) return;
    for (const [p, until] of this.banned.entries()) if (until <= now) this.banned.delete(p);
  }

  // ---- helpers ------------------------------------------------------------------------------

  /** The HELLO for a new connection, shared between connections while nothing it says changed. */
  private hello(graft: boolean): GossipMessage {
    const digest = this.digest();
    const mirrors = this.book.shareable() as DownloadSource[];
    let cache = this.helloCache;
    const head = cache?.[0];
    if (!cache || head?.type !== 'hello' || head.digest !== digest || head.mirrors !== mirrors) {
      const base = { format: GOSSIP_FORMAT, type: 'hello', digest, mirrors } as const;
      cache = [
        { ...base, graft: false },
        { ...base, graft: true },
      ];
      this.helloCache = cache;
    }
    return cache[graft ? 1 : 0];
  }

  /**
   * Heartbeats stay on their phase grid even when skipped while idle: work that appears at `now`
   * waits for the next grid point instead of firing a stale heartbeat at once (which would, for
   * one, send IHAVE for a release the mesh is still delivering).
   */
  private alignHeartbeat(now: number): void {
    if (this.nextHeartbeat >= now) return;
    const hb = this.config.heartbeatMs;
    this.nextHeartbeat += Math.ceil((now - this.nextHeartbeat) / hb) * hb;
  }

  /** Releases and objects held, as one digest; the same object while neither part changed. */
  private digest(): Digest {
    const releases = this.releases.digest();
    if (this.objects.size === 0) return releases;
    const objects = this.objects.digest();
    const c = this.digestCache;
    if (c && c.releases === releases && c.objects === objects) return c.digest;
    const digest: Digest = { releases: releases.releases, objects };
    this.digestCache = { releases, objects, digest };
    return digest;
  }

  /** The injected object check, fenced like `check`. */
  private checkObject(kind: SignedObjectKind, id: string, object: SignedObject): ValidationResult {
    if (!this.validateObject)
      return { ok: false, code: 'E_UNSUPPORTED', reason: 'this node takes no signed objects' };
    try {
      return this.validateObject(kind, id, object);
    } catch (err) {
      return fenced(err);
    }
  }

  /** The injected validator, fenced: a validator that throws is our bug, not the peer's fault. */
  private check(a: VersionAnnouncement): ValidationResult {
    try {
      return this.validate(a);
    } catch (err) {
      return fenced(err);
    }
  }

  private acceptObject(
    now: number,
    kind: SignedObjectKind,
    id: string,
    object: SignedObject,
    relayTtl: number,
    from: P | undefined,
    via: AcceptedVia,
    proof: unknown,
  ): HeldObject<P> {
    this.seen.add(id, now);
    const slot = this.objects.slotOf(kind, object, id);
    const replaced = this.objects.list(kind).find((h) => h.slot === slot)?.id;
    const held = this.objects.add(kind, id, object, relayTtl, now);
    this.stats.accepted++;
    this.emit({ type: 'object', kind, id, object, replaced, from, via, proof });
    return held;
  }

  /** `relay` for signed objects. */
  private relayObject(now: number, held: HeldObject<P>, except: P | undefined, everyone: boolean): void {
    const message = objectMessage('announce', held, held.relayTtl);
    const all = everyone || this.config.mode === 'flood';
    for (const [p, st] of this.peers) {
      if (p === except || !(all || st.inMesh)) continue;
      if (st.score < 0 && currentScore(st, now, this.config) < 0) continue;
      held.sentTo.add(p);
      held.knownHave.add(p);
      this.send(p, message);
    }
    if (this.config.mode === 'mesh' && this.config.gossipHistory > 0)
      this.recent.set(held.id, this.config.gossipHistory);
  }

  private accept(
    now: number,
    a: VersionAnnouncement,
    relayTtl: number,
    from: P | undefined,
    via: AcceptedVia,
    proof: unknown,
  ) {
    this.seen.add(a.id, now);
    const held = this.releases.add(a, relayTtl, now);
    this.stats.accepted++;
    this.emit({ type: 'accepted', announcement: a, from, via, proof });
    return held;
  }

  /** Eager push of a newly accepted release: flooding sends it to every peer, the mesh protocol to
   * the mesh (or everyone, for our own publish), and queues it for lazy IHAVE. */
  private relay(now: number, held: HeldRelease<P>, except: P | undefined, everyone: boolean): void {
    const message: GossipMessage = {
      format: GOSSIP_FORMAT,
      type: 'announce',
      kind: 'release',
      announcement: withTtl(held, held.relayTtl),
    };
    const all = everyone || this.config.mode === 'flood';
    for (const [p, st] of this.peers) {
      if (p === except || !(all || st.inMesh)) continue;
      if (st.score < 0 && currentScore(st, now, this.config) < 0) continue;
      held.sentTo.add(p);
      held.knownHave.add(p);
      this.send(p, message);
    }
    if (this.config.mode === 'mesh' && this.config.gossipHistory > 0)
      this.recent.set(held.announcement.id, this.config.gossipHistory);
  }

  /** Records an IWANT/WANT so an unanswered one costs the promiser; false if it has too many open. */
  private promise(now: number, peer: P, st: PeerState, id: string): boolean {
    if (st.promises >= this.config.maxPromisesPerPeer) return false;
    st.promises++;
    this.promised.add(id, peer, now + this.config.promiseTimeoutMs);
    return true;
  }

  private settlePromise(id: string): void {
    const peer = this.promised.settle(id);
    if (peer === undefined) return;
    const st = this.peers.get(peer);
    if (st) st.promises--;
  }

  private penalize(
    now: number,
    peer: P,
    st: PeerState,
    delta: number,
    code: ErrorCode,
    reason: RejectReason,
  ): void {
    this.emit({ type: 'rejected', from: peer, code, reason });
    const score = addScore(st, now, delta, this.config);
    if (st.inMesh && score < 0) this.meshDirty = true;
    if (score >= this.config.disconnectThreshold) return;
    this.stats.disconnects++;
    this.banned ??= new Lru(MAX_BANS);
    this.banned.set(peer, now + this.config.banMs);
    this.dropPeer(peer, st);
    this.emit({
      type: 'disconnect',
      peer,
      reason: `score below ${this.config.disconnectThreshold} (${reason})`,
    });
  }

  private dropPeer(peer: P, st: PeerState): void {
    if (st.inMesh) this.meshSize--;
    this.peers.delete(peer);
    if (st.promises > 0) this.promised.forgetPeer(peer);
    this.releases.forgetPeer(peer);
    this.objects.forgetPeer(peer);
    this.book.forgetPeer(peer);
  }

  private joinMesh(st: PeerState): void {
    st.inMesh = true;
    this.meshSize++;
  }

  private leaveMesh(st: PeerState): void {
    st.inMesh = false;
    this.meshSize--;
  }

  private send(to: P, message: GossipMessage): void {
    this.out.send(to, message);
  }

  private emit(action: HostAction<P>): void {
    this.out.emit(action);
  }
}

/** The announcement as we pass it on: same signed content, our hop budget. Cached per release. */
function withTtl<P>(held: HeldRelease<P>, ttl: number): VersionAnnouncement {
  const a = held.announcement;
  if (a.ttl === ttl) return a;
  const cached = held.outgoing;
  if (cached && cached.ttl === ttl) return cached;
  const copy = { ...a, ttl };
  held.outgoing = copy;
  return copy;
}

/** A held object on the wire with `ttl` hops. */
function objectMessage<P>(type: 'announce' | 'bundle', held: HeldObject<P>, ttl: number): GossipMessage {
  return {
    format: GOSSIP_FORMAT,
    type,
    kind: held.kind,
    id: held.id,
    object: held.object,
    ttl,
  } as GossipMessage;
}

function fenced(err: unknown): ValidationResult {
  const code = (err as { code?: unknown }).code;
  return {
    ok: false,
    code: typeof code === 'string' && code.startsWith('E_') ? (code as ErrorCode) : 'E_INTERNAL',
    reason: err instanceof Error ? err.message : String(err),
  };
}
