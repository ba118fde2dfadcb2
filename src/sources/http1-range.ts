/**
 * The bulk path of an HTTP(S) mirror: one HTTP/1.1 GET with a Range header on a kept-alive node:tls
 * socket (node:net for a loopback http mirror), the body decrypted straight into piece buffers
 * through the socket's `onread` option: no Buffer, stream event or parser call per 16 KiB TLS
 * record. Why not undici for this: on this project's 2-core benchmark machine, receiving 1 GiB of
 * TLS with undici's dispatch API cost 2.7 CPU-seconds (llhttp in WebAssembly, a fresh buffer per
 * record, the garbage collections they cause), a plain socket with `onread` 1.2, curl 1.1.
 *
 * It reads the body framings of RFC 9112 §6.3 (Content-Length, chunked, until close) and skips
 * interim 1xx answers. A 200 or 206 framed any other way (another transfer coding, conflicting
 * lengths) resolves `started` with `unsupported`, and the caller redoes the request with undici
 * (undici-range.ts). Error statuses are answered from the head alone; their connection is closed,
 * never reused. Every untrusted size has a cap: the head, its header count, chunk-size lines, and
 * the body itself (never more than the range asked for).
 */
import { connect as netConnect, type OnReadOpts, type Socket } from 'node:net';
import { type ConnectionOptions, type SecureContext, connect as tlsConnect } from 'node:tls';
import { SourceError } from '../errors.ts';
import { PieceQueue, QUEUE_HIGH, type RangeHead, type RangeTransfer } from './piece-queue.ts';

/** A response head larger than this is refused (the head of a range answer is a few hundred bytes). */
const MAX_HEAD_BYTES = 32 * 1024;
const MAX_HEADERS = 100;
/** Idle kept-alive connections are closed after this long (servers usually drop them sooner). */
const IDLE_MS = 30_000;

export interface Http1Origin {
  protocol: 'https:' | 'http:';
  host: string;
  port: number;
  /** Roots to trust (https only); Node's default store when absent. */
  secureContext?: SecureContext;
  connectTimeoutMs: number;
  /** Idle connections kept for reuse. */
  maxIdle: number;
}

/**
 * One connection; whichever request owns it receives its bytes. Node asks `onread.buffer` for the
 * next read's memory right after each callback, so a read may land in memory handed out earlier
 * (the scratch buffer of an idle connection, a piece since handed over): the callback names it.
 */
interface Conn {
  socket: Socket;
  owner: Http1Range | undefined;
  /** Where reads land while no request owns the connection (the first bytes of a response). */
  scratch: Buffer;
  idleTimer: NodeJS.Timeout | undefined;
  dead: boolean;
}

const SCRATCH_BYTES = 16 * 1024;

/** Kept-alive connections to one origin. */
export class Http1Agent {
  private readonly o: Http1Origin;
  private idle: Conn[] = [];
  private closed = false;

  constructor(o: Http1Origin) {
    this.o = o;
  }

  /** A connection for one request: an idle one if allowed and there is, else a new one (`fresh`). */
  async acquire(
    signal: AbortSignal | undefined,
    allowIdle: boolean,
  ): Promise<{ conn: Conn; fresh: boolean }> {
    for (let c = allowIdle ? this.idle.pop() : undefined; c; c = this.idle.pop()) {
      if (c.idleTimer) clearTimeout(c.idleTimer);
      c.idleTimer = undefined;
      if (!c.dead) {
        c.socket.ref();
        return { conn: c, fresh: false };
      }
    }
    return { conn: await this.connect(signal), fresh: true };
  }

  /** Back to the pool after a complete response on a connection the server keeps open. */
  release(c: Conn): void {
    c.owner = undefined;
    this.idle = this.idle.filter((x) => !x.dead);
    if (c.dead || this.closed || this.idle.length >= this.o.maxIdle) {
      destroy(c);
      return;
    }
    c.idleTimer = setTimeout(() => {
      this.idle = this.idle.filter((x) => x !== c);
      destroy(c);
    }, IDLE_MS);
    c.idleTimer.unref();
    // As node:http's Agent does: an idle connection does not keep the process alive.
    c.socket.unref();
    this.idle.push(c);
  }

