/**
 * One token bucket for every rate limit in the program (per-peer admission, download rate caps).
 * Pure: no timers, no clock. The caller passes `now` (ms) and the bucket refills lazily from the
 * time passed since the last call. Time never runs backwards inside the bucket: an older `now`
 * refills nothing, so a clock that steps back cannot mint tokens.
 *
 * Two ways to spend, because the two callers want opposite things:
 * - `tryTake` (admission): take `n` only if all of it is there; a refusal takes nothing, so a
 *   sender that slows down recovers at the refill rate.
 * - `take` (pacing): always take, going into debt; the answer is how long to wait before the
 *   debt is repaid, which is how a rate cap delays instead of refusing.
 */
export class TokenBucket {
  /** Tokens added per second. */
  readonly ratePerSec: number;
  /** Most tokens the bucket holds (also the starting amount). */
  readonly burst: number;
  private tokens: number;
  private at: number;

  constructor(ratePerSec: number, burst: number, now: number) {
    if (!(ratePerSec > 0) || !(burst >= 0))
      throw new RangeError('token bucket: rate must be > 0, burst >= 0');
    this.ratePerSec = ratePerSec;
    this.burst = burst;
    this.tokens = burst;
    this.at = now;
  }

  /** Tokens available at `now` (negative while in debt after `take`). */
  available(now: number): number {
    if (now > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.ratePerSec) / 1000);
      this.at = now;
    }
    return this.tokens;
  }

  /** Takes `n` if the bucket holds at least `n` at `now`; otherwise takes nothing. */
  tryTake(now: number, n: number): boolean {
    if (this.available(now) < n) return false;
    this.tokens -= n;
    return true;
  }

  /**
   * Takes `n` (may go into debt); returns how many ms after `now` the tokens are really there
   * (counted from the bucket's own time when `now` is older than it).
   */
  take(now: number, n: number): number {
    this.tokens = this.available(now) - n;
    if (this.tokens >= 0) return 0;
    return Math.ceil(Math.max(0, this.at - now) + (-this.tokens / this.ratePerSec) * 1000);
  }
}

/**
 * Admission against several buckets at once (e.g. messages and bytes): all must hold their cost,
 * and a refusal takes from none of them.
 */
export function tryTakeAll(now: number, costs: ReadonlyArray<readonly [TokenBucket, number]>): boolean {
  for (const [b, n] of costs) if (b.available(now) < n) return false;
  for (const [b, n] of costs) b.tryTake(now, n);
  return true;
}
