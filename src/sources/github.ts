/**
 * GitHub Releases as a Source (seed source_type GitHub), through the REST API:
 * - the mirror URL is the repository's API URL, `https://api.github.com/repos/OWNER/REPO`, or on
 *   GitHub Enterprise Server `https://HOST/api/v3/repos/OWNER/REPO` (everything before `/repos/`
 *   is the API base); `https://github.com/OWNER/REPO` is read as the former;
 * - releases are listed with `GET {base}/repos/O/R/releases?per_page=100`, following the `Link:
 *   <...>; rel="next"` header (at most MAX_PAGES pages), newest first as GitHub lists them; drafts
 *   are skipped and only assets in state `uploaded` are used;
 * - the files are the asset set `release publish --github-assets DIR` writes: the package, its
 *   chunk table and the TUF metadata (`timestamp.json`, `N.root.json`, ...). Metadata comes from
 *   the newest release that carries the file, packages from any release that does;
 * - an asset is downloaded with `GET {base}/repos/O/R/releases/assets/ID` and `Accept:
 *   application/octet-stream`, which redirects to a download host (followed by http-client.ts,
 *   the Range header kept, the token not sent there);
 * - a token from GITHUB_TOKEN (or DCHAT_GITHUB_TOKEN, preferred) is sent as `Authorization:
 *   Bearer` to the API only; rate limits are read from `x-ratelimit-remaining`/`-reset` and
 *   `retry-after`: a short wait (up to `maxRetryWaitMs`) is waited out once, a longer one is
 *   E_RATE_LIMITED with `details.retry_after_s`.
 * Nothing here is trusted: the bytes go to the engine, which checks them against signed metadata.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { DchatError, SourceError } from '../errors.ts';
import { HttpClient, type HttpClientOptions, header, httpError, type SmallResponse } from './http-client.ts';
import { rangeBody } from './https.ts';
import type { Headers } from './piece-queue.ts';
import { collectRange, type FetchOptions, type RangeRequest, type Source } from './source.ts';

/** Pages of the release list read at most (100 releases each). */
const MAX_PAGES = 10;
/** One page of the release list: GitHub's own limit is 100 per page. */
const PAGE_BYTES = 8 * 1024 * 1024;
/** The release list is read again after this long (a node's registry lives longer than a command). */
const LIST_TTL_MS = 60_000;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/** The fields of GitHub's "release" and "release asset" objects that are used (others ignored). */
const AssetSchema = z.looseObject({
  id: z.number().int().nonnegative(),
  name: z.string().max(255),
  size: z.number().int().nonnegative(),
  state: z.string().max(32).optional(),
  url: z.string().max(2048).optional(),
  browser_download_url: z.string().max(2048).optional(),
});
const ReleaseSchema = z.looseObject({
  id: z.number().int().nonnegative(),
  tag_name: z.string().max(255),
  draft: z.boolean().optional(),
  prerelease: z.boolean().optional(),
  assets: z.array(AssetSchema).max(1000),
});
const ReleaseListSchema = z.array(ReleaseSchema).max(100);
export type GitHubRelease = z.infer<typeof ReleaseSchema>;
type GitHubAsset = z.infer<typeof AssetSchema>;

export interface GitHubSourceOptions extends HttpClientOptions {
  /** The repository's API URL (see above). */
  url: string;
  id?: string;
  /** Releases per page (default 100, GitHub's maximum). */
  perPage?: number;
  /** A rate-limit wait up to this long is waited out once (default 10 s); longer: E_RATE_LIMITED. */
  maxRetryWaitMs?: number;
}

/** The API base and repository path of a GitHub mirror URL, or an E_CONFIG naming the problem. */
export function parseGitHubUrl(raw: string): { api: string; repo: string; uri: string } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch (cause) {
    throw new DchatError('E_CONFIG', `GitHub URL '${raw.slice(0, 200)}' is not a URL`, { cause });
  }
  if (u.username || u.password || u.search || u.hash)
    throw new DchatError('E_CONFIG', `GitHub URL ${u.origin}: credentials, query or fragment not allowed`);
  const path = u.pathname.replace(/\/+$/, '');
  const seg = '[A-Za-z0-9][A-Za-z0-9._-]{0,99}';
  const web = new RegExp(`^/(${seg})/(${seg})$`).exec(path);
  if (u.hostname === 'github.com' && web)
    return {
      api: 'https://api.github.com',
      repo: `/repos/${web[1]}/${web[2]}`,
      uri: `https://api.github.com/repos/${web[1]}/${web[2]}`,
    };
  const m = new RegExp(`^(.*)(/repos/${seg}/${seg})$`).exec(path);
  if (!m)
    throw new DchatError(
      'E_CONFIG',
      `GitHub URL ${u.origin}${path} does not end in /repos/OWNER/REPO (e.g. https://api.github.com/repos/OWNER/REPO)`,
    );
  return { api: `${u.origin}${m[1]}`, repo: m[2] as string, uri: `${u.origin}${path}` };
}

