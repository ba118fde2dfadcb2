/**
 * The gossip protocol of one node as a sans-IO state machine (STYLE.md section 4, quinn-proto):
 * every input is a method call carrying `now` (ms); every effect is a GossipAction queued for the
 * host to drain with `poll()`; `pollTimeout()` says when `timeout(now)` is next due. No timers,
 * clocks, sockets or randomness of its own, so the libp2p adapter, the tests and the simulator
 * of 100,000 nodes run exactly this code.
 *
 * This file is the node's public API and the dispatch of incoming messages; the protocol's parts
 * are files of their own, functions over the node's state (node-state.ts):
 *   release-path.ts  announcements: dedupe -> replay -> validation budget -> validate -> accept
 *                    -> relay ttl-1, and answers to IWANT/WANT;
 *   object-path.ts   the same for signed objects (governance, attestations), by kind rules;
 *   control.ts       admission (size cap, rate limit, graylist), IHAVE, HELLO, GRAFT/PRUNE,
 *                    DIGEST, MIRRORS;
 *   maintenance.ts   heartbeat (expiries, mesh upkeep, lazy IHAVE) and anti-entropy.
 * Validation is synchronous (the node's check is the TUF update over bytes in memory), so there
 * is no verification in flight to track and no verdict to cache: a sender whose announcement
 * fails is graylisted at once (its next messages are not even read), and the per-peer budget
 * bounds what an honest-looking sender can make us check.
 * Every decision of the protocol is in gossip/core, once: the libp2p adapter (gossip/libp2p/) only
 * moves these messages over `/dchat/gossip/1` and performs these actions, and the simulator (sim/)
 * drives this same class, so what it measures is what the node runs.
 */
import type { VersionAnnouncement } from '../../model/announcement.ts';
import type { DownloadSource } from '../../model/download-source.ts';
import type { GossipAction, GossipActionSink, GossipStats, ValidationResult } from './actions.ts';
import type { GossipConfig } from './config.ts';
import { admitFrom, learnMirrors, onDigest, onGraft, onHello, onIhave, onPrune } from './control.ts';
import { alignHeartbeat, runDueWork } from './maintenance.ts';
import {
  decodeGossipMessage,
  GOSSIP_FORMAT,
  type GossipMessage,
  type SignedObject,
  type SignedObjectKind,
} from './messages.ts';
import { type GossipNodeInit, NodeState } from './node-state.ts';
import { acceptObject, checkLocalObject, onObject, relayObject, serveObjects } from './object-path.ts';
import { currentScore, PeerState } from './peer-state.ts';
import {
  acceptRelease,
  checkLocalRelease,
  onAnnouncement,
  relayRelease,
  serveReleases,
} from './release-path.ts';

export type { GossipNodeInit } from './node-state.ts';

export class GossipNode<P> {
  readonly config: GossipConfig;
  readonly stats: GossipStats;
  /** Everything the node knows; the protocol's parts (see the header) work on it. */
  private readonly s: NodeState<P>;

  constructor(init: GossipNodeInit) {
    this.s = new NodeState<P>(init);
    this.config = this.s.config;
    this.stats = this.s.stats;
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
    const s = this.s;
    alignHeartbeat(s, now);
    const until = s.banned?.peek(peer);
    if (until !== undefined) {
      if (until > now) {
        s.emit({ type: 'disconnect', peer, reason: 'banned' });
        return;
      }
      s.banned?.delete(peer);
    }
    if (s.peers.has(peer)) return;
    const st = new PeerState(now, s.config);
    s.peers.set(peer, st);
    if (s.config.mode === 'flood' || direction === 'inbound') return;
    st.helloSent = true;
    const graft = s.meshSize < s.config.meshDegree;
    if (graft) s.joinMesh(st);
    s.send(peer, s.hello(graft));
  }

  /** The connection to `peer` closed (or the host gave up on it). */
  disconnected(now: number, peer: P): void {
    alignHeartbeat(this.s, now);
    const st = this.s.peers.get(peer);
    if (st) this.s.dropPeer(peer, st);
  }

  /** A message from `peer`, already decoded (the simulator's path); `bytes` is its size on the wire. */
  receive(now: number, peer: P, message: GossipMessage, bytes: number): void {
    alignHeartbeat(this.s, now);
    const st = admitFrom(this.s, now, peer, bytes);
    if (st) this.dispatch(now, peer, st, message);
  }

