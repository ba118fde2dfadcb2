/**
 * Per-peer admission for request/response protocols: two token buckets (requests and bytes),
 * refilled lazily from the time passed in. A refused request takes nothing, so a peer that slows
 * down recovers at the refill rate. Pure: the caller supplies `now`.
 */
export interface BucketConfig {
  requestsPerSec: number;
  requestBurst: number;
  bytesPerSec: number;
  byteBurst: number;
}

export class TokenBuckets {
  private requests: number;
  private bytes: number;
  private at: number;
  private readonly cfg: BucketConfig;

  constructor(cfg: BucketConfig, now: number) {
    this.cfg = cfg;
    this.requests = cfg.requestBurst;
    this.bytes = cfg.byteBurst;
    this.at = now;
  }

  admit(now: number, bytes: number): boolean {
    const dt = Math.max(0, now - this.at);
    this.at = Math.max(this.at, now);
    this.requests = Math.min(this.cfg.requestBurst, this.requests + (dt * this.cfg.requestsPerSec) / 1000);
    this.bytes = Math.min(this.cfg.byteBurst, this.bytes + (dt * this.cfg.bytesPerSec) / 1000);
    if (this.requests < 1 || this.bytes < bytes) return false;
    this.requests -= 1;
    this.bytes -= bytes;
    return true;
  }
}

/** Buckets for many peers, bounded in count: the least recently used peer is forgotten first. */
export class PeerBuckets {
  private readonly byPeer = new Map<string, TokenBuckets>();
  private readonly cfg: BucketConfig;
  private readonly maxPeers: number;

  constructor(cfg: BucketConfig, maxPeers = 4096) {
    this.cfg = cfg;
    this.maxPeers = maxPeers;
  }

  admit(peer: string, now: number, bytes: number): boolean {
    let b = this.byPeer.get(peer);
    if (b) this.byPeer.delete(peer);
    else b = new TokenBuckets(this.cfg, now);
    this.byPeer.set(peer, b);
    if (this.byPeer.size > this.maxPeers) {
      const oldest = this.byPeer.keys().next().value;
      if (oldest !== undefined) this.byPeer.delete(oldest);
    }
    return b.admit(now, bytes);
  }
}