export class GitHubSource implements Source {
  readonly id: string;
  readonly type = 'github' as const;
  readonly uri: string;
  private readonly http: HttpClient;
  private readonly repoUrl: string;
  private readonly apiHeaders: Record<string, string>;
  private readonly perPage: number;
  private readonly maxRetryWaitMs: number;
  /** The release list being read or read (one listing at a time, however many requests wait on it). */
  private listed: { at: number; releases: Promise<GitHubRelease[]> } | undefined;
  /** When the API said the limit is spent: no request before this time (ms since epoch). */
  private blockedUntil = 0;
  /** Last rate-limit headers seen (reports, tests). */
  rateLimit: { limit?: number; remaining?: number; resetS?: number } = {};

  constructor(o: GitHubSourceOptions) {
    const { uri } = parseGitHubUrl(o.url);
    this.uri = uri;
    this.repoUrl = uri;
    this.id = o.id ?? uri;
    this.http = new HttpClient(o);
    this.perPage = Math.min(100, Math.max(1, o.perPage ?? 100));
    this.maxRetryWaitMs = o.maxRetryWaitMs ?? 10_000;
    const token = o.env?.DCHAT_GITHUB_TOKEN || o.env?.GITHUB_TOKEN;
    this.apiHeaders = {
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      ...(token ? { authorization: `Bearer ${token.trim()}` } : {}),
    };
  }

  async fetchMetadata(name: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    checkName(name);
    const asset = await this.findAsset(name, opts.signal);
    return asset ? this.downloadSmall(asset, opts) : undefined;
  }

  async fetchChunkTable(target: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    checkName(target);
    const asset = await this.findAsset(`${target}.chunks`, opts.signal);
    return asset ? this.downloadSmall(asset, opts) : undefined;
  }

  async fetchAttestations(target: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    checkName(target);
    const asset = await this.findAsset(`${target}.intoto.jsonl`, opts.signal);
    return asset ? this.downloadSmall(asset, opts) : undefined;
  }

  async fetchRange(req: RangeRequest): Promise<Uint8Array> {
    return collectRange(this.streamRange(req), req);
  }

