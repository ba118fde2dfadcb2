import type { GossipConfig } from './config.ts';

/**
 * What a node keeps about one connected peer: its rate-limit buckets, its score and its place in
 * the mesh. Plain fields on one object per peer (no per-peer closures or sub-objects): the
 * simulator holds a million of these.
 *
 * The buckets are therefore not util/token-bucket.ts objects, though they follow the same rule
 * (lazy refill from `now`, no refill when time runs back, a refusal takes nothing — `admit` is
 * `tryTakeAll` over two buckets). Three TokenBucket objects per peer would add three object
 * headers and pointers and repeat each rate and burst per peer (they live once in GossipConfig
 * here): more memory per peer, which the 100,000-node simulations cannot spare.
 */
export class PeerState {
  /** Token buckets, refilled lazily from `refilledAt` (no timers). */
  msgTokens: number;
  byteTokens: number;
  refilledAt: number;
  /** Validation budget (see GossipConfig.validatePerSec), refilled lazily from `validateAt`. */
  validateTokens: number;
  validateAt: number;
  /** Score as of `scoredAt`; read it through `currentScore`, which applies the decay since. */
  score = 0;
  scoredAt: number;
  firstDeliveries = 0;
  inMesh = false;
  /** No GRAFT in either direction before this time (after a PRUNE). */
  backoffUntil = 0;
  /** Outstanding IWANT/WANT ids we asked this peer for. */
  promises = 0;
  /** We sent this peer a HELLO (we dialled it, or the host could not tell). */
  helloSent = false;

  constructor(now: number, cfg: GossipConfig) {
    this.msgTokens = cfg.rateMsgBurst;
    this.byteTokens = cfg.rateBytesBurst;
    this.refilledAt = now;
    this.validateTokens = cfg.validateBurst;
    this.validateAt = now;
    this.scoredAt = now;
  }
}

/**
 * Token-bucket admission of one message of `bytes` bytes. Both buckets must hold enough; a
 * refused message takes nothing, so a peer that slows down recovers at the refill rate.
 */
export function admit(p: PeerState, now: number, bytes: number, cfg: GossipConfig): boolean {
  const dt = now - p.refilledAt;
  if (dt > 0) {
    p.msgTokens = Math.min(cfg.rateMsgBurst, p.msgTokens + (dt * cfg.rateMsgsPerSec) / 1000);
    p.byteTokens = Math.min(cfg.rateBytesBurst, p.byteTokens + (dt * cfg.rateBytesPerSec) / 1000);
    p.refilledAt = now;
  }
  if (p.msgTokens < 1 || p.byteTokens < bytes) return false;
  p.msgTokens -= 1;
  p.byteTokens -= bytes;
  return true;
}

/** Takes one token of the peer's validation budget; false (nothing taken) when it is spent. */
export function admitValidation(p: PeerState, now: number, cfg: GossipConfig): boolean {
  const dt = now - p.validateAt;
  if (dt > 0) {
    p.validateTokens = Math.min(cfg.validateBurst, p.validateTokens + (dt * cfg.validatePerSec) / 1000);
    p.validateAt = now;
  }
  if (p.validateTokens < 1) return false;
  p.validateTokens -= 1;
  return true;
}

/** The score now: it decays toward 0 geometrically, so old offences are forgiven, repeated ones are not. */
export function currentScore(p: PeerState, now: number, cfg: GossipConfig): number {
  if (p.score === 0 || now <= p.scoredAt) return p.score;
  const s = p.score * cfg.scoreDecay ** ((now - p.scoredAt) / cfg.scoreDecayIntervalMs);
  // Decay never reaches zero exactly; below this the peer counts as forgiven.
  return Math.abs(s) < SCORE_EPSILON ? 0 : s;
}

const SCORE_EPSILON = 0.01;

/** Adds `delta` to the decayed score; returns the new score. */
export function addScore(p: PeerState, now: number, delta: number, cfg: GossipConfig): number {
  const s = currentScore(p, now, cfg) + delta;
  p.score = Math.abs(s) < SCORE_EPSILON ? 0 : s;
  p.scoredAt = Math.max(now, p.scoredAt);
  return p.score;
}
