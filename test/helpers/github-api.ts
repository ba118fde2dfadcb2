/**
 * A local HTTPS server answering the GitHub REST API's documented shapes for releases
 * (docs.github.com "REST API endpoints for releases" / "release assets"), for the GitHub source:
 * - GET {prefix}/repos/O/R/releases?per_page=N&page=P: a JSON array of release objects (id,
 *   tag_name, name, draft, prerelease, created_at, published_at, assets[] with id, name, size,
 *   state, content_type, url, browser_download_url), newest first, with a `Link` header carrying
 *   rel="next"/"last" while pages remain;
 * - GET {prefix}/repos/O/R/releases/assets/ID: the asset object, or with `Accept:
 *   application/octet-stream` a 302 to the download host (`downloadBase/TAG/NAME`);
 * - x-ratelimit-limit/-remaining/-reset/-used on every answer; queued refusals (`refuse`) answer
 *   403 with remaining 0 and a reset time, or 429 with retry-after, as GitHub documents;
 * - a token, when set, is required (`Authorization: Bearer T`, else 401 Bad credentials).
 * Every request is recorded (path, authorization) for the test to inspect.
 */
import { readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { basename } from 'node:path';
import type { TestCa } from './tls.ts';

export interface FakeRelease {
  tag: string;
  draft?: boolean;
  /** Files on disk, uploaded under their base name. */
  files: string[];
}

export type Refusal = { status: 403; resetInS: number } | { status: 429; retryAfterS: number };

export interface GitHubApi {
  /** The repository's API URL, e.g. https://127.0.0.1:PORT/api/v3/repos/dchat/dchat */
  repoUrl: string;
  port: number;
  requests: { path: string; authorization?: string; accept?: string }[];
  refuse(r: Refusal): void;
  stop(): Promise<void>;
}

export async function startGitHubApi(o: {
  ca: TestCa;
  releases: FakeRelease[];
  downloadBase: string;
  token?: string;
  prefix?: string;
}): Promise<GitHubApi> {
  const prefix = o.prefix ?? '/api/v3';
  const repoPath = `${prefix}/repos/dchat/dchat`;
  const requests: GitHubApi['requests'] = [];
  const refusals: Refusal[] = [];
  let used = 0;
  let nextId = 1000;
  let origin = '';
  const releases = o.releases.map((r, i) => ({
    id: i + 1,
    tag_name: r.tag,
    name: r.tag,
    draft: r.draft ?? false,
    prerelease: false,
    created_at: new Date(Date.UTC(2026, 0, 30 - i)).toISOString(),
    published_at: new Date(Date.UTC(2026, 0, 30 - i)).toISOString(),
    assets: r.files.map((f) => {
      const id = nextId++;
      return {
        id,
        name: basename(f),
        label: '',
        state: 'uploaded',
        content_type: 'application/octet-stream',
        size: statSync(f).size,
        download_count: 0,
        url: '',
        browser_download_url: `${o.downloadBase}/${r.tag}/${basename(f)}`,
      };
    }),
  }));
  const server: Server = createServer(
    { cert: readFileSync(o.ca.serverCert), key: readFileSync(o.ca.serverKey) },
    (req, res) => {
      const url = new URL(req.url ?? '/', origin);
      requests.push({
        path: `${url.pathname}${url.search}`,
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        ...(req.headers.accept ? { accept: req.headers.accept } : {}),
      });
      const reset = Math.floor(Date.now() / 1000) + 3600;
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        const text = JSON.stringify(body);
        res.writeHead(status, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(text),
          'x-ratelimit-limit': '60',
          'x-ratelimit-remaining': String(Math.max(0, 60 - used)),
          'x-ratelimit-reset': String(reset),
          'x-ratelimit-used': String(used),
          ...headers,
        });
        res.end(text);
      };
      const refusal = refusals.shift();
      if (refusal?.status === 403)
        return send(
          403,
          { message: 'API rate limit exceeded', documentation_url: 'https://docs.github.com/rest' },
          {
            'x-ratelimit-remaining': '0',
            'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + refusal.resetInS),
          },
        );
      if (refusal?.status === 429)
        return send(
          429,
          { message: 'You have exceeded a secondary rate limit' },
          { 'retry-after': String(refusal.retryAfterS) },
        );
      used++;
      if (o.token !== undefined && req.headers.authorization !== `Bearer ${o.token}`)
        return send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
      if (url.pathname === `${repoPath}/releases`) {
        const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? 30));
        const page = Number(url.searchParams.get('page') ?? 1);
        const pages = Math.max(1, Math.ceil(releases.length / perPage));
        const link = (p: number) => `<${origin}${repoPath}/releases?per_page=${perPage}&page=${p}>`;
        const links = [
          ...(page < pages ? [`${link(page + 1)}; rel="next"`, `${link(pages)}; rel="last"`] : []),
          ...(page > 1 ? [`${link(1)}; rel="first"`, `${link(page - 1)}; rel="prev"`] : []),
        ];
        return send(
          200,
          releases.slice((page - 1) * perPage, page * perPage),
          links.length ? { link: links.join(', ') } : {},
        );
      }
      const m = new RegExp(`^${repoPath}/releases/assets/(\\d+)$`).exec(url.pathname);
      const asset = m
        ? releases.flatMap((r) => r.assets.map((a) => ({ r, a }))).find((x) => x.a.id === Number(m[1]))
        : undefined;
      if (asset) {
        if (req.headers.accept === 'application/octet-stream') {
          res.writeHead(302, { location: asset.a.browser_download_url, 'content-length': '0' });
          return res.end();
        }
        return send(200, asset.a);
      }
      send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  origin = `https://127.0.0.1:${port}`;
  for (const r of releases) for (const a of r.assets) a.url = `${origin}${repoPath}/releases/assets/${a.id}`;
  return {
    repoUrl: `${origin}${repoPath}`,
    port,
    requests,
    refuse: (r) => refusals.push(r),
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
