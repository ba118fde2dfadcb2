/**
 * sources/undici-lite.ts: the dispatchers loaded file by file are undici's own classes, their
 * `request()` works against a real server, and loading them leaves undici's index (and its fetch)
 * unloaded: the point of the module.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import * as undici from 'undici';
import { Agent, Pool, ProxyAgent, requestUrl, sharedAgent } from '../../src/sources/undici-lite.ts';

test('the dispatchers are the classes undici exports', () => {
  assert.equal(Pool, undici.Pool);
  assert.equal(Agent, undici.Agent);
  assert.equal(ProxyAgent, undici.ProxyAgent);
  assert.equal(sharedAgent(), sharedAgent(), 'one shared agent per process');
});

test('requestUrl asks for the path and query of a whole URL', async () => {
  const server = createServer((req, res) => res.end(`${req.method} ${req.url}`));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const pool = new Pool(`http://127.0.0.1:${port}`);
  try {
    for (const d of [pool, sharedAgent()]) {
      const res = await requestUrl(d, `http://127.0.0.1:${port}/a/b.json?x=1`, { method: 'GET' });
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), 'GET /a/b.json?x=1');
    }
  } finally {
    await pool.close();
    await new Promise((r) => server.close(r));
  }
});

test('loading it gives request() and does not load undici index or its fetch', () => {
  const lite = join(import.meta.dirname, '../../src/sources/undici-lite.ts');
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module';
       const { Pool } = await import(${JSON.stringify(lite)});
       const request = typeof new Pool('http://127.0.0.1:1').request;
       const loaded = Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes('/undici/'));
       console.log(JSON.stringify({ n: loaded.length, index: loaded.some((f) => f.endsWith('/undici/index.js')), fetch: loaded.some((f) => f.includes('/web/fetch/')), request }));`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout.trim()) as { n: number; index: boolean; fetch: boolean; request: string };
  assert.equal(got.request, 'function', 'dispatchers have request() without the index');
  assert.ok(got.n > 0, 'the dispatchers were loaded through require');
  assert.equal(got.index, false);
  assert.equal(got.fetch, false);
});
