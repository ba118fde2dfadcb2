/**
 * A range GET through undici's dispatch API, which speaks all of HTTP/1.1 (chunked bodies,
 * interim responses, odd servers). The 16 KiB TLS records are gathered into pieces with no stream
 * object per record, at most `max` bytes of the body are read, and the socket is paused while the
 * consumer is behind (undici's body timeout does not run then). http1/range.ts is the faster path
 * for plain Content-Length bodies; this one is used for everything else.
 */
import type { Dispatcher } from 'undici';
import { DchatError, SourceError } from '../errors.ts';
import { type Headers, PieceQueue, QUEUE_HIGH, type RangeHead, type RangeTransfer } from './piece-queue.ts';

export class UndiciRange extends PieceQueue implements RangeTransfer {
  readonly started: Promise<RangeHead>;
  /** False for a 200 (whole file): reading stops at `max` instead of failing past it. */
  private strict = true;
  private controller: Dispatcher.DispatchController | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = () => this.abort(this.signal?.reason);

  constructor(
    /** A Pool for the origin, or a ProxyAgent (which needs `origin`). */
    dispatcher: Dispatcher,
    origin: string,
    path: string,
    range: string,
    max: number,
    pieceBytes: number,
    signal: AbortSignal | undefined,
    /** Named in errors (the mirror). */
    where: string,
    /** Extra request headers (an API's Accept, a token). */
    extraHeaders: Readonly<Record<string, string>> = {},
  ) {
    super(max, pieceBytes);
    this.signal = signal;
    let resolveStart!: (v: RangeHead) => void;
    let rejectStart!: (e: unknown) => void;
    this.started = new Promise((res, rej) => {
      resolveStart = res;
      rejectStart = rej;
    });
    this.started.catch(() => {});
    signal?.addEventListener('abort', this.onAbort, { once: true });
    dispatcher.dispatch(
      { origin, path, method: 'GET', headers: { 'user-agent': 'dchat', ...extraHeaders, range } },
      {
        onRequestStart: (controller) => {
          this.controller = controller;
          if (this.stopped) controller.abort(new Error('stopped'));
        },
        onResponseStart: (_controller, code, headers) => {
          // A 200 carries the whole file: its head is what was asked for, the rest is not read.
          this.strict = code !== 200;
          resolveStart({ code, headers: headers as Headers });
        },
        onResponseData: (controller, chunk) => this.onData(controller, chunk),
        onResponseEnd: () => {
          this.flush();
          this.ended = true;
          this.poke();
        },
        onResponseError: (_controller, raw) => {
          // Our own abort reasons and errors pass as they are; undici's become our codes here.
          const err = raw instanceof DchatError || this.stopped ? raw : undiciError(raw, where);
          rejectStart(err);
          if (!this.ended) this.failure ??= err;
          this.poke();
        },
      },
    );
  }

  abort(reason?: unknown): void {
    this.signal?.removeEventListener('abort', this.onAbort);
    this.clearPartialTimer();
    if (this.stopped) return;
    this.stopped = true;
    if (!this.ended) {
      this.failure ??= reason ?? new Error('stopped');
      try {
        this.controller?.abort(reason instanceof Error ? reason : new Error('stopped'));
      } catch {
        // Already finished.
      }
    }
    this.poke();
  }

  protected resumeReading(): void {
    if (this.controller?.paused) this.controller.resume();
  }

  private onData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.stopped || this.failure !== undefined) return;
    if (this.got + chunk.byteLength > this.max) {
      if (this.strict) {
        this.failure = new SourceError(
          'E_TOO_LARGE',
          `sent more than the ${this.max} bytes of the range asked for`,
        );
        controller.abort(this.failure as Error);
        this.poke();
        return;
      }
      chunk = chunk.subarray(0, this.max - this.got);
    }
    let off = 0;
    while (off < chunk.byteLength) {
      const piece = this.piece();
      const n = Math.min(chunk.byteLength - off, piece.byteLength - this.fill);
      chunk.copy(piece, this.fill, off, off + n);
      this.fill += n;
      this.got += n;
      off += n;
      if (this.fill === piece.byteLength) this.flush();
    }
    this.armPartialTimer();
    if (!this.strict && this.got >= this.max) {
      // Whole-file answer: we have the head we wanted; the rest is not read.
      this.flush();
      this.ended = true;
      this.stopped = true;
      controller.abort(new Error('enough'));
    } else if (this.queue.length >= QUEUE_HIGH && !controller.paused) controller.pause();
    this.poke();
  }
}

/**
 * An error of undici's (or of the socket under it) as a SourceError with our code. Only here and
 * for https.ts's metadata requests: the lean path (http1/) fails with our codes from the start.
 */
export function undiciError(err: unknown, where: string): SourceError {
  const e = err as Error & { code?: string };
  switch (e?.code) {
    case 'UND_ERR_ABORTED':
      return new SourceError('E_ABORTED', `${where}: aborted`, { cause: err });
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new SourceError('E_TIMEOUT', `${where}: connect timed out`, { cause: err });
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new SourceError('E_TIMEOUT', `${where}: no response headers in time`, { cause: err });
    case 'UND_ERR_BODY_TIMEOUT':
      return new SourceError('E_TIMEOUT', `${where}: body stalled`, { cause: err });
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return new SourceError('E_NETWORK', `${where}: body does not match its Content-Length`, {
        cause: err,
      });
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
      return new SourceError('E_NETWORK', `${where}: connection dropped (${e.message})`, { cause: err });
    case 'ECONNREFUSED':
      return new SourceError('E_NETWORK', `${where}: connection refused`, { cause: err });
    default:
      return new SourceError('E_NETWORK', `${where}: ${e?.message ?? String(err)}`, { cause: err });
  }
}
