/**
 * The bulk path of an HTTP(S) mirror: one HTTP/1.1 GET with a Range header on a kept-alive
 * connection (agent.ts), the body decrypted straight into piece buffers through the socket's
 * `onread` option: no Buffer, stream event or parser call per 16 KiB TLS record. Why not undici
 * for this: on this project's 2-core benchmark machine, receiving 1 GiB of TLS with undici's
 * dispatch API cost 2.7 CPU-seconds (llhttp in WebAssembly, a fresh buffer per record, the garbage
 * collections they cause), a plain socket with `onread` 1.2, curl 1.1.
 *
 * This file is the shell: it sends the request, hands the socket memory to read into, runs the
 * timers and fills pieces. What the bytes mean is decided by the sans-IO parser (parser.ts): while
 * it allows (a Content-Length or close-framed body) reads land in the current piece and are only
 * counted; anything else (the head, chunked framing, bytes in the scratch buffer) is fed to it and
 * its `data` events are copied into pieces. A 200 or 206 the parser calls `unsupported` resolves
 * `started` with `unsupported`, and the caller redoes the request with undici (undici-range.ts).
 * Error statuses are answered from the head alone; their connection is closed, never reused.
 */
import { SourceError } from '../../errors.ts';
import { PieceQueue, QUEUE_HIGH, type RangeHead, type RangeTransfer } from '../piece-queue.ts';
import { type Conn, type ConnOwner, destroyConn, type Http1Agent } from './agent.ts';
import { type Http1Event, Http1ResponseParser } from './parser.ts';

export { Http1Agent, type Http1Origin } from './agent.ts';

export interface Http1RangeOptions {
  agent: Http1Agent;
  /** Host header value. */
  authority: string;
  path: string;
  range: string;
  /** Extra request headers (an API's Accept, a token); names and values are ours, never a peer's. */
  headers?: Readonly<Record<string, string>>;
  /** Bytes of the range: never more are read. */
  max: number;
  pieceBytes: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  signal: AbortSignal | undefined;
}

/** What `started` resolves to: the head, or a response this path does not read. */
export type Http1Head = RangeHead & { unsupported?: boolean };

/** One range request on a kept-alive connection, its body cut into pieces (see PieceQueue). */
export class Http1Range extends PieceQueue implements RangeTransfer, ConnOwner {
  readonly started: Promise<Http1Head>;
  private resolveStart!: (h: Http1Head) => void;
  private rejectStart!: (e: unknown) => void;
  private readonly o: Http1RangeOptions;
  private parser: Http1ResponseParser;
  private conn: Conn | undefined;
  private phase: 'connecting' | 'head' | 'body' | 'done' = 'connecting';
  private paused = false;
  /** The memory last handed to the socket for its next read. */
  private handed: Uint8Array | undefined;
  /** Whether the request went out on a kept-alive connection (a stale one is retried once). */
  private reusedConn = false;
  private sentAt = 0;
  private lastData = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort = () => this.abort(this.o.signal?.reason);

  constructor(o: Http1RangeOptions) {
    super(o.max, o.pieceBytes);
    this.o = o;
    this.parser = new Http1ResponseParser(o.max);
    this.started = new Promise<Http1Head>((res, rej) => {
      this.resolveStart = res;
      this.rejectStart = rej;
    });
    this.started.catch(() => {});
    o.signal?.addEventListener('abort', this.onAbort, { once: true });
    void this.send(true);
  }

  abort(reason?: unknown): void {
    this.o.signal?.removeEventListener('abort', this.onAbort);
    this.clearPartialTimer();
    this.stopTimer();
    if (this.stopped) return;
    this.stopped = true;
    if (!this.ended) {
      this.failure ??= reason ?? new SourceError('E_ABORTED', `${this.where()}: stopped`);
      this.rejectStart(this.failure);
      if (this.conn) destroyConn(this.conn);
      this.conn = undefined;
    }
    this.poke();
  }

  /**
   * Where the socket writes next: the free end of the current piece while the parser lets body
   * bytes land directly (never past what is wanted of the body, so bytes beyond it arrive
   * elsewhere and are seen), else the connection's scratch buffer.
   */
  room(): Uint8Array {
    const direct = this.phase === 'body' ? this.parser.directRoom() : 0;
    if (direct > 0) {
      const piece = this.piece();
      this.handed = piece.subarray(this.fill, this.fill + Math.min(piece.byteLength - this.fill, direct));
    } else {
      this.handed = (this.conn as Conn).scratch;
    }
    return this.handed;
  }

  onBytes(n: number, buf: Uint8Array): boolean {
    if (this.stopped) return false;
    this.lastData = Date.now();
    const inPlace = buf === this.handed && buf !== this.conn?.scratch;
    this.handed = undefined;
    if (inPlace && this.phase === 'body' && n <= this.parser.directRoom()) {
      // The common case: the bytes are already where they belong, in the current piece.
      this.fill += n;
      this.got += n;
      if (this.fill === this.current?.byteLength) this.flush();
      if (this.parser.directData(n)) this.complete();
      else this.armPartialTimer();
    } else this.handle(this.parser.feed(buf.subarray(0, n)));
    this.poke();
    if (this.queue.length >= QUEUE_HIGH && this.phase === 'body') {
      this.paused = true;
      return false;
    }
    return true;
  }

