/**
 * The state of one gossip node (GossipNode, node.ts) and the primitives every part of its protocol
 * uses: send and emit, penalize and ban, join and leave the mesh, promise and settle requests, the
 * digest, and the injected checks, fenced. The protocol's paths (release-path.ts, object-path.ts,
 * control.ts, maintenance.ts) are functions over this one object, so the node's data lives in one
 * place while each path is a file of its own. Internal to gossip/core: not exported by index.ts.
 * Sans-IO like the rest of the core: `now` always comes in as an argument.
 */
import type { ErrorCode } from '../../errors.ts';
import type { VersionAnnouncement } from '../../model/announcement.ts';
import type { DownloadSource } from '../../model/download-source.ts';
import { compareVersions } from '../../model/version.ts';
import { Lru } from '../../util/lru.ts';
import { ActionQueue, type HostAction } from './action-queue.ts';
import {
  emptyStats,
  type GossipStats,
  type RejectReason,
  type ValidateAnnouncement,
  type ValidateObject,
  type ValidationResult,
} from './actions.ts';
import { type GossipConfig, resolveGossipConfig } from './config.ts';
import {
  type Digest,
  GOSSIP_FORMAT,
  type GossipMessage,
  type SignedObject,
  type SignedObjectKind,
} from './messages.ts';
import { MirrorBook } from './mirror-book.ts';
import { KIND_RULES, type KindRules } from './object-kinds.ts';
import { ObjectBook } from './objects.ts';
import { addScore, type PeerState } from './peer-state.ts';
import { PendingRequests } from './pending-requests.ts';
import { type CompareVersions, ReleaseBook } from './releases.ts';
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
export const GRAFT: GossipMessage = Object.freeze({ format: GOSSIP_FORMAT, type: 'graft' });
export const PRUNE: GossipMessage = Object.freeze({ format: GOSSIP_FORMAT, type: 'prune' });
/** Bans remembered at most (oldest forgotten first), so invented peer ids cannot grow memory. */
const MAX_BANS = 4096;

export class NodeState<P> {
  readonly config: GossipConfig;
  readonly stats: GossipStats = emptyStats();
  readonly validate: ValidateAnnouncement;
  readonly rng: Rng;
  readonly peers = new Map<P, PeerState>();
  meshSize = 0;
  /** Banned peers and until when; created at the first ban. */
  banned: Lru<P, number> | undefined;
  readonly seen: SeenCache;
  readonly releases: ReleaseBook<P>;
  readonly objects: ObjectBook<P>;
  readonly validateObject: ValidateObject | undefined;
  /** The digest as last built from its release and object parts (same object while neither changed). */
  private digestCache:
    | { releases: Digest; objects: readonly unknown[] | undefined; digest: Digest }
    | undefined;
  readonly book: MirrorBook<P>;
  /** Announcements still to be advertised by IHAVE: id -> heartbeats left. */
  readonly recent = new Map<string, number>();
  readonly promised = new PendingRequests<P>();
  /** HELLO messages as last built (without and with graft); rebuilt when digest or mirrors change. */
  private helloCache: [GossipMessage, GossipMessage] | undefined;
  readonly out = new ActionQueue<P>();
  nextHeartbeat: number;
  /** A mesh peer went below zero or the mesh grew past D_hi: the next heartbeat has mesh work. */
  meshDirty = false;
  nextAntiEntropy: number;

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

  /** The HELLO for a new connection, shared between connections while nothing it says changed. */
  hello(graft: boolean): GossipMessage {
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

  /** Releases and objects held, as one digest; the same object while neither part changed. */
  digest(): Digest {
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
  checkObject(kind: SignedObjectKind, id: string, object: SignedObject): ValidationResult {
    if (!this.validateObject)
      return { ok: false, code: 'E_UNSUPPORTED', reason: 'this node takes no signed objects' };
    try {
      return this.validateObject(kind, id, object);
    } catch (err) {
      return fenced(err);
    }
  }

  /** The injected validator, fenced: a validator that throws is our bug, not the peer's fault. */
  check(a: VersionAnnouncement): ValidationResult {
    try {
      return this.validate(a);
    } catch (err) {
      return fenced(err);
    }
  }

  /** Records an IWANT/WANT so an unanswered one costs the promiser; false if it has too many open. */
  promise(now: number, peer: P, st: PeerState, id: string): boolean {
    if (st.promises >= this.config.maxPromisesPerPeer) return false;
    st.promises++;
    this.promised.add(id, peer, now + this.config.promiseTimeoutMs);
    return true;
  }

  settlePromise(id: string): void {
    const peer = this.promised.settle(id);
    if (peer === undefined) return;
    const st = this.peers.get(peer);
    if (st) st.promises--;
  }

  /** `peer` answered our request for `id` with the object that superseded it: promise kept. */
  settleAnswer(id: string, peer: P): void {
    if (!this.promised.settleFrom(id, peer)) return;
    const st = this.peers.get(peer);
    if (st) st.promises--;
  }

  penalize(now: number, peer: P, st: PeerState, delta: number, code: ErrorCode, reason: RejectReason): void {
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

  dropPeer(peer: P, st: PeerState): void {
    if (st.inMesh) this.meshSize--;
    this.peers.delete(peer);
    if (st.promises > 0) this.promised.forgetPeer(peer);
    this.releases.forgetPeer(peer);
    this.objects.forgetPeer(peer);
    this.book.forgetPeer(peer);
  }

  joinMesh(st: PeerState): void {
    st.inMesh = true;
    this.meshSize++;
  }

  leaveMesh(st: PeerState): void {
    st.inMesh = false;
    this.meshSize--;
  }

  meshPeers(): P[] {
    const out: P[] = [];
    for (const [p, st] of this.peers) if (st.inMesh) out.push(p);
    return out;
  }

  send(to: P, message: GossipMessage): void {
    this.out.send(to, message);
  }

  emit(action: HostAction<P>): void {
    this.out.emit(action);
  }
}

function fenced(err: unknown): ValidationResult {
  const code = (err as { code?: unknown }).code;
  return {
    ok: false,
    code: typeof code === 'string' && code.startsWith('E_') ? (code as ErrorCode) : 'E_INTERNAL',
    reason: err instanceof Error ? err.message : String(err),
  };
}
