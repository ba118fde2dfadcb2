import { DchatError } from '../../errors.ts';
import { LIMITS } from '../../model/limits.ts';

/**
 * Every tunable of the gossip core, with units in the names. Callers pass Partial<GossipConfig>;
 * `resolveGossipConfig` fills the rest once, so the hot paths read plain numbers.
 *
 * Mesh numbers follow gossipsub v1.1 (D=6, D_lo=4, D_lazy, heartbeat 1 s, prune backoff 1 min)
 * except D_hi: gossipsub's 12 would, on our 8..12-peer topologies, turn the mesh into flooding.
 */
export interface GossipConfig {
  /**
   * 'mesh': our protocol (eager push to a bounded mesh, lazy IHAVE/IWANT to others, anti-entropy).
   * 'flood': the seed's plain TTL flooding (every new announcement to every other peer), kept so
   * the simulator compares both with the same validation, dedupe and defences.
   */
  mode: 'mesh' | 'flood';
  /** D: mesh size aimed at. */
  meshDegree: number;
  /** D_lo: below this the heartbeat grafts peers back up to D. */
  meshDegreeLow: number;
  /** D_hi: above this the heartbeat prunes down to D, keeping the best-scored peers. */
  meshDegreeHigh: number;
  /** D_lazy: non-mesh peers told IHAVE per heartbeat for each recent announcement. */
  lazyDegree: number;
  /** Heartbeats an accepted announcement stays advertised by IHAVE (gossipsub mcache_gossip). */
  gossipHistory: number;
  /** The origin sends a new announcement to all its peers, not only its mesh (gossipsub floodPublish). */
  floodPublish: boolean;
  heartbeatMs: number;
  /** Period of the digest exchange with one random peer; 0 turns periodic anti-entropy off. */
  antiEntropyMs: number;
  /** After a PRUNE, neither side grafts the other again for this long. */
  pruneBackoffMs: number;
  /** An IWANT or WANT must be answered within this, or the peer broke its promise. */
  promiseTimeoutMs: number;
  /** Outstanding IWANT/WANT requests per peer; bounds what a peer's IHAVE can make us ask. */
  maxPromisesPerPeer: number;
  /** Dedupe memory: announcement ids kept this long, at most this many. */
  seenTtlMs: number;
  seenCapacity: number;
  /** TTL is outside the signature: a relayed copy never carries more than this many hops. */
  maxTtl: number;
  /**
   * Releases kept to answer IWANT/WANT and to build digests (older ones are below `highest`).
   * Each holds its TUF bundle, whose targets document lists every release published: at 16 held,
   * a node's memory grew by 16 times that document's growth with every release (23 KB a release
   * in a soak at 60 releases), where the newest alone is what a peer behind needs.
   */
  maxHeldReleases: number;
  /** Size cap of one message on the wire. */
  maxMessageBytes: number;
  /** Per-peer token buckets: messages and bytes. */
  rateMsgsPerSec: number;
  rateMsgBurst: number;
  rateBytesPerSec: number;
  rateBytesBurst: number;
  /**
   * Per-peer validation budget: announcements from one peer that reach the (costly) signature
   * check, per second and in a burst. Past it, one is dropped unchecked (not accepted, not relayed;
   * anti-entropy fetches it later from someone) and costs the peer scoreRateLimited.
   */
  validatePerSec: number;
  validateBurst: number;
  /** Score changes (gossipsub P4 invalid messages, P7 broken promises; bad chunks from the download engine). */
  scoreInvalid: number;
  scoreMalformed: number;
  scoreTooLarge: number;
  scoreRateLimited: number;
  scoreBrokenPromise: number;
  scoreBadChunk: number;
  scoreFirstDelivery: number;
  scoreFirstDeliveryCap: number;
  /**
   * Score thresholds: below gossip, IHAVE from/to the peer is skipped; below graylist, all its
   * messages are ignored; below disconnect, the node asks to disconnect and bans it. With the
   * defaults one forged, malformed or oversized message graylists a peer (an honest node never
   * relays what fails validation: it validates before relaying) and a second one disconnects it;
   * so do two bad chunks, or ~40 messages past the rate limit in a short time.
   */
  gossipThreshold: number;
  graylistThreshold: number;
  disconnectThreshold: number;
  /** Scores move toward 0 by this factor every `scoreDecayIntervalMs`. */
  scoreDecay: number;
  scoreDecayIntervalMs: number;
  banMs: number;
  /** Mirror sharing: learned mirrors kept, from one peer at most, and how they are ranked. */
  maxLearnedMirrors: number;
  maxMirrorsPerPeer: number;
  learnedPriorityPenalty: number;
  mirrorProvenAfter: number;
  mirrorDropAfterFailures: number;
  /** Seed of the node's random choices (mesh peers, lazy gossip targets, jitter); GossipNodeInit.seed overrides it. */
  seed: number;
}

