/**
 * Redirects and proxies of web sources (issue 12): the redirect policy and curl's proxy rules as
 * pure functions, then real nginx servers on loopback answering 302/307 chains, loops and
 * downgrades, and a real CONNECT proxy, through both body paths (the lean HTTP/1.1 path and undici).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HttpsSource } from '../../src/sources/https.ts';
import { bypassed, parseProxy, proxyFor } from '../../src/sources/proxy-env.ts';
import { headersForHop, MAX_REDIRECTS, nextHop } from '../../src/sources/redirect.ts';
import {
  CHUNK,
  type MirrorRepo,
  makeHome,
  makeMirrorRepo,
  PLATFORM,
  type Published,
  runDchat,
} from '../download/fixture.ts';
import { type ConnectProxy, startConnectProxy } from '../helpers/connect-proxy.ts';
import { freePort, runNginx } from '../helpers/nginx.ts';
import { assertCode } from '../helpers/repo.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

describe('redirect policy', () => {
  const from = new URL('https://mirror.example/dchat/metadata/timestamp.json');
  test('relative and absolute Locations resolve; the chain may not repeat or grow past the cap', async () => {
    assert.equal(nextHop(from, 302, '/other/x', [from]).href, 'https://mirror.example/other/x');
    assert.equal(nextHop(from, 307, 'https://cdn.example/a#frag', [from]).href, 'https://cdn.example/a');
    const loop = await assertCode(() => nextHop(from, 302, from.href, [from]), 'E_REDIRECT');
    assert.equal((loop.details as { reason: string }).reason, 'loop');
    const chain = Array.from({ length: MAX_REDIRECTS + 1 }, (_, i) => new URL(`https://h${i}.example/`));
    const many = await assertCode(() => nextHop(from, 302, 'https://new.example/', chain), 'E_REDIRECT');
    assert.equal((many.details as { reason: string }).reason, 'too-many');
  });

  test('no downgrade to http off loopback; no credentials, other schemes or missing Location', async () => {
    const reason = async (f: URL, loc: string | undefined) =>
      ((await assertCode(() => nextHop(f, 302, loc, [f]), 'E_REDIRECT')).details as { reason: string })
        .reason;
    assert.equal(await reason(from, 'http://mirror.example/x'), 'downgrade');
    assert.equal(await reason(from, 'http://127.0.0.1/x'), 'downgrade');
    assert.equal(await reason(from, 'http://192.0.2.1/x'), 'downgrade');
    assert.equal(await reason(from, 'https://u:p@cdn.example/x'), 'bad-location');
    assert.equal(await reason(from, 'ftp://cdn.example/x'), 'bad-location');
    assert.equal(await reason(from, undefined), 'bad-location');
    // A local testnet mirror (plain http on loopback) may move within loopback.
    const local = new URL('http://127.0.0.1:8080/m/a');
    assert.equal(nextHop(local, 301, 'http://localhost:9090/b', [local]).href, 'http://localhost:9090/b');
  });

  test('Authorization is dropped when the origin changes, other headers are kept', () => {
    const h = { authorization: 'Bearer t', accept: 'application/octet-stream' };
    assert.deepEqual(headersForHop(h, from, new URL('https://mirror.example/y')), h);
    assert.deepEqual(headersForHop(h, from, new URL('https://cdn.example/y')), {
      accept: 'application/octet-stream',
    });
  });
});

describe('proxy settings as curl reads them', () => {
  const https = new URL('https://mirror.example/x');
  test('https_proxy over HTTPS_PROXY, http_proxy only lower-case, all_proxy as fallback', () => {
    assert.equal(proxyFor(https, { https_proxy: 'http://a:1', HTTPS_PROXY: 'http://b:2' })?.host, 'a:1');
    assert.equal(proxyFor(https, { HTTPS_PROXY: 'b:2' })?.href, 'http://b:2/');
    assert.equal(proxyFor(https, { ALL_PROXY: 'http://c:3' })?.host, 'c:3');
    assert.equal(proxyFor(https, { https_proxy: '' }), undefined);
    const http = new URL('http://127.0.0.1:8080/x');
    assert.equal(proxyFor(http, { HTTP_PROXY: 'http://p:1' }), undefined);
    assert.equal(proxyFor(http, { http_proxy: 'http://p:1' })?.host, 'p:1');
    assert.equal(parseProxy('proxy.example').port, '1080');
  });

  test('NO_PROXY: *, names and subdomains, leading dots, IPs, CIDR; ports ignored', () => {
    assert.equal(bypassed('anything.example', '*'), true);
    assert.equal(bypassed('mirror.example', 'example'), true);
    assert.equal(bypassed('mirror.example', '.example'), true);
    assert.equal(bypassed('badexample', 'example'), false);
    assert.equal(bypassed('mirror.example', 'other.example, mirror.example:443'), true);
    assert.equal(bypassed('127.0.0.1', '127.0.0.1'), true);
    assert.equal(bypassed('127.0.0.5', '127.0.0.0/8'), true);
    assert.equal(bypassed('10.0.0.5', '127.0.0.0/8'), false);
    assert.equal(bypassed('[::1]', '::1'), true);
    assert.equal(bypassed('[::1]', '0:0::1'), true);
    assert.equal(
      proxyFor(new URL('https://127.0.0.1/'), { HTTPS_PROXY: 'http://p:1', NO_PROXY: '127.0.0.1' }),
      undefined,
    );
    assert.equal(
      proxyFor(new URL('https://127.0.0.1/'), { HTTPS_PROXY: 'http://p:1', no_proxy: 'x', NO_PROXY: '*' })
        ?.host,
      'p:1',
    );
    assert.throws(() => parseProxy('socks5://p:1'), /only http:\/\/ proxies/);
  });
});

const skip = requireTool('nginx') || requireTool('openssl');

describe('HttpsSource through redirects and a CONNECT proxy (nginx)', { skip }, () => {
  let ca: TestCa;
  let repo: MirrorRepo;
  let pkg: Published;
  let nginx: { stop(): Promise<void> };
  let proxy: ConnectProxy;
  const port: Record<string, number> = {};

  before(async () => {
    ca = makeTestCa();
    repo = await makeMirrorRepo();
    pkg = await repo.publish('1.0.0', 5 * CHUNK + 1234);
    for (const k of ['entry', 'hop', 'mirror', 'loopA', 'loopB', 'down', 'self']) port[k] = await freePort();
    const tls = `ssl_certificate ${ca.serverCert}; ssl_certificate_key ${ca.serverKey};`;
    const server = (name: string, body: string) =>
      `  server { listen 127.0.0.1:${port[name]} ssl; ${tls} ${body} }\n`;
    nginx = await runNginx(
      // entry -302-> hop (another host name) -307-> mirror, which serves the repository.
      server('entry', `location / { return 302 https://127.0.0.1:${port.hop}$request_uri; }`) +
        server('hop', `location / { return 307 https://localhost:${port.mirror}$request_uri; }`) +
        server('mirror', `root ${repo.dir}; location / { try_files $uri =404; }`) +
        server('loopA', `location / { return 302 https://127.0.0.1:${port.loopB}$request_uri; }`) +
        server('loopB', `location / { return 301 https://127.0.0.1:${port.loopA}$request_uri; }`) +
        server('down', `location / { return 302 http://192.0.2.1$request_uri; }`) +
        server('self', `location / { return 302 /again$request_uri; }`),
      port.self as number,
    );
    proxy = await startConnectProxy();
  });
  after(async () => {
    await nginx?.stop();
    await proxy?.stop();
  });

  const req = (start: number, end: number) => ({
    target: pkg.name,
    sha256: pkg.sha256,
    start,
    end,
    maxBytes: end - start,
  });
  const url = (name: string) => `https://127.0.0.1:${port[name]}`;

  for (const fastBodies of [true, false]) {
    test(`a 302 -> 307 chain to another loopback mirror (${fastBodies ? 'lean path' : 'undici'})`, async () => {
      const s = new HttpsSource({ url: url('entry'), ca: ca.caPem, fastBodies });
      try {
        const ts = await s.fetchMetadata('timestamp.json', { maxBytes: 16_384 });
        assert.equal(JSON.parse(Buffer.from(ts as Uint8Array).toString()).signed._type, 'timestamp');
        assert.equal(await s.fetchMetadata('99.root.json', { maxBytes: 512_000 }), undefined);
        assert.ok(await s.fetchChunkTable(pkg.name, { maxBytes: 1_000_000 }));
        // A range from the middle: served right only if every hop kept the Range header.
        const mid = Buffer.from(await s.fetchRange(req(CHUNK + 7, 3 * CHUNK + 11)));
        assert.deepEqual(mid, pkg.bytes.subarray(CHUNK + 7, 3 * CHUNK + 11));
        const all = Buffer.from(await s.fetchRange(req(0, pkg.bytes.byteLength)));
        assert.deepEqual(all, pkg.bytes);
      } finally {
        await s.close();
      }
    });

    test(`loops, endless chains and downgrades end in E_REDIRECT (${fastBodies ? 'lean path' : 'undici'})`, async () => {
      const reason = async (name: string, what: 'metadata' | 'range') => {
        const s = new HttpsSource({ url: url(name), ca: ca.caPem, fastBodies });
        try {
          const e = await assertCode(
            () =>
              what === 'metadata'
                ? s.fetchMetadata('timestamp.json', { maxBytes: 16_384 })
                : s.fetchRange(req(0, CHUNK)),
            'E_REDIRECT',
          );
          return (e.details as { reason: string }).reason;
        } finally {
          await s.close();
        }
      };
      for (const what of ['metadata', 'range'] as const) {
        assert.equal(await reason('loopA', what), 'loop');
        assert.equal(await reason('self', what), 'too-many');
        assert.equal(await reason('down', what), 'downgrade');
      }
    });
  }

  test('HTTPS_PROXY: every request goes through the CONNECT tunnel; NO_PROXY bypasses it', async () => {
    const before = proxy.tunnels.length;
    const s = new HttpsSource({ url: url('entry'), ca: ca.caPem, env: { HTTPS_PROXY: proxy.url } });
    try {
      assert.ok(await s.fetchMetadata('timestamp.json', { maxBytes: 16_384 }));
      assert.deepEqual(
        Buffer.from(await s.fetchRange(req(100, 2 * CHUNK))),
        pkg.bytes.subarray(100, 2 * CHUNK),
      );
    } finally {
      await s.close();
    }
    const opened = proxy.tunnels.slice(before);
    // The entry, the hop and the final mirror were each reached through the proxy.
    for (const hop of [`127.0.0.1:${port.entry}`, `127.0.0.1:${port.hop}`, `localhost:${port.mirror}`])
      assert.ok(opened.includes(hop), `${hop} not tunnelled: ${opened.join(', ')}`);

    const mark = proxy.tunnels.length;
    const direct = new HttpsSource({
      url: url('mirror'),
      ca: ca.caPem,
      env: { https_proxy: proxy.url, no_proxy: 'localhost,127.0.0.0/8' },
    });
    try {
      assert.ok(await direct.fetchMetadata('timestamp.json', { maxBytes: 16_384 }));
      assert.deepEqual(Buffer.from(await direct.fetchRange(req(0, CHUNK))), pkg.bytes.subarray(0, CHUNK));
    } finally {
      await direct.close();
    }
    assert.equal(proxy.tunnels.length, mark);
  });

  test('a proxy that refuses the tunnel (407) or is not there is E_NETWORK', async () => {
    const strict = await startConnectProxy({ auth: 'user:secret' });
    try {
      const refused = new HttpsSource({ url: url('mirror'), ca: ca.caPem, env: { HTTPS_PROXY: strict.url } });
      await assertCode(() => refused.fetchMetadata('timestamp.json', { maxBytes: 16_384 }), 'E_NETWORK');
      await refused.close();
      const authed = new HttpsSource({
        url: url('mirror'),
        ca: ca.caPem,
        env: { HTTPS_PROXY: `http://user:secret@127.0.0.1:${strict.port}` },
      });
      assert.ok(await authed.fetchMetadata('timestamp.json', { maxBytes: 16_384 }));
      await authed.close();
      assert.equal(strict.tunnels.length, 1);
    } finally {
      await strict.stop();
    }
    const gone = new HttpsSource({
      url: url('mirror'),
      ca: ca.caPem,
      env: { HTTPS_PROXY: `http://127.0.0.1:${await freePort()}` },
      connectTimeoutMs: 2000,
    });
    await assertCode(() => gone.fetchMetadata('timestamp.json', { maxBytes: 16_384 }), 'E_NETWORK');
    await gone.close();
  });

  test('dchat update download through the 302 chain and the CONNECT proxy ends in the verified package', async () => {
    const paths = await makeHome(repo);
    const home = ['--home', paths.home];
    const env = { NODE_EXTRA_CA_CERTS: ca.caCert, HTTPS_PROXY: proxy.url };
    const add = await runDchat(
      [...home, 'update', 'add-mirror', '--url', url('entry'), '--mirror-type', 'https'],
      {
        env,
      },
    );
    assert.equal(add.code, 0, add.stderr);
    const mark = proxy.tunnels.length;
    const dl = await runDchat([...home, 'update', 'download', '--version', '1.0.0', '--platform', PLATFORM], {
      env,
    });
    assert.equal(dl.code, 0, dl.stderr + dl.stdout);
    assert.deepEqual(readFileSync(join(paths.packagesDir, pkg.name)), pkg.bytes);
    assert.ok(proxy.tunnels.slice(mark).includes(`localhost:${port.mirror}`));
    // A mirror whose redirect loops fails the download with E_REDIRECT, exit 1.
    const loopHome = await makeHome(repo);
    await runDchat(
      ['--home', loopHome.home, 'update', 'add-mirror', '--url', url('loopA'), '--mirror-type', 'https'],
      {
        env,
      },
    );
    const bad = await runDchat(['--home', loopHome.home, 'update', 'download', '--version', '1.0.0'], {
      env,
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /E_REDIRECT/);
  });
});