  close(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) destroy(c);
  }

  private connect(signal: AbortSignal | undefined): Promise<Conn> {
    const { protocol, host, port } = this.o;
    return new Promise<Conn>((resolve, reject) => {
      const conn: Conn = {
        socket: undefined as unknown as Socket,
        owner: undefined,
        scratch: Buffer.allocUnsafe(SCRATCH_BYTES),
        idleTimer: undefined,
        dead: false,
      };
      const onread: OnReadOpts = {
        buffer: () => conn.owner?.room() ?? conn.scratch,
        callback: (n: number, buf: Uint8Array) => {
          if (conn.owner) return conn.owner.onBytes(n, buf);
          // Bytes nobody asked for: the server broke the protocol. This connection is done.
          destroy(conn);
          return false;
        },
      };
      const done = (err?: Error) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err) {
          destroy(conn);
          reject(err);
        } else resolve(conn);
      };
      const onAbort = () => done(signal?.reason ?? new Error('aborted'));
      const timer = setTimeout(
        () =>
          done(
            Object.assign(new Error('connect timed out'), {
              code: 'UND_ERR_CONNECT_TIMEOUT',
            }),
          ),
        this.o.connectTimeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      const socket =
        protocol === 'https:'
          ? tlsConnect(
              // tls.connect takes `onread` as net.connect does (Node's docs); @types/node omits it.
              {
                host,
                port,
                ALPNProtocols: ['http/1.1'],
                onread,
                ...(this.o.secureContext ? { secureContext: this.o.secureContext } : {}),
              } as ConnectionOptions,
              () => done(),
            )
          : netConnect({ host, port, onread }, () => done());
      conn.socket = socket;
      socket.setNoDelay(true);
      socket.on('error', (err) => {
        conn.dead = true;
        if (conn.owner) conn.owner.onClosed(err);
        else done(err);
      });
      socket.on('close', () => {
        conn.dead = true;
        if (conn.idleTimer) clearTimeout(conn.idleTimer);
        conn.owner?.onClosed(undefined);
      });
    });
  }
}

function destroy(c: Conn): void {
  c.dead = true;
  if (c.idleTimer) clearTimeout(c.idleTimer);
  c.owner = undefined;
  c.socket?.destroy();
}

export interface Http1RangeOptions {
  agent: Http1Agent;
  /** Host header value. */
  authority: string;
  path: string;
  range: string;
  /** Bytes of the range: never more are read. */
  max: number;
  pieceBytes: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  signal: AbortSignal | undefined;
}

/** What `started` resolves to: the head, or a response this path does not read. */
export type Http1Head = RangeHead & { unsupported?: boolean };

/** How the end of a body is known (RFC 9112 §6.3). */
type Framing = 'length' | 'chunked' | 'close';

/** A chunk-size line longer than this is refused (hex digits plus extensions). */
const MAX_CHUNK_LINE = 1024;

/**
 * One range request on a kept-alive connection, its body cut into pieces (see PieceQueue). A body
 * framed by Content-Length or by the connection's close is read straight into the pieces; a chunked
 * body is read into the connection's scratch buffer and its data copied out.
 */
