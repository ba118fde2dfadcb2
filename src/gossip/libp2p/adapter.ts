/**
 * The libp2p adapter of the gossip core (quinn's pump, STYLE.md section 4): it feeds the pure
 * GossipNode with connections, bytes from `/dchat/gossip/1` (wire.ts) and time, and performs
 * every action it drains: sends go on the wire, `disconnect` becomes a ban the connection gater
 * enforces, `accepted` commits the trusted state its check verified (node-trust.ts). Every
 * protocol decision (mesh, IHAVE/IWANT, anti-entropy, the hop rule, replay, dedupe, rate limits,
 * validation budget, graylist, scores) is the core's; the adapter decides nothing.
 */
import type { PeerId } from '@libp2p/interface';
import { DchatError } from '../../errors.ts';
import { logTarget } from '../../log/logger.ts';
import type { VersionAnnouncement } from '../../model/announcement.ts';
import {
  type GossipAction,
  GossipNode,
  type SignedObject,
  type SignedObjectKind,
  type ValidationResult,
} from '../core/index.ts';
import { AdapterCounts } from './adapter-counts.ts';
import type { TrustSnapshot } from './bundle.ts';
import { EncodedOnce } from './encoded-once.ts';
import { type AdapterStats, type GossipHost, type GossipServiceInit, seedOf } from './host.ts';
import { NodeTrust, type VerifiedBundle } from './node-trust.ts';
import { GossipWire } from './wire.ts';

export { BanList } from './bans.ts';
export type { AcceptedObject, AcceptedRelease, AdapterStats, GossipHost, GossipServiceInit } from './host.ts';

/** Longest timer armed at once (a far-away pollTimeout is re-armed from there). */
const MAX_TIMER_MS = 60_000;

export class GossipService {
  readonly core: GossipNode<string>;
  private readonly counts = new AdapterCounts();
  private readonly host: GossipHost;
  private readonly init: GossipServiceInit;
  private readonly now: () => number;
  private readonly trust: NodeTrust;
  private readonly wire: GossipWire;
  private readonly peerIds = new Map<string, PeerId>();
  private readonly encoded: EncodedOnce;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly onConnect = (e: CustomEvent<PeerId>) => this.track(e.detail);
  private readonly onDisconnect = (e: CustomEvent<PeerId>) => this.untrack(e.detail);

  constructor(host: GossipHost, init: GossipServiceInit) {
    this.host = host;
    this.init = init;
    this.now = init.now ?? Date.now;
    this.trust = new NodeTrust(init.trustStore, () => init.trustClock?.() ?? new Date(this.now()));
    this.core = new GossipNode<string>({
      now: this.now(),
      validate: this.trust.validate,
      config: { seed: seedOf(host.peerId.toString()), ...init.config },
      mirrors: init.mirrors ?? [],
      ...(init.validateObject ? { validateObject: init.validateObject } : {}),
    });
    this.encoded = new EncodedOnce(this.core.config.maxMessageBytes, (type, error) =>
      this.log('warn', 'message too large to send', { type, error: error.message }),
    );
    this.wire = new GossipWire(host, this.core.config.maxMessageBytes, {
      frame: (peer, bytes) => this.onFrame(peer, bytes),
      sendFailed: (peer, error) => this.log('debug', 'gossip send failed', { peer, error: error.message }),
    });
  }

  get stats(): AdapterStats {
    return this.counts.snapshot(this.wire);
  }

  get highestTrusted(): string | undefined {
    return this.trust.highest;
  }

  // ---- lifecycle (Startable) ----------------------------------------------------------------

  async start(): Promise<void> {
    await this.trust.load();
    await this.wire.start();
    this.host.addEventListener('peer:connect', this.onConnect);
    this.host.addEventListener('peer:disconnect', this.onDisconnect);
    this.running = true;
    for (const p of this.host.getPeers()) this.track(p);
    this.feed(() => {});
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.host.removeEventListener('peer:connect', this.onConnect);
    this.host.removeEventListener('peer:disconnect', this.onDisconnect);
    await this.wire.stop();
    await this.trust.flush();
  }

  // ---- inputs -------------------------------------------------------------------------------

  /**
   * Tells the core about a connected peer and who dialled (only the dialer sends HELLO). A dial
   * of ours still under way means both sides dialled at once: both count as dialers, the core's
   * rule for a simultaneous open. False if the peer is banned (hung up) or no longer connected.
   */
  private track(peer: PeerId): boolean {
    const id = peer.toString();
    if (this.peerIds.has(id)) return true;
    if (!this.running) return false;
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
    this.wire.open(peer);
    this.feed(() => this.core.connected(this.now(), id, dialled ? 'outbound' : 'inbound'));
    return true;
  }

  private untrack(peer: PeerId): void {
    const id = peer.toString();
    this.peerIds.delete(id);
    this.wire.forget(id);
    this.feed(() => this.core.disconnected(this.now(), id));
  }

