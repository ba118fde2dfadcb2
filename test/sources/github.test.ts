/**
 * The GitHub Releases source against a local HTTPS server answering the REST API's documented JSON
 * shapes (test/helpers/github-api.ts), with assets redirecting to a real nginx download host:
 * listing with Link pagination, drafts skipped, metadata from the newest release, ranges through
 * the redirect (Range kept, token not sent there), rate limits, and `dchat update download
 * --source github` ending in a verified package.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeGitHubAssets } from '../../src/release/github-assets.ts';
import { GitHubSource, nextLink, parseGitHubUrl } from '../../src/sources/github.ts';
import {
  CHUNK,
  type MirrorRepo,
  makeHome,
  makeMirrorRepo,
  type Published,
  runDchat,
} from '../download/fixture.ts';
import { downloadArgs } from '../helpers/cli.ts';
import { type GitHubApi, startGitHubApi } from '../helpers/github-api.ts';
import { freePort, runNginx } from '../helpers/nginx.ts';
import { assertCode } from '../helpers/repo.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

describe('GitHub URLs and Link headers', () => {
  test('api.github.com, GitHub Enterprise and github.com repository URLs', () => {
    assert.deepEqual(parseGitHubUrl('https://api.github.com/repos/o/r/'), {
      api: 'https://api.github.com',
      repo: '/repos/o/r',
      uri: 'https://api.github.com/repos/o/r',
    });
    assert.equal(parseGitHubUrl('https://ghe.example/api/v3/repos/o/r').api, 'https://ghe.example/api/v3');
    assert.equal(parseGitHubUrl('https://github.com/o/r').uri, 'https://api.github.com/repos/o/r');
    assert.throws(() => parseGitHubUrl('https://api.github.com/o/r'), /\/repos\/OWNER\/REPO/);
    assert.throws(() => parseGitHubUrl('https://api.github.com/repos/o/r?x=1'), /query/);
  });

  test('rel="next" is found among other relations and must stay on the API origin', () => {
    const page = new URL('https://api.github.com/repos/o/r/releases?page=1');
    const link =
      '<https://api.github.com/repos/o/r/releases?page=2>; rel="next", <https://api.github.com/repos/o/r/releases?page=5>; rel="last"';
    assert.equal(nextLink(link, page)?.searchParams.get('page'), '2');
    assert.equal(nextLink('<https://api.github.com/x?page=5>; rel="last"', page), undefined);
    assert.equal(nextLink('<https://evil.example/x>; rel="next"', page), undefined);
    assert.equal(nextLink(undefined, page), undefined);
  });
});

const skip = requireTool('nginx') || requireTool('openssl');

describe('GitHubSource against a local GitHub API and download host', { skip }, () => {
  let ca: TestCa;
  let repo: MirrorRepo;
  let v1: Published;
  let v2: Published;
  let api: GitHubApi;
  let nginx: { stop(): Promise<void> };
  let accessLog: string;
  let badFiles: string[];
  let mirrorUrl: string;
  let downloadBase: string;
  const token = 'ghp_fixture_token';

  before(async () => {
    ca = makeTestCa();
    repo = await makeMirrorRepo();
    const dl = join(repo.base, 'download-host');
    v1 = await repo.publish('1.0.0', 3 * CHUNK + 99);
    const files1 = await writeGitHubAssets(repo.dir, [v1.name], join(dl, 'v1.0.0'));
    v2 = await repo.publish('1.1.0', 4 * CHUNK + 5);
    const files2 = await writeGitHubAssets(repo.dir, [v2.name], join(dl, 'v1.1.0'));
    mkdirSync(join(dl, 'draft'), { recursive: true });
    writeFileSync(join(dl, 'draft', 'timestamp.json'), '{"not": "metadata"}');
    // A release whose package asset is corrupt (one flipped byte in its second chunk).
    mkdirSync(join(dl, 'bad'));
    for (const f of files2) cpSync(join(dl, 'v1.1.0', f), join(dl, 'bad', f));
    const corrupt = Buffer.from(v2.bytes);
    corrupt[CHUNK + 10] = (corrupt[CHUNK + 10] as number) ^ 0xff;
    writeFileSync(join(dl, 'bad', v2.name), corrupt);
    badFiles = files2.map((f) => join(dl, 'bad', f));
    const dlPort = await freePort();
    const mirrorPort = await freePort();
    accessLog = join(repo.base, 'dl-access.log');
    const tls = `ssl_certificate ${ca.serverCert}; ssl_certificate_key ${ca.serverKey};`;
    nginx = await runNginx(
      `  log_format gh '$http_authorization|$http_range|$uri';
  server { listen 127.0.0.1:${dlPort} ssl; ${tls}
    access_log ${accessLog} gh; root ${dl}; location / { try_files $uri =404; } }
  server { listen 127.0.0.1:${mirrorPort} ssl; ${tls} root ${repo.dir}; location / { try_files $uri =404; } }`,
      dlPort,
    );
    mirrorUrl = `https://127.0.0.1:${mirrorPort}`;
    downloadBase = `https://localhost:${dlPort}`;
    // Newest first, as GitHub lists them; with 2 per page the two releases are on pages 1 and 3.
    api = await startGitHubApi({
      ca,
      token,
      downloadBase,
      releases: [
        { tag: 'draft', draft: true, files: [join(dl, 'draft', 'timestamp.json')] },
        { tag: 'v1.1.0', files: files2.map((f) => join(dl, 'v1.1.0', f)) },
        { tag: 'notes-only', files: [] },
        { tag: 'docs', files: [] },
        { tag: 'v1.0.0', files: files1.map((f) => join(dl, 'v1.0.0', f)) },
      ],
    });
  });
  after(async () => {
    await api?.stop();
    await nginx?.stop();
  });

  const req = (p: Published, start: number, end: number) => ({
    target: p.name,
    sha256: p.sha256,
    start,
    end,
    maxBytes: end - start,
  });
  const source = (extra: { env?: NodeJS.ProcessEnv; maxRetryWaitMs?: number } = {}) =>
    new GitHubSource({ url: api.repoUrl, ca: ca.caPem, perPage: 2, env: { GITHUB_TOKEN: token }, ...extra });

  test('lists every page, skips drafts, serves metadata of the newest release and both packages', async () => {
    const s = source();
    try {
      const releases = await s.releases();
      assert.deepEqual(
        releases.map((r) => r.tag_name),
        ['v1.1.0', 'notes-only', 'docs', 'v1.0.0'],
      );
      assert.ok(api.requests.some((r) => r.path.includes('page=3')));
      const ts = await s.fetchMetadata('timestamp.json', { maxBytes: 16_384 });
      assert.deepEqual(
        Buffer.from(ts as Uint8Array),
        readFileSync(join(repo.dir, 'metadata', 'timestamp.json')),
      );
      assert.ok(await s.fetchMetadata('1.root.json', { maxBytes: 512_000 }));
      assert.equal(await s.fetchMetadata('99.root.json', { maxBytes: 512_000 }), undefined);
      assert.ok(await s.fetchChunkTable(v1.name, { maxBytes: 1_000_000 }));
      const mid = Buffer.from(await s.fetchRange(req(v1, CHUNK + 3, 2 * CHUNK + 17)));
      assert.deepEqual(mid, v1.bytes.subarray(CHUNK + 3, 2 * CHUNK + 17));
      assert.deepEqual(Buffer.from(await s.fetchRange(req(v2, 0, v2.bytes.byteLength))), v2.bytes);
      await assertCode(
        () => s.fetchRange({ ...req(v2, 0, 10), target: 'dchat-9.9.9-linux-x64' }),
        'E_NOT_FOUND',
      );
      assert.equal(s.rateLimit.limit, 60);
    } finally {
      await s.close();
    }
    // The token went to the API on every request and never to the download host; Range was kept.
    assert.ok(api.requests.every((r) => r.authorization === `Bearer ${token}`));
    const log = readFileSync(accessLog, 'utf8').trim().split('\n');
    assert.ok(log.length >= 4);
    for (const line of log) assert.match(line, /^-\|/, `Authorization reached the download host: ${line}`);
    assert.ok(log.includes(`-|bytes=${CHUNK + 3}-${2 * CHUNK + 16}|/v1.0.0/${v1.name}`), log.join('\n'));
  });

  test('rate limits: a short wait is waited out, a long one is E_RATE_LIMITED; a bad token is E_HTTP', async () => {
    const s = source({ maxRetryWaitMs: 5000 });
    try {
      api.refuse({ status: 429, retryAfterS: 1 });
      const t0 = Date.now();
      assert.equal((await s.releases()).length, 4);
      assert.ok(Date.now() - t0 >= 900, 'retry-after was not honoured');
    } finally {
      await s.close();
    }
    const long = source({ maxRetryWaitMs: 5000 });
    try {
      api.refuse({ status: 403, resetInS: 600 });
      const e = await assertCode(
        () => long.fetchMetadata('timestamp.json', { maxBytes: 16_384 }),
        'E_RATE_LIMITED',
      );
      const after = (e.details as { retry_after_s: number }).retry_after_s;
      assert.ok(after > 500 && after <= 601, String(after));
      // Blocked until the reset: no further request is sent.
      const n = api.requests.length;
      await assertCode(() => long.fetchMetadata('timestamp.json', { maxBytes: 16_384 }), 'E_RATE_LIMITED');
      assert.equal(api.requests.length, n);
    } finally {
      await long.close();
    }
    // An asset range refused by the rate limit: E_RATE_LIMITED, and no request until the reset.
    const ranged = source({ maxRetryWaitMs: 5000 });
    try {
      await ranged.releases();
      api.refuse({ status: 429, retryAfterS: 120 });
      const e = await assertCode(() => ranged.fetchRange(req(v2, 0, CHUNK)), 'E_RATE_LIMITED');
      assert.equal((e.details as { retry_after_s: number }).retry_after_s, 120);
      const n = api.requests.length;
      await assertCode(() => ranged.fetchRange(req(v2, 0, CHUNK)), 'E_RATE_LIMITED');
      assert.equal(api.requests.length, n);
    } finally {
      await ranged.close();
    }
    const bad = source({ env: { GITHUB_TOKEN: 'wrong' } });
    try {
      const e = await assertCode(() => bad.releases(), 'E_HTTP');
      assert.deepEqual(e.details, { status: 401 });
    } finally {
      await bad.close();
    }
  });

  test('dchat update add-mirror --mirror-type github + update download --source github', async () => {
    const paths = await makeHome(repo);
    const env = { NODE_EXTRA_CA_CERTS: ca.caCert, GITHUB_TOKEN: token };
    const home = ['--home', paths.home];
    const add = await runDchat(
      [...home, 'update', 'add-mirror', '--url', api.repoUrl, '--mirror-type', 'github'],
      {
        env,
      },
    );
    assert.equal(add.code, 0, add.stderr);
    assert.doesNotMatch(add.stdout, /no GitHub transport/);
    const dl = await runDchat(
      [...home, '--json', ...downloadArgs('1.1.0', 'linux-x64'), '--source', 'github'],
      { env },
    );
    assert.equal(dl.code, 0, dl.stderr + dl.stdout);
    assert.deepEqual(readFileSync(join(paths.packagesDir, v2.name)), v2.bytes);
  });

  test('a GitHub release serving wrong bytes is dropped with a coded error; the HTTPS mirror finishes', async () => {
    const bad = await startGitHubApi({ ca, downloadBase, releases: [{ tag: 'bad', files: badFiles }] });
    try {
      const paths = await makeHome(repo);
      const env = { NODE_EXTRA_CA_CERTS: ca.caCert };
      const home = ['--home', paths.home];
      const add = (url: string, type: string, priority: string) =>
        runDchat(
          [...home, 'update', 'add-mirror', '--url', url, '--mirror-type', type, '--priority', priority],
          {
            env,
          },
        );
      assert.equal((await add(bad.repoUrl, 'github', '1')).code, 0);
      assert.equal((await add(mirrorUrl, 'https', '5')).code, 0);
      const dl = await runDchat(
        [...home, '--json', ...downloadArgs('1.1.0', 'linux-x64'), '--parallel', '1'],
        { env },
      );
      assert.equal(dl.code, 0, dl.stderr + dl.stdout);
      assert.deepEqual(readFileSync(join(paths.packagesDir, v2.name)), v2.bytes);
      const result = JSON.parse(dl.stdout.trim().split('\n').at(-1) as string) as {
        sources: { type: string; ok: boolean; failures: { code: string }[] }[];
      };
      const gh = result.sources.find((s) => s.type === 'github');
      assert.ok(gh && !gh.ok, JSON.stringify(result.sources));
      assert.ok(
        gh.failures.some((f) => ['E_CHUNK_MISMATCH', 'E_HASH_MISMATCH'].includes(f.code)),
        JSON.stringify(gh),
      );
      assert.ok(result.sources.some((s) => s.type === 'https' && s.ok));
    } finally {
      await bad.stop();
    }
  });
});
