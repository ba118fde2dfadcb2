/**
 * Rates (pure): the slow-retrieval guard as a sliding window of received bytes, and the rate
 * floor it enforces (the bandwidth limit itself is util/token-bucket.ts). Time is always an
 * argument (ms); the engine does the waiting.
 */

/**
 * Bytes received over the last `windowMs`, to tell a slow source (slow-retrieval attack) apart.
 * Counted in 20 buckets, so a stream of many small pieces costs O(1) per piece.
 */
export class RateWindow {
  readonly windowMs: number;
  readonly startedAt: number;
  private readonly bucketMs: number;
  private readonly buckets: Float64Array;
  /** Index (time / bucketMs) of the newest bucket written. */
  private head: number;
  private sum = 0;

  constructor(windowMs: number, now: number) {
    this.windowMs = windowMs;
    this.startedAt = now;
    this.bucketMs = Math.max(1, windowMs / 20);
    this.buckets = new Float64Array(20);
    this.head = Math.floor(now / this.bucketMs);
  }

  add(bytes: number, now: number): void {
    this.advance(now);
    const slot = this.head % this.buckets.length;
    this.buckets[slot] = (this.buckets[slot] as number) + bytes;
    this.sum += bytes;
  }

  /** Bytes per second over the window ending at `now`. */
  rate(now: number): number {
    this.advance(now);
    const span = Math.min(this.windowMs, Math.max(1, now - this.startedAt));
    return (this.sum / span) * 1000;
  }

  /**
   * True when the stream has run a whole window and delivered less than `minRateBps` over it.
   * A stream is never judged before one window has passed (connection set-up, slow start).
   */
  tooSlow(now: number, minRateBps: number): boolean {
    if (minRateBps <= 0 || now - this.startedAt < this.windowMs) return false;
    return this.rate(now) < minRateBps;
  }

  /** Moves the window to `now`, clearing the buckets that fell out of it. */
  private advance(now: number): void {
    const idx = Math.floor(now / this.bucketMs);
    if (idx <= this.head) return;
    const n = this.buckets.length;
    for (let i = this.head + 1; i <= Math.min(idx, this.head + n); i++) {
      const slot = i % n;
      this.sum -= this.buckets[slot] as number;
      this.buckets[slot] = 0;
    }
    this.head = idx;
  }
}

/**
 * The minimum rate actually enforced: a bandwidth limit of our own must never make a source look
 * slow, so with a limit the floor is at most a quarter of each stream's share of it.
 */
export function effectiveMinRate(
  minRateBps: number,
  limitRateBps: number | undefined,
  streams: number,
): number {
  if (!limitRateBps || limitRateBps <= 0) return minRateBps;
  return Math.min(minRateBps, limitRateBps / Math.max(1, streams) / 4);
}
