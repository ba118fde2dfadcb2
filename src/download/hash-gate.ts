/**
 * Memory bound for the whole-file hashes. The hashing worker (stream-digest.ts) may hold tens of
 * MiB it has been handed but not hashed yet, on top of the reorder window; when it falls behind
 * the network, a producer waits here before offering another chunk until the worker's backlog is
 * below `aheadBytes`. Only the hashing's own progress (buffers it gives back, counted by
 * `returned`) releases a waiter, never another source, so it cannot deadlock. Hashing on this
 * thread (small packages) gives nothing back: a gate that saw no buffer come back for
 * FIRST_RETURN_MS while waiting stops gating rather than wait for ever.
 */
import { releasePiece } from '../sources/piece-pool.ts';

/** 2 MiB: see engine.ts WINDOW_BYTES_PER_STREAM (the two bound a download's peak together). */
export const HASH_AHEAD_BYTES = 2 * 1024 * 1024;
const FIRST_RETURN_MS = 500;

export class HashGate {
  private readonly aheadBytes: number;
  private hashed = 0;
  private waiters: (() => void)[] = [];
  private open = false;

  constructor(aheadBytes = HASH_AHEAD_BYTES) {
    this.aheadBytes = aheadBytes;
  }

  /** The hashes are done with `buf` (the OrderedDigest's onReturn): it goes back to the pool. */
  returned = (buf: Buffer): void => {
    this.hashed += buf.byteLength;
    releasePiece(buf);
    this.release();
  };

  /** Waits while more than `aheadBytes` of the `handed` bytes are not hashed yet. */
  async room(handed: () => number): Promise<void> {
    while (!this.open && handed() - this.hashed > this.aheadBytes) {
      if (this.hashed > 0) {
        await new Promise<void>((r) => this.waiters.push(r));
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      const late = await Promise.race([
        new Promise<false>((r) => this.waiters.push(() => r(false))),
        new Promise<true>((r) => {
          timer = setTimeout(() => r(true), FIRST_RETURN_MS);
        }),
      ]);
      clearTimeout(timer);
      if (late && this.hashed === 0) this.open = true;
    }
  }

  /** No more waiting (the download ends). */
  close(): void {
    this.open = true;
    this.release();
  }

  private release(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }
}
