/**
 * An IPFS HTTP gateway as a download Source: `https://GATEWAY/ipfs/CID` (a path gateway, as Kubo,
 * rainbow and public gateways serve it) answers byte ranges of the file CID names. The gateway is
 * transport only, like an HTTPS mirror: the engine checks every chunk against the signed chunk table
 * and the whole file against the signed target, so a gateway that serves other bytes is dropped
 * with E_CHUNK_MISMATCH and the download completes from the other sources.
 *
 * https:// anywhere, plain http:// on loopback only (model/loopback.ts), as for mirrors; requests go
 * through the HTTP client every web source shares (sources/http-client.ts: redirects, proxies).
 */
import { DchatError } from '../../errors.ts';
import { isAllowedMirrorUrl } from '../../model/loopback.ts';
import type { PackageTarget } from '../../model/package.ts';
import { parsePackageName } from '../../model/platform.ts';
import { HttpClient, httpError } from '../http-client.ts';
import { rangeBody } from '../https.ts';
import {
  collectRange,
  type FetchOptions,
  type RangeRequest,
  type Source,
  servesByOwnAddress,
} from '../source.ts';
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
  /** Proxy settings (https_proxy, no_proxy), read as curl reads them. */
  env?: NodeJS.ProcessEnv;
}

export class IpfsGatewaySource implements Source {
  readonly id: string;
  readonly type = 'ipfs' as const;
  readonly uri: string;
  private readonly http: HttpClient;
  private readonly url: URL;
  /** The gateway's origin and the path before `/ipfs/` (other CIDs are fetched under it). */
  private readonly base: string;

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
    this.url = new URL(`${u.origin}${u.pathname.replace(/\/$/, '')}`);
    this.uri = this.url.href;
    this.base = `${u.origin}${m[1] as string}`;
    this.id = o.id;
    this.http = new HttpClient({ ...(o.ca ? { ca: o.ca } : {}), ...(o.env ? { env: o.env } : {}) });
  }

  /**
   * An encoded target (a patch: no package name) only by a CID of its own: the URL's CID is a
   * package's, never a patch's.
   */
  serves(target: PackageTarget): boolean {
    return servesByOwnAddress(target, target.custom.ipfs_cid);
  }

  /** A gateway serves the file, not the TUF repository. */
  async fetchMetadata(): Promise<undefined> {
    return undefined;
  }

  /** The chunk table by the CID the release signed (`custom.ipfs_chunks_cid`), from the same gateway. */
  async fetchChunkTable(target: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    if (!opts.ipfs?.chunksCid) return undefined;
    const cid = parseCid(opts.ipfs.chunksCid, 'E_MALFORMED', `${target} custom.ipfs_chunks_cid`);
    const url = new URL(`${this.base}/ipfs/${cid.toString()}`);
    const res = await this.http.get(url, {
      maxBytes: opts.maxBytes,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw httpError(res.status, url.href);
    return res.body;
  }

  async fetchRange(req: RangeRequest): Promise<Uint8Array> {
    return collectRange(this.streamRange(req), req);
  }

  /** Bytes of the file by Range, checked as any mirror's (sources/https.ts rangeBody). */
  streamRange(req: RangeRequest): AsyncGenerator<Uint8Array> {
    // The URL's file is a package's; a patch of it comes by its own signed CID (serves()).
    const own = parsePackageName(req.target) === undefined && req.ipfs?.cid;
    const url = own
      ? new URL(
          `${this.base}/ipfs/${parseCid(own, 'E_MALFORMED', `${req.target} custom.ipfs_cid`).toString()}`,
        )
      : this.url;
    return rangeBody(this.http, url, req, this.uri);
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}