  /** Raw bytes from `peer` (the network adapter's path): limits first, then decode, then dispatch. */
  receiveBytes(now: number, peer: P, bytes: Uint8Array): void {
    const s = this.s;
    alignHeartbeat(s, now);
    const st = admitFrom(s, now, peer, bytes.byteLength);
    if (!st) return;
    const r = decodeGossipMessage(bytes, s.config.maxMessageBytes);
    if (!r.ok) {
      s.stats.malformed++;
      s.penalize(now, peer, st, s.config.scoreMalformed, r.error.code, 'malformed');
      return;
    }
    this.dispatch(now, peer, st, r.message);
  }

  /**
   * Our own release (or one the operator injects): checked like any other, then sent to every
   * peer (floodPublish) or the mesh, carrying the announcement's own ttl.
   */
  publish(now: number, announcement: VersionAnnouncement): ValidationResult {
    const s = this.s;
    alignHeartbeat(s, now);
    const v = checkLocalRelease(s, now, announcement);
    if (!v.ok) return v;
    const ttl = Math.min(announcement.ttl, s.config.maxTtl);
    const held = acceptRelease(s, now, announcement, ttl, undefined, 'local', v.proof);
    relayRelease(s, now, held, undefined, s.config.floodPublish);
    return v;
  }

  /**
   * A release this node already trusts (found on disk at start, or fetched from a mirror), held
   * quietly: checked like any other, then offered in digests and WANT answers (late joiners catch
   * up from it) but never pushed, until `announceHeld` says so.
   */
  adopt(now: number, announcement: VersionAnnouncement): ValidationResult {
    alignHeartbeat(this.s, now);
    const v = checkLocalRelease(this.s, now, announcement);
    if (v.ok) acceptRelease(this.s, now, announcement, -1, undefined, 'local', v.proof);
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
    const s = this.s;
    alignHeartbeat(s, now);
    const v = checkLocalObject(s, now, kind, id, object);
    if (!v.ok) return v;
    const hops = Math.min(Math.max(0, ttl), s.config.maxTtl);
    const held = acceptObject(s, now, kind, id, object, hops, undefined, 'local', v.proof);
    relayObject(s, now, held, undefined, s.config.floodPublish);
    return v;
  }

  /** A signed object this node already holds (from its store at start): served to peers that ask
   * or lack it (anti-entropy), never pushed. */
  adoptObject(now: number, kind: SignedObjectKind, id: string, object: SignedObject): ValidationResult {
    alignHeartbeat(this.s, now);
    const v = checkLocalObject(this.s, now, kind, id, object);
    if (v.ok) acceptObject(this.s, now, kind, id, object, -1, undefined, 'local', v.proof);
    return v;
  }

  /**
   * Pushes a held release again (the operator's `announce`) with `ttl` hops, to every peer
   * (floodPublish) or the mesh, and advertises it by IHAVE. False if it is not held.
   */
  announceHeld(now: number, id: string, ttl: number): boolean {
    const s = this.s;
    alignHeartbeat(s, now);
    const held = s.releases.get(id);
    if (!held) return false;
    held.relayTtl = Math.min(Math.max(0, ttl), s.config.maxTtl);
    held.sentTo.clear();
    relayRelease(s, now, held, undefined, s.config.floodPublish);
    return true;
  }

  /** The download engine found a chunk from `peer` that does not match the signed chunk table. */
  badChunk(now: number, peer: P): void {
    const s = this.s;
    alignHeartbeat(s, now);
    const st = s.peers.get(peer);
    if (st) s.penalize(now, peer, st, s.config.scoreBadChunk, 'E_CHUNK_MISMATCH', 'bad-chunk');
  }

  /** A download from mirror `uri` succeeded or failed: learned mirrors prove themselves this way. */
  mirrorResult(uri: string, ok: boolean, nowIso?: string): void {
    this.s.book.report(uri, ok, nowIso);
    this.s.emit({ type: 'mirrors-changed' });
  }

  /** The operator changed the configured mirrors: keep what was learned, tell every peer. */
  setConfiguredMirrors(mirrors: readonly DownloadSource[]): void {
    const s = this.s;
    s.book.reconfigure(mirrors);
    if (s.config.mode === 'flood') return;
    const message: GossipMessage = {
      format: GOSSIP_FORMAT,
      type: 'mirrors',
      sources: [...s.book.shareable()],
    };
    for (const peer of s.peers.keys()) s.send(peer, message);
  }

