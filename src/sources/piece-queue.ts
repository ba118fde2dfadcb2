/**
 * The consumer side shared by both range transports (undici-range.ts, http1/range.ts): a body of at
 * most `max` bytes cut into fixed-size pieces aligned to the start of the range, queued for one
 * async consumer. The transport fills `current` and calls `flush`; while more than QUEUE_HIGH
 * pieces wait, it pauses its socket and `resumeReading` is called once the consumer catches up.
 */
import { SourceError } from '../errors.ts';
import { takePiece } from './piece-pool.ts';

/** A piece still filling after this long is handed over as it is (progress, slow-source checks). */
const PARTIAL_PIECE_MS = 50;
/** Pieces waiting for the consumer before the socket is paused. */
export const QUEUE_HIGH = 4;

export abstract class PieceQueue {
  protected readonly max: number;
  protected readonly pieceBytes: number;
  protected readonly queue: Buffer[] = [];
  protected current: Buffer | undefined;
  protected fill = 0;
  /** Body bytes received (and kept) so far. */
  protected got = 0;
  protected ended = false;
  protected failure: unknown;
  protected stopped = false;
  private wake: (() => void) | undefined;
  private partialTimer: NodeJS.Timeout | undefined;

  protected constructor(max: number, pieceBytes: number) {
    this.max = max;
    this.pieceBytes = Math.min(pieceBytes, max);
  }

  /** The body's pieces; fails on a transport error or when the body ends short of `max`. */
  async *pieces(uri: string): AsyncGenerator<Buffer> {
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        if (this.queue.length <= 1) this.resumeReading();
        yield next;
        continue;
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.ended) break;
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
    if (this.got < this.max)
      throw new SourceError(
        'E_NETWORK',
        `${uri}: body ended after ${this.got} of ${this.max} bytes (truncated)`,
      );
  }

  /** Called when the consumer has caught up: a paused socket may read again. */
  protected abstract resumeReading(): void;

  /**
   * The piece being filled, taken from the pool when none is (sized to what is left). After a
   * piece went out partly filled (slow data), the next one only reaches the next piece boundary:
   * pieces stay aligned to the range, so chunks keep coming out of them without a copy and the
   * pieces keep going back to the pool, instead of every later chunk being copied out of a
   * straddling piece that then becomes garbage.
   */
  protected piece(): Buffer {
    this.current ??= takePiece(Math.min(this.pieceBytes - (this.got % this.pieceBytes), this.max - this.got));
    return this.current;
  }

  /** Queues the current piece, whole or as filled so far. */
  protected flush(): void {
    this.clearPartialTimer();
    if (this.current && this.fill > 0)
      this.queue.push(
        this.fill === this.current.byteLength ? this.current : this.current.subarray(0, this.fill),
      );
    this.current = undefined;
    this.fill = 0;
  }

  /** After data arrived: a piece left partly filled is handed over if no more comes soon. */
  protected armPartialTimer(): void {
    if (!this.current || this.partialTimer) return;
    this.partialTimer = setTimeout(() => {
      this.partialTimer = undefined;
      this.flush();
      this.poke();
    }, PARTIAL_PIECE_MS);
  }

  protected clearPartialTimer(): void {
    if (this.partialTimer) clearTimeout(this.partialTimer);
    this.partialTimer = undefined;
  }

  protected poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

export type Headers = Record<string, string | string[] | undefined>;

/** Status and headers of a range response. */
export interface RangeHead {
  code: number;
  headers: Headers;
}

/** One range request in flight, whichever transport carries it. */
export interface RangeTransfer {
  readonly started: Promise<RangeHead>;
  pieces(uri: string): AsyncGenerator<Buffer>;
  /** Stops the request (no-op once the body has ended). */
  abort(reason?: unknown): void;
}
