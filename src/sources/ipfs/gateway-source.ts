/**
 * An IPFS HTTP gateway as a download Source: `https://GATEWAY/ipfs/CID` (a path gateway, as Kubo,
 * rainbow and public gateways serve it) answers byte ranges of the file CID names. The gateway is
 * transport only, like an HTTPS mirror: the engine checks every chunk against the signed chunk table
 * and the whole file against the signed target, so a gateway that serves other bytes is dropped
 * with E_CHUNK_MISMATCH and the download completes from the other sources.
 *
 * https:// anywhere, plain http:// on loopback only (model/loopback.ts), as for mirrors.
 */
import { getCACertificates } from 'node:tls';
import { Pool } from 'undici';
import { DchatError, SourceError } from '../../errors.ts';
import { isAllowedMirrorUrl } from '../../model/loopback.ts';
import { mapError } from '../https.ts';
import { collectRange, type FetchOptions, type RangeRequest, type Source } from '../source.ts';
import { parseCid } from './ipfs-source.ts';

/** `/ipfs/<cid>` at the end of a gateway URL's path. */
const GATEWAY_PATH = /^(.*)\/ipfs\/([A-Za-z0-9]{2,512})\/?$/;

/** True when `uri` names a file on an IPFS path gateway (`http(s)://host/.../ipfs/CID`). */
export function isGatewayUrl(uri: string): boolean {
  try {
    const u = new URL(uri);
    return (u.protocol === 'https:' || u.protocol === 'http:') && GATEWAY_PATH.test(u.pathname);
  } catch {
    return false;
  }
}

export interface GatewaySourceOptions {
  id: string;
  url: string;
  ca?: string;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
}

export class IpfsGatewaySource implements Source {
  readonly id: string;
  readonly type = 'ipfs' as const;
  readonly uri: string;
  private readonly pool: Pool;
  private readonly path: string;
  /** The gateway's origin and the path before `/ipfs/` (other CIDs are fetched under it). */
  private readonly origin: string;
  private readonly prefix: string;

  constructor(o: GatewaySourceOptions) {
    let u: URL;
    try {
      u = new URL(o.url);
    } catch (cause) {
      throw new DchatError('E_CONFIG', `gateway URL '${o.url.slice(0, 200)}' is not a URL`, { cause });
    }
    if (!isAllowedMirrorUrl(u))
      throw new DchatError('E_CONFIG', `gateway URL ${u.href} is not https:// (plain http only on loopback)`);
    if (u.username || u.password || u.search || u.hash)
      throw new DchatError('E_CONFIG', `gateway URL ${u.origin}: credentials, query or fragment not allowed`);
    const m = GATEWAY_PATH.exec(u.pathname);
    if (!m) throw new DchatError('E_CONFIG', `gateway URL ${u.href} does not end in /ipfs/<CID>`);
    parseCid(m[2] as string, 'E_CONFIG', u.href);
    this.path = u.pathname.replace(/\/$/, '');
    this.origin = u.origin;
    this.prefix = m[1] as string;
    this.uri = `${u.origin}${this.path}`;
    this.id = o.id;
    this.pool = new Pool(u.origin, {
      connections: 4,
      headersTimeout: o.headersTimeoutMs ?? 15_000,
      bodyTimeout: o.bodyTimeoutMs ?? 20_000,
      connect: {
        timeout: 10_000,
        ...(o.ca ? { ca: [...getCACertificates('default'), o.ca] } : {}),
      },
    });
  }

  /** A gateway serves the file, not the TUF repository. */
  async fetchMetadata(): Promise<undefined> {
    return undefined;
  }

  /** The chunk table by the CID the release signed (`custom.ipfs_chunks_cid`), from the same gateway. */
  async fetchChunkTable(target: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    if (!opts.ipfs?.chunksCid) return undefined;
    const cid = parseCid(opts.ipfs.chunksCid, 'E_MALFORMED', `${target} custom.ipfs_chunks_cid`);
    const path = `${this.prefix}/ipfs/${cid.toString()}`;
    const where = `${this.origin}${path}`;
    let res: Awaited<ReturnType<Pool['request']>>;
    try {
      res = await this.pool.request({
        path,
        method: 'GET',
        headers: { 'user-agent': 'dchat' },
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      throw mapError(err, where, opts.signal);
    }
    try {
      if (res.statusCode === 404) return undefined;
      if (res.statusCode !== 200) throw httpError(res.statusCode, where);
      const parts: Buffer[] = [];
      let n = 0;
      for await (const piece of res.body as AsyncIterable<Buffer>) {
        n += piece.byteLength;
        if (n > opts.maxBytes)
          throw new SourceError('E_TOO_LARGE', `${where} is larger than the ${opts.maxBytes} bytes allowed`);
        parts.push(piece);
      }
      return Buffer.concat(parts, n);
    } catch (err) {
      throw mapError(err, where, opts.signal);
    } finally {
      res.body.on('error', () => {});
      res.body.destroy();
    }
  }

  async fetchRange(req: RangeRequest): Promise<Uint8Array> {
    return collectRange(this.streamRange(req), req);
  }

  async *streamRange(req: RangeRequest): AsyncGenerator<Uint8Array> {
    const want = req.end - req.start;
    if (!(req.start >= 0 && want > 0))
      throw new DchatError('E_INTERNAL', `bad range ${req.start}-${req.end}`);
    if (want > req.maxBytes)
      throw new SourceError('E_TOO_LARGE', `range of ${want} bytes is above the ${req.maxBytes}-byte cap`);
    let res: Awaited<ReturnType<Pool['request']>>;
    try {
      res = await this.pool.request({
        path: this.path,
        method: 'GET',
        headers: { 'user-agent': 'dchat', range: `bytes=${req.start}-${req.end - 1}` },
        ...(req.signal ? { signal: req.signal } : {}),
      });
    } catch (err) {
      throw mapError(err, this.uri, req.signal);
    }
    try {
      if (res.statusCode === 200 && req.start !== 0)
        throw httpError(200, this.uri, 'ignored the Range header');
      if (res.statusCode !== 206 && res.statusCode !== 200) throw httpError(res.statusCode, this.uri);
      if (res.statusCode === 206) {
        const cr = String(res.headers['content-range'] ?? '');
        const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(cr.trim());
        if (!m || Number(m[1]) !== req.start || Number(m[2]) !== req.end - 1)
          throw new SourceError(
            'E_HTTP',
            `${this.uri}: Content-Range '${cr.slice(0, 80)}' is not ${req.start}-${req.end - 1}`,
            {
              details: { status: 206 },
            },
          );
      }
      let got = 0;
      for await (const piece of res.body as AsyncIterable<Buffer>) {
        const room = want - got;
        if (room <= 0) break;
        // A 200 carries the whole file: only its first `want` bytes are ours.
        const part = piece.byteLength > room ? piece.subarray(0, room) : piece;
        got += part.byteLength;
        yield part;
      }
      if (got !== want)
        throw new SourceError('E_SIZE_MISMATCH', `${this.uri}: ${got} bytes for a ${want}-byte range`);
    } catch (err) {
      throw mapError(err, this.uri, req.signal);
    } finally {
      res.body.on('error', () => {});
      res.body.destroy();
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

function httpError(status: number, uri: string, why = `HTTP ${status}`): SourceError {
  return new SourceError(status === 404 || status === 410 ? 'E_NOT_FOUND' : 'E_HTTP', `${uri}: ${why}`, {
    details: { status },
  });
}