export class Http1Range extends PieceQueue implements RangeTransfer {
  readonly started: Promise<Http1Head>;
  private resolveStart!: (h: Http1Head) => void;
  private rejectStart!: (e: unknown) => void;
  private readonly o: Http1RangeOptions;
  private conn: Conn | undefined;
  private phase: 'connecting' | 'head' | 'body' | 'done' = 'connecting';
  private head = Buffer.allocUnsafe(0);
  private headFill = 0;
  private framing: Framing = 'length';
  /** A 206 must not carry more than the range; a 200 (whole file) is read up to `max`, then closed. */
  private strict = true;
  /** Body bytes still wanted: what Content-Length announced or what `max` allows, whichever is less. */
  private bodyLeft = 0;
  /** Chunked framing: the line being read, the data left in the current chunk, where we are. */
  private chunkState: 'size' | 'data' | 'data-end' | 'trailer' = 'size';
  private chunkLine = '';
  private chunkLeft = 0;
  private trailerBytes = 0;
  private keepAlive = true;
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
      this.failure ??= reason ?? new Error('stopped');
      this.rejectStart(this.failure);
      if (this.conn) destroy(this.conn);
      this.conn = undefined;
    }
    this.poke();
  }

  /**
   * Where the socket writes next: the free end of the head buffer, then of the current piece (never
   * past what is wanted of the body, so bytes beyond it arrive elsewhere and are seen).
   */
  room(): Uint8Array {
    if (this.phase === 'head') {
      if (this.headFill === this.head.byteLength) this.growHead(1);
      this.handed = this.head.subarray(this.headFill);
    } else if (this.phase === 'body' && this.framing !== 'chunked' && this.bodyLeft > 0) {
      const piece = this.piece();
      const n = Math.min(piece.byteLength - this.fill, this.bodyLeft);
      this.handed = piece.subarray(this.fill, this.fill + n);
    } else {
      this.handed = (this.conn as Conn).scratch;
    }
    return this.handed;
  }

  /** `n` bytes were written into `buf`. Returns false to pause the socket. */
  onBytes(n: number, buf: Uint8Array): boolean {
    if (this.stopped) return false;
    this.lastData = Date.now();
    const inPlace = buf === this.handed;
    this.handed = undefined;
    if (inPlace && this.phase === 'body' && this.framing !== 'chunked' && this.bodyLeft > 0) {
      // The common case: the bytes are already where they belong, in the current piece.
      this.fill += n;
      this.got += n;
      this.bodyLeft -= n;
      if (this.fill === this.current?.byteLength) this.flush();
      this.afterBody();
    } else if (inPlace && this.phase === 'head') {
      this.headFill += n;
      this.parseHead();
    } else this.ingest(buf.subarray(0, n));
    this.poke();
    if (this.queue.length >= QUEUE_HIGH && this.phase === 'body') {
      this.paused = true;
      return false;
    }
    return true;
  }

  /** The connection closed or failed while this request owned it. */
  onClosed(err: Error | undefined): void {
    if (this.phase === 'done' || this.stopped || this.failure !== undefined) return;
    this.conn = undefined;
    if (this.phase === 'head' && this.headFill === 0 && this.reusedConn) {
      // A kept-alive connection the server had already closed: one retry on a fresh one.
      this.reusedConn = false;
      void this.send(false);
      return;
    }
    if (this.phase === 'body' && this.framing === 'close' && !err) {
      // The body's end is the connection's end: whether it was all there is judged by `pieces`.
      this.complete();
      this.poke();
      return;
    }
    this.fail(
      Object.assign(new Error(`connection dropped${err ? ` (${err.message})` : ''}`), {
        code: 'UND_ERR_SOCKET',
        cause: err,
      }),
    );
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
        destroy(conn);
        return;
      }
      this.reusedConn = !fresh;
      this.conn = conn;
      conn.owner = this;
      this.phase = 'head';
      this.head = Buffer.allocUnsafe(0);
      this.headFill = 0;
      this.sentAt = Date.now();
      this.startTimer();
      conn.socket.write(
        `GET ${this.o.path} HTTP/1.1\r\nHost: ${this.o.authority}\r\nUser-Agent: dchat\r\n` +
          `Range: ${this.o.range}\r\nAccept-Encoding: identity\r\n\r\n`,
      );
      if (conn.socket.isPaused()) conn.socket.resume();
    } catch (err) {
      this.fail(err);
    }
  }

  /** Bytes that landed somewhere other than where they belong: taken from there. */
  private ingest(bytes: Uint8Array): void {
    if (this.phase === 'head') {
      if (this.headFill + bytes.byteLength > this.head.byteLength) this.growHead(bytes.byteLength);
      this.head.set(bytes.subarray(0, this.head.byteLength - this.headFill), this.headFill);
      this.headFill = Math.min(this.head.byteLength, this.headFill + bytes.byteLength);
      this.parseHead();
    } else if (this.phase === 'body') {
      if (this.framing === 'chunked') this.dechunk(bytes);
      else this.copyBody(bytes);
    } else if (bytes.byteLength > 0) {
      // More than the response announced: this connection cannot carry another request.
      this.keepAlive = false;
    }
  }

  private growHead(need: number): void {
    const size = Math.min(MAX_HEAD_BYTES + 1, Math.max(1024, this.head.byteLength * 2, this.headFill + need));
    if (size <= this.head.byteLength) return;
    const bigger = Buffer.allocUnsafe(size);
    this.head.copy(bigger, 0, 0, this.headFill);
    this.head = bigger;
  }

  private parseHead(): void {
    const end = this.head.subarray(0, this.headFill).indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.headFill > MAX_HEAD_BYTES)
        this.fail(new SourceError('E_HTTP', `response head larger than ${MAX_HEAD_BYTES} bytes`));
      return;
    }
    const lines = this.head.toString('latin1', 0, end).split('\r\n');
    const status = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
    if (!status || lines.length - 1 > MAX_HEADERS) {
      this.fail(new SourceError('E_HTTP', `malformed response head '${(lines[0] ?? '').slice(0, 80)}'`));
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) {
        this.fail(new SourceError('E_HTTP', `malformed response header '${line.slice(0, 80)}'`));
        return;
      }
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const prev = headers[name];
      headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    }
    const code = Number(status[2]);
    const rest = Buffer.from(this.head.subarray(end + 4, this.headFill));
    if (code >= 100 && code < 200 && code !== 101) {
      // An interim answer (103 Early Hints, a stray 100): the real one follows.
      this.head = Buffer.allocUnsafe(0);
      this.headFill = 0;
      if (rest.byteLength > 0) this.ingest(rest);
      return;
    }
    const connection = String(headers.connection ?? '').toLowerCase();
    this.keepAlive = status[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive');
    const te = headers['transfer-encoding'];
    const length = headers['content-length'];
    const framing: Framing | undefined =
      te !== undefined
        ? te === 'chunked' || te === 'Chunked'
          ? 'chunked'
          : undefined
        : length === undefined
          ? 'close'
          : typeof length === 'string' && /^\d{1,15}$/.test(length)
            ? 'length'
            : undefined;
    if (code !== 200 && code !== 206) {
      // An error status is answered from its head alone.
      this.resolveStart({ code, headers });
      this.abandon();
      return;
    }
    if (!framing) {
      // Framing this path does not read (another transfer coding, a list of lengths): undici does.
      this.resolveStart({ code, headers, unsupported: true });
      this.abandon();
      return;
    }
    this.framing = framing;
    this.strict = code === 206;
    if (framing === 'length') {
      const announced = Number(length);
      this.bodyLeft = Math.min(announced, this.max);
      if (announced !== this.max) this.keepAlive = false;
    } else {
      this.bodyLeft = this.max;
      if (framing === 'close') this.keepAlive = false;
    }
    this.phase = 'body';
    this.head = Buffer.allocUnsafe(0);
    this.resolveStart({ code, headers });
    if (this.failure !== undefined || this.stopped) return;
    if (rest.byteLength > 0) this.ingest(rest);
    else this.afterBody();
  }

  /** Body bytes copied into pieces (Content-Length or close framing). */
  private copyBody(bytes: Uint8Array): void {
    const take = Math.min(bytes.byteLength, this.bodyLeft);
    if (take < bytes.byteLength) {
      if (this.strict && this.framing === 'close') {
        this.fail(
          new SourceError('E_TOO_LARGE', `sent more than the ${this.max} bytes of the range asked for`),
        );
        return;
      }
      // Past the body (or past what a 200 is read for): the connection is not reused.
      this.keepAlive = false;
    }
    this.place(bytes.subarray(0, take));
    this.afterBody();
  }

  private place(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.byteLength) {
      const piece = this.piece();
      const n = Math.min(bytes.byteLength - off, piece.byteLength - this.fill);
      piece.set(bytes.subarray(off, off + n), this.fill);
      this.fill += n;
      this.got += n;
      this.bodyLeft -= n;
      off += n;
      if (this.fill === piece.byteLength) this.flush();
    }
  }

  /** Chunked framing: sizes, data, CRLFs and trailers, the data copied into pieces. */
  private dechunk(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.byteLength && this.phase === 'body' && this.failure === undefined) {
      if (this.chunkState === 'data') {
        const n = Math.min(this.chunkLeft, bytes.byteLength - off);
        if (n > this.bodyLeft) {
          if (this.strict) {
            this.fail(
              new SourceError('E_TOO_LARGE', `sent more than the ${this.max} bytes of the range asked for`),
            );
            return;
          }
          // A 200: enough of the file is here.
          this.place(bytes.subarray(off, off + this.bodyLeft));
          this.keepAlive = false;
          this.afterBody();
          return;
        }
        this.place(bytes.subarray(off, off + n));
        this.chunkLeft -= n;
        off += n;
        if (this.chunkLeft === 0) this.chunkState = 'data-end';
        continue;
      }
      // A line: the chunk size, the CRLF after data, or a trailer.
      const nl = bytes.indexOf(0x0a, off);
      const part = Buffer.from(bytes.buffer, bytes.byteOffset + off, (nl < 0 ? bytes.byteLength : nl) - off);
      this.chunkLine += part.toString('latin1');
      if (this.chunkLine.length > MAX_CHUNK_LINE) {
        this.fail(new SourceError('E_HTTP', 'chunked body: a framing line is too long'));
        return;
      }
      if (nl < 0) return;
      off = nl + 1;
      const line = this.chunkLine.replace(/\r$/, '');
      this.chunkLine = '';
      if (this.chunkState === 'data-end') {
        if (line !== '') {
          this.fail(new SourceError('E_HTTP', 'chunked body: data not followed by CRLF'));
          return;
        }
        this.chunkState = 'size';
      } else if (this.chunkState === 'size') {
        const m = /^([0-9a-fA-F]{1,12})(?:\s*;.*)?$/.exec(line);
        if (!m) {
          this.fail(new SourceError('E_HTTP', `chunked body: bad chunk size '${line.slice(0, 40)}'`));
          return;
        }
        this.chunkLeft = Number.parseInt(m[1] as string, 16);
        this.chunkState = this.chunkLeft === 0 ? 'trailer' : 'data';
      } else if (line === '') {
        // The empty line after the trailers: the body is complete. Anything after it is not ours.
        if (off < bytes.byteLength) this.keepAlive = false;
        this.complete();
        return;
      } else {
        // A trailer field: ignored, but an endless trailer section is refused like a huge head.
        this.trailerBytes += line.length + 2;
        if (this.trailerBytes > MAX_HEAD_BYTES) {
          this.fail(new SourceError('E_HTTP', `chunked body: trailers larger than ${MAX_HEAD_BYTES} bytes`));
          return;
        }
      }
    }
    this.afterBody();
  }

  /** After body bytes: the end of the body, or a partly filled piece to hand over soon. */
  private afterBody(): void {
    if (this.phase !== 'body') return;
    if (this.bodyLeft === 0 && (this.framing === 'length' || !this.strict)) this.complete();
    else this.armPartialTimer();
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
      if (this.keepAlive && this.got === this.max) this.o.agent.release(conn);
      else destroy(conn);
    }
  }

  /** Done with this connection after a head we answer from alone (it is never reused). */
  private abandon(): void {
    this.phase = 'done';
    this.stopTimer();
    if (this.conn) destroy(this.conn);
    this.conn = undefined;
  }

  private fail(err: unknown): void {
    if (this.failure !== undefined || this.ended) return;
    this.failure = err;
    this.rejectStart(err);
    this.stopTimer();
    if (this.conn) destroy(this.conn);
    this.conn = undefined;
    this.poke();
  }

  /** Headers timeout from the request, then the body idle timeout (not while paused by us). */
  private startTimer(): void {
    this.stopTimer();
    const tick = Math.max(10, Math.min(this.o.headersTimeoutMs, this.o.bodyTimeoutMs) / 4);
    this.timer = setInterval(() => {
      const now = Date.now();
      if (this.phase === 'head' && now - this.sentAt > this.o.headersTimeoutMs)
        this.fail(Object.assign(new Error('headers timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' }));
      else if (this.phase === 'body' && !this.paused && now - this.lastData > this.o.bodyTimeoutMs)
        this.fail(Object.assign(new Error('body timeout'), { code: 'UND_ERR_BODY_TIMEOUT' }));
    }, tick);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
