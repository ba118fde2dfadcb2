/**
 * The HTTP(S) client every web source shares (HTTPS mirrors, GitHub Releases, F-Droid): kept-alive
 * connections per origin, redirects followed by the policy of redirect.ts on both body paths, and
 * the operator's proxy settings read as curl reads them (proxy-env.ts).
 *
 * Per origin (the mirror's own, and each one a redirect leads to, at most MAX_ORIGINS kept):
 * - direct: an undici Pool for small GETs, and for package bytes the lean HTTP/1.1 path
 *   (http1/range.ts, half the CPU per byte) with undici as its fallback;
 * - through a proxy: an undici ProxyAgent (CONNECT tunnel for https, absolute-URI requests for
 *   plain http on loopback) for everything. The lean path reads through the socket's `onread`
 *   option, which node:tls ignores for a TLS session over an existing (tunnel) socket, so it is
 *   not used there.
 *
 * TLS roots: Node's default store, which already holds NODE_EXTRA_CA_CERTS when the process was
 * started with it; `ca` adds certificates on top of it.
 */
import { createSecureContext, getCACertificates, type SecureContext } from 'node:tls';
import type { Dispatcher } from 'undici';
import { DchatError, type ErrorCode, SourceError } from '../errors.ts';
import { Http1Agent, Http1Range } from './http1/range.ts';
import type { Headers, RangeHead, RangeTransfer } from './piece-queue.ts';
import { proxyFor } from './proxy-env.ts';
import { headersForHop, isRedirect, nextHop } from './redirect.ts';
import { Pool, ProxyAgent } from './undici-lite.ts';
import { UndiciRange, undiciError } from './undici-range.ts';

export interface HttpClientOptions {
  /** Extra trusted CA certificates (PEM), on top of Node's default roots. */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** Where proxy settings are read (https_proxy, no_proxy...); none: always direct. */
  env?: NodeJS.ProcessEnv;
  connectTimeoutMs?: number;
  headersTimeoutMs?: number;
  /** Longest silence allowed between two pieces of a body. */
  bodyTimeoutMs?: number;
  /** Connections kept per origin. */
  connections?: number;
  /** Size of the pieces a range body is cut into (default 1 MiB, the default chunk size). */
  pieceBytes?: number;
  /** Package bodies through the lean HTTP/1.1 path when possible (default true). */
  fastBodies?: boolean;
}

export const HTTP_DEFAULTS = {
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 15_000,
  bodyTimeoutMs: 20_000,
  connections: 4,
} as const;

/** Origins with live connections kept at once; the oldest is closed (gracefully) beyond it. */
const MAX_ORIGINS = 8;
/** Bytes of a non-200 body read (an API's error document); the rest is dropped. */
const ERROR_BODY_BYTES = 64 * 1024;

export interface SmallResponse {
  status: number;
  headers: Headers;
  /** The URL that answered (after redirects). */
  url: URL;
  /** The body: whole for a 200 (within the cap), at most 64 KiB otherwise. */
  body: Uint8Array;
}

export interface RangeOpened {
  s: RangeTransfer;
  status: RangeHead;
  /** The URL that answered (after redirects). */
  url: URL;
}

interface OriginConns {
  dispatcher: Dispatcher;
  agent: Http1Agent | undefined;
}

export class HttpClient {
  private readonly o: HttpClientOptions;
  private readonly secureContext: SecureContext | undefined;
  private readonly origins = new Map<string, OriginConns>();
  private readonly timeouts: { headersTimeoutMs: number; bodyTimeoutMs: number };
  private readonly pieceBytes: number;

  constructor(o: HttpClientOptions = {}) {
    this.o = o;
    const extra = o.ca === undefined ? [] : Array.isArray(o.ca) ? o.ca : [o.ca];
    this.secureContext = extra.length > 0 ? contextWith(extra.map((c) => c.toString())) : undefined;
    this.timeouts = {
      headersTimeoutMs: o.headersTimeoutMs ?? HTTP_DEFAULTS.headersTimeoutMs,
      bodyTimeoutMs: o.bodyTimeoutMs ?? HTTP_DEFAULTS.bodyTimeoutMs,
    };
    this.pieceBytes = o.pieceBytes ?? 1024 * 1024;
  }