  /** Runs whatever is due at `now`: heartbeat (mesh upkeep, IHAVE, expiries) and anti-entropy. */
  timeout(now: number): void {
    if (this.s.config.mode === 'flood') return;
    runDueWork(this.s, now);
  }

  /**
   * When `timeout` is next due (Infinity: never). Flooding keeps no timers; the mesh protocol
   * skips heartbeats while it has nothing to do (no IHAVE to send, no request outstanding, mesh
   * within bounds), like a QUIC connection that arms no timer when idle: a quiet network of
   * 100,000 nodes then costs only its anti-entropy ticks.
   */
  pollTimeout(): number {
    const s = this.s;
    const c = s.config;
    if (c.mode === 'flood') return Number.POSITIVE_INFINITY;
    const busy =
      s.recent.size > 0 ||
      s.promised.size > 0 ||
      s.meshDirty ||
      s.meshSize > c.meshDegreeHigh ||
      (s.meshSize < c.meshDegreeLow && s.peers.size > s.meshSize);
    const hb = busy ? s.nextHeartbeat : Number.POSITIVE_INFINITY;
    return c.antiEntropyMs > 0 ? Math.min(hb, s.nextAntiEntropy) : hb;
  }

  /** The next action for the host, or undefined when there is none. */
  poll(): GossipAction<P> | undefined {
    return this.s.out.poll();
  }

  /** Every pending action, in order, to `sink` (the simulator's allocation-free path). */
  drainTo(sink: GossipActionSink<P>): void {
    this.s.out.drainTo(sink);
  }

  /** Every pending action at once (tests and simple hosts). */
  drain(): GossipAction<P>[] {
    const all: GossipAction<P>[] = [];
    for (let a = this.poll(); a !== undefined; a = this.poll()) all.push(a);
    return all;
  }

  // ---- queries ------------------------------------------------------------------------------

  get highestVersion(): string | undefined {
    return this.s.releases.highest;
  }

  heldReleases(): VersionAnnouncement[] {
    return this.s.releases.list().map((h) => h.announcement);
  }

  /** Held signed objects of `kind` (one per slot: superseded ones are gone), oldest first. */
  heldObjects(kind: SignedObjectKind): { id: string; object: SignedObject }[] {
    return this.s.objects.list(kind).map((h) => ({ id: h.id, object: h.object }));
  }

  /** Mirrors, best first: configured, then learned ones that proved themselves, then the rest. */
  mirrors(): DownloadSource[] {
    return this.s.book.ranked();
  }

  peerScore(peer: P, now: number): number | undefined {
    const st = this.s.peers.get(peer);
    return st ? currentScore(st, now, this.s.config) : undefined;
  }

  isBanned(peer: P, now: number): boolean {
    return (this.s.banned?.peek(peer) ?? 0) > now;
  }

  connectedPeers(): P[] {
    return [...this.s.peers.keys()];
  }

  meshPeers(): P[] {
    return this.s.meshPeers();
  }

  // ---- message handling ---------------------------------------------------------------------

  private dispatch(now: number, peer: P, st: PeerState, m: GossipMessage): void {
    const s = this.s;
    switch (m.type) {
      case 'announce':
        if (m.kind === 'release') onAnnouncement(s, now, peer, st, m.announcement, 'push');
        else onObject(s, now, peer, st, m, 'push');
        return;
      case 'bundle':
        if (m.kind === 'release') onAnnouncement(s, now, peer, st, m.announcement, 'sync');
        else onObject(s, now, peer, st, m, 'sync');
        return;
    }
    // Everything else is our protocol's; the seed's flooding speaks only announcements.
    if (s.config.mode === 'flood') return;
    switch (m.type) {
      case 'ihave':
        onIhave(s, now, peer, st, m);
        return;
      case 'iwant':
        if (m.kind === undefined || m.kind === 'release') serveReleases(s, peer, m.ids, 'announce');
        else serveObjects(s, peer, m.ids, 'announce');
        return;
      case 'want':
        if (m.kind === undefined || m.kind === 'release') serveReleases(s, peer, m.ids, 'bundle');
        else serveObjects(s, peer, m.ids, 'bundle');
        return;
      case 'hello':
        onHello(s, now, peer, st, m);
        return;
      case 'graft':
        onGraft(s, now, peer, st);
        return;
      case 'prune':
        onPrune(s, now, st);
        return;
      case 'digest':
        onDigest(s, now, peer, st, m.digest, m.reply);
        return;
      case 'mirrors':
        learnMirrors(s, peer, m.sources);
        return;
    }
  }
}
