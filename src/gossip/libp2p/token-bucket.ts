/**
 * Per-peer admission for request/response protocols: two buckets per peer (requests and bytes),
 * util/token-bucket.ts refilled lazily from the time passed in, held in a util/lru.ts map so
 * the peers remembered are capped. A refused request takes from neither bucket, so a peer that
 * slows down recovers at the refill rate. Pure: the caller supplies `now`.
 */
import { Lru } from '../../util/lru.ts';
import { TokenBucket, tryTakeAll } from '../../util/token-bucket.ts';

export interface BucketConfig {
  requestsPerSec: number;
  requestBurst: number;
  bytesPerSec: number;
  byteBurst: number;
}

interface Buckets {
  requests: TokenBucket;
  bytes: TokenBucket;
}

/** Buckets for many peers, bounded in count: the least recently used peer is forgotten first. */
export class PeerBuckets {
  private readonly byPeer: Lru<string, Buckets>;
  private readonly cfg: BucketConfig;

  constructor(cfg: BucketConfig, maxPeers = 4096) {
    this.cfg = cfg;
    this.byPeer = new Lru(maxPeers);
  }

  admit(peer: string, now: number, bytes: number): boolean {
    let b = this.byPeer.get(peer);
    if (!b) {
      b = {
        requests: new TokenBucket(this.cfg.requestsPerSec, this.cfg.requestBurst, now),
        bytes: new TokenBucket(this.cfg.bytesPerSec, this.cfg.byteBurst, now),
      };
      this.byPeer.set(peer, b);
    }
    return tryTakeAll(now, [
      [b.requests, 1],
      [b.bytes, bytes],
    ]);
  }
}