  async *streamRange(req: RangeRequest): AsyncGenerator<Uint8Array> {
    checkName(req.target);
    const asset = await this.findAsset(req.target, req.signal);
    if (!asset) throw new SourceError('E_NOT_FOUND', `${this.uri}: no release has an asset ${req.target}`);
    const waitMs = this.blockedUntil - Date.now();
    if (waitMs > 0) throw this.limited(waitMs);
    yield* rangeBody(this.http, this.assetUrl(asset), req, `${this.uri}: ${req.target}`, {
      headers: { ...this.apiHeaders, accept: 'application/octet-stream' },
      // The asset request is an API request: its rate-limit refusal says when to come back.
      refusal: (status, headers) => {
        const wait = this.readLimits(status, headers);
        if (wait === undefined) return undefined;
        this.blockedUntil = Date.now() + wait;
        return this.limited(wait);
      },
    });
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  /** Every release, newest first, drafts left out (cached for LIST_TTL_MS; a failed listing is not). */
  releases(signal?: AbortSignal): Promise<GitHubRelease[]> {
    if (this.listed && Date.now() - this.listed.at < LIST_TTL_MS) return this.listed.releases;
    const listing = { at: Date.now(), releases: this.list(signal) };
    this.listed = listing;
    listing.releases.catch(() => {
      if (this.listed === listing) this.listed = undefined;
    });
    return listing.releases;
  }

  private async list(signal?: AbortSignal): Promise<GitHubRelease[]> {
    const apiOrigin = new URL(this.repoUrl).origin;
    const all: GitHubRelease[] = [];
    let next: URL | undefined = new URL(`${this.repoUrl}/releases?per_page=${this.perPage}`);
    for (let page = 0; next && page < MAX_PAGES; page++) {
      const res = await this.api(next, PAGE_BYTES, signal);
      if (res.status === 404)
        throw new SourceError('E_NOT_FOUND', `${this.uri}: no such repository (HTTP 404)`);
      if (res.status !== 200) throw httpError(res.status, `${this.uri}/releases`);
      let list: GitHubRelease[];
      try {
        list = ReleaseListSchema.parse(JSON.parse(Buffer.from(res.body).toString('utf8')));
      } catch (cause) {
        throw new SourceError('E_MALFORMED', `${this.uri}/releases: not a GitHub release list`, { cause });
      }
      all.push(...list.filter((r) => !r.draft));
      next = nextLink(header(res.headers, 'link'), res.url);
      // The token goes with the next page: only within the configured API.
      if (next && next.origin !== apiOrigin) next = undefined;
    }
    return all;
  }

  /** The newest uploaded asset named `name`. */
  private async findAsset(name: string, signal?: AbortSignal): Promise<GitHubAsset | undefined> {
    for (const r of await this.releases(signal)) {
      const a = r.assets.find((x) => x.name === name && (x.state === undefined || x.state === 'uploaded'));
      if (a) return a;
    }
    return undefined;
  }

  private assetUrl(a: GitHubAsset): URL {
    return new URL(`${this.repoUrl}/releases/assets/${a.id}`);
  }

  private async downloadSmall(a: GitHubAsset, opts: FetchOptions): Promise<Uint8Array> {
    if (a.size > opts.maxBytes)
      throw new SourceError(
        'E_TOO_LARGE',
        `${this.uri}: asset ${a.name} is ${a.size} bytes, more than ${opts.maxBytes}`,
      );
    const res = await this.api(this.assetUrl(a), opts.maxBytes, opts.signal, 'application/octet-stream');
    if (res.status !== 200) throw httpError(res.status, `${this.uri}: asset ${a.name}`);
    return res.body;
  }

  /** An API GET with the rate-limit rules: one wait when short, E_RATE_LIMITED when long. */
  private async api(
    url: URL,
    maxBytes: number,
    signal?: AbortSignal,
    accept?: string,
  ): Promise<SmallResponse> {
    const headers = accept ? { ...this.apiHeaders, accept } : this.apiHeaders;
    for (let attempt = 0; ; attempt++) {
      const waitMs = this.blockedUntil - Date.now();
      if (waitMs > 0) {
        if (waitMs > this.maxRetryWaitMs || attempt > 1) throw this.limited(waitMs);
        await sleep(waitMs, undefined, signal ? { signal } : {});
      }
      const res = await this.http.get(url, { maxBytes, headers, ...(signal ? { signal } : {}) });
      const wait = this.readLimits(res.status, res.headers);
      if (wait === undefined) return res;
      this.blockedUntil = Date.now() + wait;
      if (wait > this.maxRetryWaitMs || attempt >= 1) throw this.limited(wait);
    }
  }

  /** Records the rate-limit headers; returns the wait (ms) when this answer is a rate-limit refusal. */
  private readLimits(status: number, h: Headers): number | undefined {
    const num = (name: string) => {
      const v = header(h, name);
      return v !== undefined && /^\d{1,12}$/.test(v.trim()) ? Number(v) : undefined;
    };
    const limit = num('x-ratelimit-limit');
    const remaining = num('x-ratelimit-remaining');
    const resetS = num('x-ratelimit-reset');
    // Answers of the download host (after a redirect) carry no limits: the API's last ones stand.
    if (limit !== undefined || remaining !== undefined)
      this.rateLimit = {
        ...(limit !== undefined ? { limit } : {}),
        ...(remaining !== undefined ? { remaining } : {}),
        ...(resetS !== undefined ? { resetS } : {}),
      };
    if (status !== 403 && status !== 429) return undefined;
    const retryAfter = num('retry-after');
    if (retryAfter !== undefined) return retryAfter * 1000;
    if (remaining === 0 && resetS !== undefined) return Math.max(0, resetS * 1000 - Date.now());
    // GitHub's docs: a secondary limit without either header: wait at least a minute.
    return status === 429 ? 60_000 : undefined;
  }

  private limited(waitMs: number): SourceError {
    const s = Math.ceil(waitMs / 1000);
    return new SourceError('E_RATE_LIMITED', `${this.uri}: GitHub API rate limit reached; retry in ${s} s`, {
      details: { retry_after_s: s },
    });
  }
}

/** The `rel="next"` URL of a Link header (RFC 8288), on the same origin as the page, or undefined. */
export function nextLink(link: string | undefined, page: URL): URL | undefined {
  if (!link || link.length > 16_384) return undefined;
  for (const part of link.split(',')) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (!m || !/(^|;)\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/.test(m[2] as string)) continue;
    try {
      const u = new URL(m[1] as string, page);
      // A list page may only send us on within its own API: no token goes elsewhere.
      return u.origin === page.origin ? u : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function checkName(name: string): void {
  if (!NAME_RE.test(name) || name.includes('..'))
    throw new DchatError('E_MALFORMED', `bad file name '${name.slice(0, 64)}'`);
}