  onClosed(err: SourceError | undefined): void {
    if (this.phase === 'done' || this.stopped || this.failure !== undefined) return;
    this.conn = undefined;
    if (this.phase === 'head' && this.parser.received === 0 && this.reusedConn) {
      // A kept-alive connection the server had already closed: one retry on a fresh one.
      this.reusedConn = false;
      void this.send(false);
      return;
    }
    if (err) {
      this.fail(err);
      return;
    }
    const ev = this.parser.eof();
    if (ev) this.handle([ev]);
    this.poke();
  }

  protected resumeReading(): void {
    if (!this.paused || !this.conn) return;
    this.paused = false;
    this.lastData = Date.now();
    this.conn.socket.resume();
  }

  /** A piece handed over: memory given to the socket inside it is no longer where bytes belong. */
  protected override flush(): void {
    super.flush();
    this.handed = undefined;
  }

  /** Sends the request on a kept-alive connection if `mayReuse` and one is idle, else a new one. */
  private async send(mayReuse: boolean): Promise<void> {
    try {
      const { conn, fresh } = await this.o.agent.acquire(this.o.signal, mayReuse);
      if (this.stopped) {
        destroyConn(conn);
        return;
      }
      this.reusedConn = !fresh;
      this.conn = conn;
      conn.owner = this;
      this.phase = 'head';
      this.parser = new Http1ResponseParser(this.max);
      this.sentAt = Date.now();
      this.startTimer();
      const extra = Object.entries(this.o.headers ?? {})
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      conn.socket.write(
        `GET ${this.o.path} HTTP/1.1\r\nHost: ${this.o.authority}\r\nUser-Agent: dchat\r\n` +
          `Range: ${this.o.range}\r\n${extra}Accept-Encoding: identity\r\n\r\n`,
      );
      if (conn.socket.isPaused()) conn.socket.resume();
    } catch (err) {
      this.fail(err);
    }
  }

  /** Performs what the parser decided, in order. */
  private handle(events: Http1Event[]): void {
    for (const ev of events) {
      if (this.phase === 'done' || this.stopped || this.failure !== undefined) return;
      switch (ev.type) {
        case 'head':
          if (ev.unsupported || (ev.code !== 200 && ev.code !== 206)) {
            this.resolveStart({
              code: ev.code,
              headers: ev.headers,
              ...(ev.unsupported ? { unsupported: true } : {}),
            });
            this.abandon();
            return;
          }
          this.phase = 'body';
          this.resolveStart({ code: ev.code, headers: ev.headers });
          break;
        case 'data':
          this.place(ev.bytes);
          break;
        case 'end':
          this.complete();
          return;
        case 'error':
          // The parser knows no URL: the error says which request it was.
          this.fail(
            new SourceError(ev.error.code, `${this.where()}: ${ev.error.message}`, { cause: ev.error }),
          );
          return;
      }
    }
    if (this.phase === 'body') this.armPartialTimer();
  }

  /** Body bytes copied into pieces. */
  private place(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.byteLength) {
      const piece = this.piece();
      const n = Math.min(bytes.byteLength - off, piece.byteLength - this.fill);
      piece.set(bytes.subarray(off, off + n), this.fill);
      this.fill += n;
      this.got += n;
      off += n;
      if (this.fill === piece.byteLength) this.flush();
    }
  }

  /** The body is in: the connection goes back to the pool (or is closed). */
  private complete(): void {
    this.flush();
    this.phase = 'done';
    this.ended = true;
    this.stopTimer();
    const conn = this.conn;
    this.conn = undefined;
    if (conn) {
      if (this.parser.keepAlive && this.got === this.max) this.o.agent.release(conn);
      else destroyConn(conn);
    }
  }

  /** Done with this connection after a head we answer from alone (it is never reused). */
  private abandon(): void {
    this.phase = 'done';
    this.stopTimer();
    if (this.conn) destroyConn(this.conn);
    this.conn = undefined;
  }

  private fail(err: unknown): void {
    if (this.failure !== undefined || this.ended) return;
    this.failure = err;
    this.rejectStart(err);
    this.stopTimer();
    if (this.conn) destroyConn(this.conn);
    this.conn = undefined;
    this.poke();
  }

  private where(): string {
    return `${this.o.authority}${this.o.path}`;
  }

  /** Headers timeout from the request, then the body idle timeout (not while paused by us). */
  private startTimer(): void {
    this.stopTimer();
    const tick = Math.max(10, Math.min(this.o.headersTimeoutMs, this.o.bodyTimeoutMs) / 4);
    this.timer = setInterval(() => {
      const now = Date.now();
      if (this.phase === 'head' && now - this.sentAt > this.o.headersTimeoutMs)
        this.fail(new SourceError('E_TIMEOUT', `${this.where()}: no response headers in time`));
      else if (this.phase === 'body' && !this.paused && now - this.lastData > this.o.bodyTimeoutMs)
        this.fail(new SourceError('E_TIMEOUT', `${this.where()}: body stalled`));
    }, tick);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