  private onFrame(peer: PeerId, bytes: Uint8Array): void {
    if (!this.running || !this.track(peer)) return;
    this.feed(() => this.core.receiveBytes(this.now(), peer.toString(), bytes));
  }

  // ---- outputs ------------------------------------------------------------------------------

  /** Runs `input` on the core, performs every action it queued, and re-arms the timer. */
  private feed(input: () => void): void {
    input();
    for (let a = this.core.poll(); a !== undefined; a = this.core.poll()) this.perform(a);
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const due = this.core.pollTimeout();
    if (!Number.isFinite(due)) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        if (this.running) this.feed(() => this.core.timeout(this.now()));
      },
      Math.max(0, Math.min(MAX_TIMER_MS, due - this.now())),
    );
    this.timer.unref();
  }

  /** `feed` for a local operation that returns the core's answer. */
  private call<T>(op: () => T): T {
    const out: T[] = [];
    this.feed(() => out.push(op()));
    return out[0] as T;
  }

  private perform(a: GossipAction<string>): void {
    switch (a.type) {
      case 'send': {
        const peer = this.peerIds.get(a.to);
        const bytes = peer && this.encoded.bytes(a.message);
        if (!peer || !bytes) return;
        this.counts.sent(a.message.type);
        this.wire.send(peer, bytes);
        return;
      }
      case 'accepted': {
        const { announcement: r, from, via } = a;
        this.counts.accepted(via);
        if (via !== 'local')
          logTarget('gossip').debug(
            { id: r.id, via },
            `Received version announcement for ${r.version} from node ${from}`,
          );
        // Commits what the core's check verified; the release is the node's once that is on disk.
        this.trust.commit(a.proof as VerifiedBundle).then(
          () => {
            if (via !== 'local')
              this.log('info', 'release accepted', { version: r.version, id: r.id, from, via });
            this.init.onAccepted?.({ announcement: r, from, via });
          },
          (err: Error) =>
            this.log('warn', 'could not persist an accepted release', { id: r.id, error: err.message }),
        );
        return;
      }
      case 'object': {
        const { type: _t, ...o } = a;
        this.init.onObject?.(o);
        return;
      }
      case 'rejected': {
        logTarget('gossip').debug(
          { code: a.code, reason: a.reason },
          `Rejected a message from node ${a.from}`,
        );
        this.counts.rejected(a.from, a.reason);
        return;
      }
      case 'disconnect': {
        this.counts.refused();
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

  // ---- local operations ---------------------------------------------------------------------

  /**
   * Holds the node's highest trusted release for digests and WANT answers without pushing it
   * (a node that restarts, or got a release from a mirror, can serve late joiners at once).
   */
  adoptTrusted(): VersionAnnouncement | undefined {
    const version = this.trust.highest;
    if (!version || this.core.heldReleases().some((h) => h.version === version)) return undefined;
    const a = this.newAnnouncement(version, 0);
    return this.call(() => this.core.adopt(this.now(), a)).ok ? a : undefined;
  }

  /**
   * Announces `version` (default: the highest trusted) with `ttl` hops: the held announcement of
   * it if there is one (same id, so copies coming back dedupe), else a new one, adopted first.
   */
  async announce(version?: string, ttl?: number): Promise<{ id: string; version: string; ttl: number }> {
    const v = version ?? this.trust.highest;
    const hops = Math.min(ttl ?? this.init.defaultTtl ?? this.core.config.maxTtl, this.core.config.maxTtl);
    if (!v) throw new DchatError('E_NOT_FOUND', 'no trusted release to announce');
    let held = this.core.heldReleases().find((h) => h.version === v);
    if (!held) {
      const a = this.newAnnouncement(v, hops);
      const r = this.call(() => this.core.adopt(this.now(), a));
      if (!r.ok) throw new DchatError(r.code, r.reason ?? 'announcement refused');
      held = a;
    }
    const id = held.id;
    this.feed(() => this.core.announceHeld(this.now(), id, hops));
    return { id, version: v, ttl: hops };
  }

  /** Publishes a signed object made here (pushed with `ttl` hops), or holds one quietly (`ttl` undefined). */
  offerObject(kind: SignedObjectKind, id: string, object: SignedObject, ttl?: number): ValidationResult {
    return this.call(() =>
      ttl === undefined
        ? this.core.adoptObject(this.now(), kind, id, object)
        : this.core.publishObject(this.now(), kind, id, object, ttl),
    );
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
    return this.trust.docs;
  }

  /** Trust changed by another path (e.g. a mirror update): reload it, and hold the new release. */
  async reloadTrust(): Promise<void> {
    await this.trust.load();
    this.adoptTrusted();
  }

  private newAnnouncement(version: string, ttl: number): VersionAnnouncement {
    return this.trust.announcement({
      version,
      ttl,
      nodeId: this.host.peerId.toString(),
      addrs: this.init.selfAddrs?.() ?? [],
      maxBytes: this.core.config.maxMessageBytes,
    });
  }

  private log(level: 'debug' | 'info' | 'warn', msg: string, data?: Record<string, unknown>): void {
    this.init.onLog?.(level, msg, data);
  }
}
