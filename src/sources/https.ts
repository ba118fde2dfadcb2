/**
 * An HTTPS mirror as a Source: a directory that `dchat release publish` wrote, served by any static
 * server (see release/mirror-dir.ts for the layout). Requests go through the shared web client
 * (http-client.ts): kept-alive connections, undici for metadata and chunk tables, the lean
 * HTTP/1.1 path for package bytes, redirects followed within the policy of redirect.ts (a mirror
 * behind a CDN), and the operator's proxy settings. Every body is read against a hard cap with
 * connect, headers and idle-body timeouts and the caller's AbortSignal. Nothing here decides
 * trust: bytes go back to the engine, which checks them against signed metadata.
 */
import { DchatError, SourceError } from '../errors.ts';
import { isAllowedMirrorUrl } from '../model/loopback.ts';
import {
  contentLength,
  HTTP_DEFAULTS,
  HttpClient,
  type HttpClientOptions,
  header,
  httpError,
  mapError,
} from './http-client.ts';
import type { Headers, RangeTransfer } from './piece-queue.ts';
import { collectRange, type FetchOptions, type RangeRequest, type Source } from './source.ts';

export { mapError } from './http-client.ts';

export interface HttpsSourceOptions extends HttpClientOptions {
  /** Base URL of the mirror directory, e.g. https://mirror.example.com/dchat */
  url: string;
  id?: string;
}

export const HTTPS_DEFAULTS = HTTP_DEFAULTS;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

export class HttpsSource implements Source {
  readonly id: string;
  readonly type = 'https' as const;
  readonly uri: string;
  private readonly base: URL;
  private readonly http: HttpClient;
  /** Which path layout served each target: consistent-snapshot `targets/` or plain `packages/`. */
  private readonly packagePath = new Map<string, string>();

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
    this.base = new URL(`${this.uri}/`);
    this.http = new HttpClient(o);
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
   * One request for bytes [start, end) of a package, yielded in order (see `rangeBody`). The
   * consistent-snapshot path `targets/<sha256>.<name>` is tried first, then `packages/<name>`.
   */
  async *streamRange(req: RangeRequest): AsyncGenerator<Uint8Array> {
    checkName(req.target, 'target');
    const known = this.packagePath.get(req.target);
    const candidates = known ? [known] : [`targets/${req.sha256}.${req.target}`, `packages/${req.target}`];
    for (const rel of candidates) {
      const last = rel === candidates[candidates.length - 1];
      const body = rangeBody(this.http, new URL(rel, this.base), req, `${this.uri}: ${req.target}`, {
        notFound: last ? 'throw' : 'skip',
      });
      const first = await body.next();
      if (first.done) continue; // 404 on a candidate that is not the last
      this.packagePath.set(req.target, rel);
      yield first.value;
      yield* body;
      return;
    }
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  /** GET of a small file with a cap; 404 is "not there" (undefined). */
  private async getSmall(rel: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    const res = await this.http.get(new URL(rel, this.base), {
      maxBytes: opts.maxBytes,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw httpError(res.status, `${this.uri}/${rel}`);
    return res.body;
  }
}

export interface RangeBodyOptions {
  /** Extra request headers (an API's Accept, a token: dropped on a redirect to another origin). */
  headers?: Readonly<Record<string, string>>;
  /** On 404: 'skip' ends the body with no piece (the caller tries elsewhere), 'throw' fails. */
  notFound?: 'skip' | 'throw';
  /** A refusal the caller reads better than E_HTTP (an API's rate limit); undefined: E_HTTP. */
  refusal?: (status: number, headers: Headers) => DchatError | undefined;
}

/**
 * Bytes [req.start, req.end) of the file at `url`, redirects followed, yielded in order as pieces
 * aligned to `start` (the last may be shorter). The final response is checked as any mirror's: a
 * 206 must carry exactly the range asked for; a 200 (a server that ignores Range) is accepted from
 * offset 0 only and read no further than `end`; more bytes than asked fail E_TOO_LARGE, fewer
 * E_NETWORK. Shared by every web source (HTTPS mirrors, GitHub assets, F-Droid APKs).
 */
export async function* rangeBody(
  http: HttpClient,
  url: URL,
  req: RangeRequest,
  what: string,
  o: RangeBodyOptions = {},
): AsyncGenerator<Uint8Array> {
  const want = req.end - req.start;
  if (!(req.start >= 0 && want > 0 && Number.isSafeInteger(req.end)))
    throw new DchatError('E_INTERNAL', `bad range ${req.start}-${req.end}`);
  if (want > req.maxBytes)
    throw new SourceError('E_TOO_LARGE', `range of ${want} bytes is above the ${req.maxBytes}-byte cap`);
  req.signal?.throwIfAborted();
  const range = `bytes=${req.start}-${req.end - 1}`;
  const { s, status, url: at } = await http.openRange(url, range, want, req.signal, o.headers ?? {});
  const where = `${at.origin}${at.pathname}`;
  let stream: RangeTransfer | undefined = s;
  try {
    const { code, headers } = status;
    if (code === 404 && o.notFound === 'skip') {
      s.abort();
      stream = undefined;
      return;
    }
    if (code === 206) {
      checkContentRange(headers, req.start, req.end, where);
      const len = contentLength(headers);
      if (len !== undefined && len > want)
        throw new SourceError('E_TOO_LARGE', `${where}: Content-Length ${len} for a ${want}-byte range`);
      if (len !== undefined && len < want)
        throw new SourceError('E_HTTP', `${where}: Content-Length ${len} for a ${want}-byte range`, {
          details: { status: 206 },
        });
    } else if (code !== 200 || req.start !== 0) {
      throw o.refusal?.(code, headers) ?? httpError(code, `${what} range ${req.start}-${req.end - 1}`);
    }
    yield* s.pieces(where);
  } catch (err) {
    throw mapError(err, where, req.signal);
  } finally {
    stream?.abort();
  }
}

function checkName(name: string, what: string): void {
  if (!NAME_RE.test(name) || name.includes('..'))
    throw new DchatError('E_MALFORMED', `bad ${what} name '${name.slice(0, 64)}'`);
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