export const defaultGossipConfig: Readonly<GossipConfig> = {
  mode: 'mesh',
  meshDegree: 6,
  meshDegreeLow: 4,
  meshDegreeHigh: 8,
  lazyDegree: 2,
  gossipHistory: 2,
  floodPublish: true,
  heartbeatMs: 1000,
  antiEntropyMs: 10_000,
  pruneBackoffMs: 60_000,
  promiseTimeoutMs: 3000,
  maxPromisesPerPeer: 16,
  seenTtlMs: 120_000,
  seenCapacity: 4096,
  maxTtl: 32,
  maxHeldReleases: 4,
  maxMessageBytes: LIMITS.gossipMessageBytes,
  rateMsgsPerSec: 50,
  rateMsgBurst: 200,
  rateBytesPerSec: 1024 * 1024,
  rateBytesBurst: 4 * 1024 * 1024,
  validatePerSec: 5,
  validateBurst: 20,
  scoreInvalid: -25,
  scoreMalformed: -25,
  scoreTooLarge: -25,
  scoreRateLimited: -1,
  scoreBrokenPromise: -2,
  scoreBadChunk: -25,
  scoreFirstDelivery: 1,
  scoreFirstDeliveryCap: 10,
  gossipThreshold: -5,
  graylistThreshold: -20,
  disconnectThreshold: -40,
  scoreDecay: 0.9,
  scoreDecayIntervalMs: 1000,
  banMs: 600_000,
  maxLearnedMirrors: 32,
  maxMirrorsPerPeer: 8,
  learnedPriorityPenalty: 1000,
  mirrorProvenAfter: 2,
  mirrorDropAfterFailures: 3,
  seed: 0,
};

/** Configs already resolved: passed through as they are, so 100,000 simulated nodes share one. */
const resolved = new WeakSet<GossipConfig>();

/**
 * Fills defaults and rejects settings the state machine cannot honour (a programming error).
 * The result is frozen and recognised: resolving it again returns it unchanged.
 */
export function resolveGossipConfig(partial: Partial<GossipConfig> = {}): GossipConfig {
  if (resolved.has(partial as GossipConfig)) return partial as GossipConfig;
  const c: GossipConfig = { ...defaultGossipConfig };
  for (const [k, v] of Object.entries(partial))
    if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
  if (!(c.meshDegreeLow <= c.meshDegree && c.meshDegree <= c.meshDegreeHigh))
    throw new DchatError('E_CONFIG', 'gossip config: need meshDegreeLow <= meshDegree <= meshDegreeHigh');
  if (c.heartbeatMs <= 0) throw new DchatError('E_CONFIG', 'gossip config: heartbeatMs must be positive');
  if (!(c.disconnectThreshold <= c.graylistThreshold && c.graylistThreshold <= c.gossipThreshold))
    throw new DchatError(
      'E_CONFIG',
      'gossip config: need disconnectThreshold <= graylistThreshold <= gossipThreshold',
    );
  Object.freeze(c);
  resolved.add(c);
  return c;
}