  /**
   * A GET of a small document, redirects followed. A 200's body is read whole against `maxBytes`
   * (E_TOO_LARGE above it); other statuses come back with at most 64 KiB of body for the caller to
   * judge (404, an API's rate-limit answer).
   */
  async get(
    url: URL,
    o: { maxBytes: number; signal?: AbortSignal; headers?: Readonly<Record<string, string>> },
  ): Promise<SmallResponse> {
    let headers = checkHeaders(o.headers ?? {});
    const chain: URL[] = [];
    for (let at = url; ; ) {
      chain.push(at);
      const res = await this.request(at, headers, o.signal);
      if (isRedirect(res.statusCode)) {
        discard(res.body);
        const next = nextHop(at, res.statusCode, header(res.headers as Headers, 'location'), chain);
        headers = headersForHop(headers, at, next);
        at = next;
        continue;
      }
      const where = `${at.origin}${at.pathname}`;
      const cap = res.statusCode === 200 ? o.maxBytes : Math.min(o.maxBytes, ERROR_BODY_BYTES);
      try {
        const len = contentLength(res.headers as Headers);
        if (res.statusCode === 200 && len !== undefined && len > cap)
          throw new SourceError('E_TOO_LARGE', `${where} is ${len} bytes, more than the ${cap} allowed`);
        const parts: Buffer[] = [];
        let n = 0;
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          if (n + chunk.byteLength > cap) {
            if (res.statusCode === 200)
              throw new SourceError('E_TOO_LARGE', `${where} is larger than the ${cap} bytes allowed`);
            parts.push(chunk.subarray(0, cap - n));
            n = cap;
            discard(res.body);
            break;
          }
          n += chunk.byteLength;
          parts.push(chunk);
        }
        return {
          status: res.statusCode,
          headers: res.headers as Headers,
          url: at,
          body: Buffer.concat(parts, n),
        };
      } catch (err) {
        discard(res.body);
        throw mapError(err, where, o.signal);
      }
    }
  }

  /**
   * Starts a GET of `range` of `url` (at most `want` body bytes), redirects followed with the
   * Range header kept. Resolves once the final response's head is in; the caller checks it.
   */
  async openRange(
    url: URL,
    range: string,
    want: number,
    signal: AbortSignal | undefined,
    extraHeaders: Readonly<Record<string, string>> = {},
  ): Promise<RangeOpened> {
    let headers = checkHeaders(extraHeaders);
    const chain: URL[] = [];
    for (let at = url; ; ) {
      chain.push(at);
      const opened = await this.openOnce(at, range, want, signal, headers).catch((err: unknown) => {
        throw mapError(err, `${at.origin}${at.pathname}`, signal);
      });
      if (!isRedirect(opened.status.code)) return { ...opened, url: at };
      opened.s.abort();
      const next = nextHop(at, opened.status.code, header(opened.status.headers, 'location'), chain);
      headers = headersForHop(headers, at, next);
      at = next;
    }
  }

  async close(): Promise<void> {
    const all = [...this.origins.values()];
    this.origins.clear();
    for (const c of all) c.agent?.close();
    await Promise.all(all.map((c) => c.dispatcher.destroy().catch(() => {})));
  }

  /** One range request, no redirect handling: the lean path first, undici when beyond it. */
  private async openOnce(
    at: URL,
    range: string,
    want: number,
    signal: AbortSignal | undefined,
    headers: Readonly<Record<string, string>>,
  ): Promise<{ s: RangeTransfer; status: RangeHead }> {
    const conns = this.conns(at);
    const path = `${at.pathname}${at.search}`;
    if (conns.agent) {
      const fast = new Http1Range({
        agent: conns.agent,
        authority: at.host,
        path,
        range,
        headers,
        max: want,
        pieceBytes: this.pieceBytes,
        ...this.timeouts,
        signal,
      });
      const status = await fast.started;
      if (!status.unsupported) return { s: fast, status };
      fast.abort();
    }
    const where = `${at.origin}${at.pathname}`;
    const s = new UndiciRange(
      conns.dispatcher,
      at.origin,
      path,
      range,
      want,
      this.pieceBytes,
      signal,
      where,
      headers,
    );
    return { s, status: await s.started };
  }

  private async request(
    at: URL,
    headers: Readonly<Record<string, string>>,
    signal: AbortSignal | undefined,
  ): Promise<Dispatcher.ResponseData> {
    try {
      return await this.conns(at).dispatcher.request({
        origin: at.origin,
        path: `${at.pathname}${at.search}`,
        method: 'GET',
        headers: { 'user-agent': 'dchat', ...headers },
        highWaterMark: 1024 * 1024,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      throw mapError(err, `${at.origin}${at.pathname}`, signal);
    }
  }

  /** The connections to `at`'s origin, made on first use (direct or through the proxy). */
  private conns(at: URL): OriginConns {
    const key = at.origin;
    const have = this.origins.get(key);
    if (have) {
      // Most recently used last: the oldest is the first one evicted.
      this.origins.delete(key);
      this.origins.set(key, have);
      return have;
    }
    if (this.origins.size >= MAX_ORIGINS) {
      const [oldKey, old] = this.origins.entries().next().value as [string, OriginConns];
      this.origins.delete(oldKey);
      old.agent?.close();
      // close() lets requests in flight finish.
      void old.dispatcher.close().catch(() => {});
    }
    const made = this.makeConns(at);
    this.origins.set(key, made);
    return made;
  }

  private makeConns(at: URL): OriginConns {
    const connections = this.o.connections ?? HTTP_DEFAULTS.connections;
    const connectTimeoutMs = this.o.connectTimeoutMs ?? HTTP_DEFAULTS.connectTimeoutMs;
    const common = {
      connections,
      headersTimeout: this.timeouts.headersTimeoutMs,
      bodyTimeout: this.timeouts.bodyTimeoutMs,
      keepAliveTimeout: 30_000,
    };
    const tls = this.secureContext ? { secureContext: this.secureContext } : {};
    const proxy = proxyFor(at, this.o.env);
    if (proxy) {
      const bare = at.hostname.replace(/^\[(.*)\]$/, '$1');
      return {
        dispatcher: new ProxyAgent({
          ...common,
          uri: proxy.href,
          connectTimeout: connectTimeoutMs,
          // SNI names the target, never an IP literal (RFC 6066).
          requestTls: { ...tls, ...(/^[\d.]+$|:/.test(bare) ? {} : { servername: bare }) },
        }),
        agent: undefined,
      };
    }
    return {
      dispatcher: new Pool(at.origin, { ...common, connect: { timeout: connectTimeoutMs, ...tls } }),
      agent:
        this.o.fastBodies === false
          ? undefined
          : new Http1Agent({
              protocol: at.protocol === 'http:' ? 'http:' : 'https:',
              // URL keeps IPv6 literals bracketed; sockets want them bare.
              host: at.hostname.replace(/^\[(.*)\]$/, '$1'),
              port: Number(at.port) || (at.protocol === 'http:' ? 80 : 443),
              ...tls,
              connectTimeoutMs,
              maxIdle: connections,
            }),
    };
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

/** Header names and values are written raw on the lean path: no CR/LF may ride in (a token from env). */
function checkHeaders(h: Readonly<Record<string, string>>): Record<string, string> {
  for (const [k, v] of Object.entries(h)) {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(k) || /[\r\n\0]/.test(v) || v.length > 8192)
      throw new DchatError(
        'E_CONFIG',
        `request header '${k.slice(0, 64)}' has a name or value that cannot be sent`,
      );
  }
  return { ...h };
}

/** Closes a body we stop reading (the connection goes with it); its abort error is expected. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}

export function header(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

export function contentLength(h: Headers): number | undefined {
  const v = header(h, 'content-length');
  if (v === undefined || !/^\d{1,16}$/.test(v.trim())) return undefined;
  return Number(v);
}

export function httpError(status: number, what: string): SourceError {
  const code: ErrorCode = status === 404 || status === 410 ? 'E_NOT_FOUND' : 'E_HTTP';
  return new SourceError(code, `${what}: HTTP ${status}`, { details: { status } });
}

/**
 * Any failure as a DchatError with a stable code. Both range transports and the lean path's
 * connections already fail with our codes; what is left is the caller's abort and undici's own
 * errors (undici-range.ts classifies those).
 */
export function mapError(err: unknown, where: string, signal?: AbortSignal): DchatError {
  if (err instanceof DchatError) return err;
  const e = err as Error & { code?: string };
  if (!signal?.aborted && e?.code === 'UND_ERR_ABORTED' && /^Proxy response/.test(e.message))
    return new SourceError('E_NETWORK', `${where}: the proxy refused the tunnel (${e.message})`, {
      cause: err,
    });
  if (signal?.aborted || e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED') {
    const reason = signal?.reason;
    if (reason instanceof DchatError) return reason;
    return new SourceError('E_ABORTED', `${where}: aborted`, { cause: err });
  }
  return undiciError(err, where);
}
