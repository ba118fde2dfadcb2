/**
 * An HTTPS mirror as a Source: a directory that `dchat release publish` wrote, served by any static
 * server (see release/mirror-dir.ts for the layout). Metadata and chunk tables come through undici
 * (one kept-alive pool per mirror); package bytes through the lean HTTP/1.1 path of
 * http1/range.ts, which costs half the CPU per byte, with undici as its fallback. Every body is
 * read against a hard cap with connect, headers and idle-body timeouts and the caller's
 * AbortSignal. Nothing here decides trust: bytes go back to the engine, which checks them against
 * signed metadata.
 *
 * TLS roots: Node's default store, which already holds NODE_EXTRA_CA_CERTS when the process was
 * started with it (both paths connect through node:tls); `ca` adds certificates on top of it.
 */
import { createSecureContext, getCACertificates, type SecureContext } from 'node:tls';
import { type Dispatcher, Pool } from 'undici';
import { DchatError, type ErrorCode, SourceError } from '../errors.ts';
import { isAllowedMirrorUrl } from '../model/loopback.ts';
import { Http1Agent, Http1Range } from './http1/range.ts';
import type { Headers, RangeHead, RangeTransfer } from './piece-queue.ts';
import { collectRange, type FetchOptions, type RangeRequest, type Source } from './source.ts';
import { UndiciRange, undiciError } from './undici-range.ts';

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
  /**
   * Package bodies through the lean HTTP/1.1 path (http1/range.ts) when the answer allows it
   * (default true); false sends every request through undici.
   */
  fastBodies?: boolean;
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
  private readonly agent: Http1Agent | undefined;
  private readonly authority: string;
  private readonly timeouts: { headersTimeoutMs: number; bodyTimeoutMs: number };

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
    const secureContext = extra.length > 0 ? contextWith(extra.map((c) => c.toString())) : undefined;
    const connections = o.connections ?? HTTPS_DEFAULTS.connections;
    const connectTimeoutMs = o.connectTimeoutMs ?? HTTPS_DEFAULTS.connectTimeoutMs;
    this.timeouts = {
      headersTimeoutMs: o.headersTimeoutMs ?? HTTPS_DEFAULTS.headersTimeoutMs,
      bodyTimeoutMs: o.bodyTimeoutMs ?? HTTPS_DEFAULTS.bodyTimeoutMs,
    };
    this.pool = new Pool(u.origin, {
      connections,
      headersTimeout: this.timeouts.headersTimeoutMs,
      bodyTimeout: this.timeouts.bodyTimeoutMs,
      keepAliveTimeout: 30_000,
      connect: { timeout: connectTimeoutMs, ...(secureContext ? { secureContext } : {}) },
    });
    this.authority = u.host;
    this.agent =
      o.fastBodies === false
        ? undefined
        : new Http1Agent({
            protocol: u.protocol === 'http:' ? 'http:' : 'https:',
            // URL keeps IPv6 literals bracketed; sockets want them bare.
            host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
            port: Number(u.port) || (u.protocol === 'http:' ? 80 : 443),
            ...(secureContext ? { secureContext } : {}),
            connectTimeoutMs,
            maxIdle: connections,
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

  async fetchAttestations(target: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    checkName(target, 'target');
    return this.getSmall(`packages/${target}.intoto.jsonl`, opts);
  }

  async fetchRange(req: RangeRequest): Promise<Uint8Array> {
    return collectRange(this.streamRange(req), req);
  }

  /**
   * One request for bytes [start, end) of a package, yielded in order as pieces of `pieceBytes`
   * (the last may be shorter), aligned to `start`. A 206 must carry exactly the range asked for; a
   * server that ignores Range (200) is accepted from offset 0 only, and read no further than `end`.
   * More bytes than asked fail E_TOO_LARGE, fewer E_NETWORK. The body goes through the lean
   * HTTP/1.1 path (http1/range.ts) unless its framing is one only undici reads.
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
    let stream: RangeTransfer | undefined;
    for (const rel of candidates) {
      const { s, status } = await this.openRange(`${this.prefix}/${rel}`, range, want, req.signal).catch(
        (err: unknown) => {
          throw mapError(err, `${this.uri}/${rel}`, req.signal);
        },
      );
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
    this.agent?.close();
    await this.pool.destroy();
  }

  /** Starts a range request: the lean path first, undici when the answer is beyond it. */
  private async openRange(
    path: string,
    range: string,
    want: number,
    signal: AbortSignal | undefined,
  ): Promise<{ s: RangeTransfer; status: RangeHead }> {
    if (this.agent) {
      const fast = new Http1Range({
        agent: this.agent,
        authority: this.authority,
        path,
        range,
        max: want,
        pieceBytes: this.pieceBytes,
        ...this.timeouts,
        signal,
      });
      const status = await fast.started;
      if (!status.unsupported) return { s: fast, status };
      fast.abort();
    }
    const s = new UndiciRange(this.pool, path, range, want, this.pieceBytes, signal, this.uri);
    return { s, status: await s.started };
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

function header(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function contentLength(h: Headers): number | undefined {
  const v = header(h, 'content-length');
  if (v === undefined || !/^\d{1,16}$/.test(v.trim())) return undefined;
  return Number(v);
}

function checkContentRange(h: Headers, start: number, end: number, uri: string): void {
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

/**
 * Any failure as a DchatError with a stable code. Both range transports and the lean path's
 * connections already fail with our codes; what is left is the caller's abort and undici's own
 * errors from the metadata requests (undici-range.ts classifies those).
 */
export function mapError(err: unknown, where: string, signal?: AbortSignal): DchatError {
  if (err instanceof DchatError) return err;
  const e = err as Error & { code?: string };
  if (signal?.aborted || e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED') {
    const reason = signal?.reason;
    if (reason instanceof DchatError) return reason;
    return new SourceError('E_ABORTED', `${where}: aborted`, { cause: err });
  }
  return undiciError(err, where);
}
