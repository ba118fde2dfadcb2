/**
 * An HTTPS mirror as a Source: a directory that `dchat release publish` wrote, served by any static
 * server (see release/mirror-dir.ts for the layout). undici keeps connections alive (one pool per
 * mirror), asks for byte ranges, and every body is read against a hard cap with connect, headers and
 * idle-body timeouts and the caller's AbortSignal. Nothing here decides trust: bytes go back to the
 * engine, which checks them against signed metadata.
 *
 * TLS roots: Node's default store, which already holds NODE_EXTRA_CA_CERTS when the process was
 * started with it (undici connects through node:tls); `ca` adds certificates on top of it.
 */
import { createSecureContext, getCACertificates, type SecureContext } from 'node:tls';
import { type Dispatcher, Pool } from 'undici';
import { DchatError, type ErrorCode, SourceError } from '../errors.ts';
import { isAllowedMirrorUrl } from '../model/loopback.ts';
import { collectRange, type FetchOptions, type RangeRequest, type Source } from './source.ts';

export interface HttpsSourceOptions {
  /** Base URL of the mirror directory, e.g. https://mirror.example.com/dchat */
  url: string;
  id?: string;
  /** Extra trusted CA certificates (PEM), on top of Node's default roots. */
  ca?: string | Buffer | readonly (string | Buffer)[];
  connectTimeoutMs?: number;
  headersTimeoutMs?: number;
  /** Longest silence allowed between two pieces of a body. */
  bodyTimeoutMs?: number;
  /** Connections kept per mirror. */
  connections?: number;
  /** Size of the pieces streamRange yields (default 1 MiB, the default chunk size). */
  pieceBytes?: number;
}

export const HTTPS_DEFAULTS = {
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 15_000,
  bodyTimeoutMs: 20_000,
  connections: 4,
} as const;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

export class HttpsSource implements Source {
  readonly id: string;
  readonly type = 'https' as const;
  readonly uri: string;
  private readonly pool: Pool;
  private readonly prefix: string;
  /** Which path layout served each target: consistent-snapshot `targets/` or plain `packages/`. */
  private readonly packagePath = new Map<string, string>();
  private readonly pieceBytes: number;

  constructor(o: HttpsSourceOptions) {
    let u: URL;
    try {
      u = new URL(o.url);
    } catch (cause) {
      throw new DchatError('E_CONFIG', `mirror URL '${o.url.slice(0, 200)}' is not a URL`, { cause });
    }
    if (!isAllowedMirrorUrl(u))
      throw new DchatError('E_CONFIG', `mirror URL ${u.href} is not https:// (plain http only on loopback)`);
    if (u.username || u.password || u.search || u.hash)
      throw new DchatError('E_CONFIG', `mirror URL ${u.origin}: credentials, query or fragment not allowed`);
    this.uri = `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
    this.id = o.id ?? this.uri;
    this.prefix = u.pathname.replace(/\/+$/, '');
    this.pieceBytes = o.pieceBytes ?? 1024 * 1024;
    const extra = o.ca === undefined ? [] : Array.isArray(o.ca) ? o.ca : [o.ca];
    this.pool = new Pool(u.origin, {
      connections: o.connections ?? HTTPS_DEFAULTS.connections,
      headersTimeout: o.headersTimeoutMs ?? HTTPS_DEFAULTS.headersTimeoutMs,
      bodyTimeout: o.bodyTimeoutMs ?? HTTPS_DEFAULTS.bodyTimeoutMs,
      keepAliveTimeout: 30_000,
      connect: {
        timeout: o.connectTimeoutMs ?? HTTPS_DEFAULTS.connectTimeoutMs,
        ...(extra.length > 0 ? { secureContext: contextWith(extra.map((c) => c.toString())) } : {}),
      },
    });
  }

  async fetchMetadata(name: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    checkName(name, 'metadata file');
    return this.getSmall(`metadata/${name}`, opts);
  }

  async fetchChunkTable(target: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    checkName(target, 'target');
    return this.getSmall(`packages/${target}.chunks`, opts);
  }

  async fetchRange(req: RangeRequest): Promise<Uint8Array> {
    return collectRange(this.streamRange(req), req);
  }

  /**
   * One request for bytes [start, end) of a package, yielded in order as pieces of `pieceBytes`
   * (the last may be shorter), aligned to `start`. A 206 must carry exactly the range asked for; a
   * server that ignores Range (200) is accepted from offset 0 only, and read no further than `end`.
   * More bytes than asked fail E_TOO_LARGE, fewer E_NETWORK. Built on undici's dispatch API: the
   * 16 KiB TLS records are gathered straight into the pieces, with no stream object per record,
   * and the socket is paused while the consumer is behind.
   */
  async *streamRange(req: RangeRequest): AsyncGenerator<Uint8Array> {
    checkName(req.target, 'target');
    const want = req.end - req.start;
    if (!(req.start >= 0 && want > 0 && Number.isSafeInteger(req.end)))
      throw new DchatError('E_INTERNAL', `bad range ${req.start}-${req.end}`);
    if (want > req.maxBytes)
      throw new SourceError('E_TOO_LARGE', `range of ${want} bytes is above the ${req.maxBytes}-byte cap`);
    req.signal?.throwIfAborted();
    const range = `bytes=${req.start}-${req.end - 1}`;
    const known = this.packagePath.get(req.target);
    const candidates = known ? [known] : [`targets/${req.sha256}.${req.target}`, `packages/${req.target}`];
    let stream: RangeStream | undefined;
    for (const rel of candidates) {
      const s = new RangeStream(this.pool, `${this.prefix}/${rel}`, range, want, this.pieceBytes, req.signal);
      const status = await s.started.catch((err: unknown) => {
        throw mapError(err, `${this.uri}/${rel}`, req.signal);
      });
      if (status.code === 404 && rel !== candidates[candidates.length - 1]) {
        s.abort();
        continue;
      }
      this.packagePath.set(req.target, rel);
      stream = s;
      break;
    }
    if (!stream) throw httpError(404, `${this.uri}: ${req.target}`);
    try {
      const { code, headers } = await stream.started;
      if (code === 206) {
        checkContentRange(headers, req.start, req.end, this.uri);
        const len = contentLength(headers);
        if (len !== undefined && len > want)
          throw new SourceError('E_TOO_LARGE', `${this.uri}: Content-Length ${len} for a ${want}-byte range`);
        if (len !== undefined && len < want)
          throw new SourceError('E_HTTP', `${this.uri}: Content-Length ${len} for a ${want}-byte range`, {
            details: { status: 206 },
          });
      } else if (code !== 200 || req.start !== 0) {
        throw httpError(code, `${this.uri}/${req.target} range ${req.start}-${req.end - 1}`);
      }
      yield* stream.pieces(this.uri);
    } catch (err) {
      throw mapError(err, this.uri, req.signal);
    } finally {
      stream.abort();
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }

  /** GET of a small file with a cap; 404 is "not there" (undefined). */
  private async getSmall(rel: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    const res = await this.request(rel, opts.signal);
    try {
      if (res.statusCode === 404) {
        await res.body.dump({ limit: 64 * 1024 }).catch(() => {});
        return undefined;
      }
      if (res.statusCode !== 200) throw httpError(res.statusCode, `${this.uri}/${rel}`);
      const len = contentLength(res.headers);
      if (len !== undefined && len > opts.maxBytes)
        throw new SourceError(
          'E_TOO_LARGE',
          `${this.uri}/${rel} is ${len} bytes, more than the ${opts.maxBytes} allowed`,
        );
      const parts: Buffer[] = [];
      let n = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        n += chunk.byteLength;
        if (n > opts.maxBytes)
          throw new SourceError(
            'E_TOO_LARGE',
            `${this.uri}/${rel} is larger than the ${opts.maxBytes} bytes allowed`,
          );
        parts.push(chunk);
      }
      return Buffer.concat(parts, n);
    } catch (err) {
      discard(res.body);
      throw mapError(err, this.uri, opts.signal);
    }
  }

  private async request(
    rel: string,
    signal: AbortSignal | undefined,
    headers: Record<string, string> = {},
  ): Promise<Dispatcher.ResponseData> {
    try {
      return await this.pool.request({
        path: `${this.prefix}/${rel}`,
        method: 'GET',
        headers: { 'user-agent': 'dchat', ...headers },
        highWaterMark: 1024 * 1024,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      throw mapError(err, `${this.uri}/${rel}`, signal);
    }
  }
}

/**
 * Recycled piece buffers. Fresh 1 MiB buffers cost page faults and garbage collections (about a
 * third of a second per GiB here); a consumer done with a piece (written, hashed, no reference
 * kept) may give it back with `releasePiece`. Only whole, untouched piece buffers are taken back.
 */
const piecePool = new Map<number, Buffer[]>();
/** All sizes together: the pool never holds more than this. */
const POOL_BYTES = 64 * 1024 * 1024;
/** Small buffers are cheap to allocate; only piece-sized ones are worth keeping. */
const POOL_MIN = 64 * 1024;
let pooled = 0;

function takePiece(size: number): Buffer {
  const buf = piecePool.get(size)?.pop();
  if (!buf) return Buffer.allocUnsafe(size);
  pooled -= size;
  return buf;
}

/** Gives a piece buffer back for reuse. The caller must hold no reference to it any more. */
export function releasePiece(buf: Uint8Array): void {
  const size = buf.byteLength;
  if (
    size < POOL_MIN ||
    pooled + size > POOL_BYTES ||
    buf.byteOffset !== 0 ||
    buf.buffer.byteLength !== size ||
    !(buf.buffer instanceof ArrayBuffer)
  )
    return;
  const list = piecePool.get(size) ?? [];
  list.push(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, 0, size));
  piecePool.set(size, list);
  pooled += size;
}

/** A piece still filling after this long is handed over as it is. */
const PARTIAL_PIECE_MS = 50;

/**
 * One GET with a Range header through undici's dispatch API: status and headers first (`started`),
 * then the body gathered into fixed-size pieces, at most `max` bytes of it. While more than a few
 * pieces wait for the consumer, the socket is paused (undici's body timeout does not run then).
 */
class RangeStream {
  readonly started: Promise<{ code: number; headers: Record<string, string | string[] | undefined> }>;
  /** False for a 200 (whole file): reading stops at `max` instead of failing past it. */
  private strict = true;
  private readonly max: number;
  private readonly pieceBytes: number;
  private readonly queue: Buffer[] = [];
  private controller: Dispatcher.DispatchController | undefined;
  private current: Buffer | undefined;
  private fill = 0;
  private got = 0;
  private ended = false;
  private failure: unknown;
  private stopped = false;
  private wake: (() => void) | undefined;
  /** Hands a partly filled piece over when the body is slow (progress, slow-source checks). */
  private partialTimer: NodeJS.Timeout | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = () => this.abort(this.signal?.reason);

  constructor(
    pool: Pool,
    path: string,
    range: string,
    max: number,
    pieceBytes: number,
    signal: AbortSignal | undefined,
  ) {
    this.max = max;
    this.pieceBytes = Math.min(pieceBytes, max);
    this.signal = signal;
    let resolveStart!: (v: { code: number; headers: Record<string, string | string[] | undefined> }) => void;
    let rejectStart!: (e: unknown) => void;
    this.started = new Promise((res, rej) => {
      resolveStart = res;
      rejectStart = rej;
    });
    this.started.catch(() => {});
    signal?.addEventListener('abort', this.onAbort, { once: true });
    pool.dispatch(
      { path, method: 'GET', headers: { 'user-agent': 'dchat', range } },
      {
        onRequestStart: (controller) => {
          this.controller = controller;
          if (this.stopped) controller.abort(new Error('stopped'));
        },
        onResponseStart: (_controller, code, headers) => {
          // A 200 carries the whole file: its head is what was asked for, the rest is not read.
          this.strict = code !== 200;
          resolveStart({ code, headers: headers as Record<string, string | string[] | undefined> });
        },
        onResponseData: (controller, chunk) => this.onData(controller, chunk),
        onResponseEnd: () => {
          this.flush();
          this.ended = true;
          this.poke();
        },
        onResponseError: (_controller, err) => {
          rejectStart(err);
          if (!this.ended) this.failure ??= err;
          this.poke();
        },
      },
    );
  }

  /** The body's pieces; fails on an error, on more bytes than `max` (strict), or on fewer. */
  async *pieces(uri: string): AsyncGenerator<Buffer> {
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        if (this.controller?.paused && this.queue.length <= 1) this.controller.resume();
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

  /** Stops the request (no-op once the body has ended). */
  abort(reason?: unknown): void {
    this.signal?.removeEventListener('abort', this.onAbort);
    if (this.partialTimer) clearTimeout(this.partialTimer);
    this.partialTimer = undefined;
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

  private onData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.stopped || this.failure !== undefined) return;
    let off = 0;
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
    this.got += chunk.byteLength;
    while (off < chunk.byteLength) {
      this.current ??= takePiece(Math.min(this.pieceBytes, this.max - (this.got - chunk.byteLength + off)));
      const n = Math.min(chunk.byteLength - off, this.current.byteLength - this.fill);
      chunk.copy(this.current, this.fill, off, off + n);
      this.fill += n;
      off += n;
      if (this.fill === this.current.byteLength) this.flush();
    }
    if (this.current && !this.partialTimer) {
      this.partialTimer = setTimeout(() => {
        this.partialTimer = undefined;
        this.flush();
        this.poke();
      }, PARTIAL_PIECE_MS);
    }
    if (!this.strict && this.got >= this.max) {
      // Whole-file answer: we have the head we wanted; the rest is not read.
      this.ended = true;
      this.stopped = true;
      controller.abort(new Error('enough'));
    } else if (this.queue.length >= 4 && !controller.paused) controller.pause();
    this.poke();
  }

  private flush(): void {
    if (this.partialTimer) {
      clearTimeout(this.partialTimer);
      this.partialTimer = undefined;
    }
    if (this.current && this.fill > 0)
      this.queue.push(
        this.fill === this.current.byteLength ? this.current : this.current.subarray(0, this.fill),
      );
    this.current = undefined;
    this.fill = 0;
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

/** One TLS context per set of extra roots: parsing ~150 default roots per connection is slow. */
const contexts = new Map<string, SecureContext>();
function contextWith(extra: readonly string[]): SecureContext {
  const key = extra.join('\n');
  let ctx = contexts.get(key);
  if (!ctx) {
    ctx = createSecureContext({ ca: [...getCACertificates('default'), ...extra] });
    contexts.set(key, ctx);
  }
  return ctx;
}

/** Closes a body we stop reading (the connection goes with it); its abort error is expected. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}

function checkName(name: string, what: string): void {
  if (!NAME_RE.test(name) || name.includes('..'))
    throw new DchatError('E_MALFORMED', `bad ${what} name '${name.slice(0, 64)}'`);
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function contentLength(h: Record<string, string | string[] | undefined>): number | undefined {
  const v = header(h, 'content-length');
  if (v === undefined || !/^\d{1,16}$/.test(v.trim())) return undefined;
  return Number(v);
}

function checkContentRange(
  h: Record<string, string | string[] | undefined>,
  start: number,
  end: number,
  uri: string,
): void {
  const v = header(h, 'content-range') ?? '';
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v.trim());
  if (!m || Number(m[1]) !== start || Number(m[2]) !== end - 1) {
    throw new SourceError(
      'E_HTTP',
      `${uri}: Content-Range '${v.slice(0, 80)}' is not the range ${start}-${end - 1} asked for`,
      { details: { status: 206 } },
    );
  }
}

function httpError(status: number, what: string): SourceError {
  const code: ErrorCode = status === 404 || status === 410 ? 'E_NOT_FOUND' : 'E_HTTP';
  return new SourceError(code, `${what}: HTTP ${status}`, { details: { status } });
}

/** Any failure of undici or node:tls as a SourceError with a stable code. */
export function mapError(err: unknown, where: string, signal?: AbortSignal): DchatError {
  if (err instanceof DchatError) return err;
  const e = err as Error & { code?: string };
  if (signal?.aborted || e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED') {
    const reason = signal?.reason;
    if (reason instanceof DchatError) return reason;
    return new SourceError('E_ABORTED', `${where}: aborted`, { cause: err });
  }
  switch (e?.code) {
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
