import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseChunkTable } from '../../src/model/chunks.ts';
import { CacheSource } from '../../src/sources/cache.ts';
import { HttpsSource } from '../../src/sources/https.ts';
import { CHUNK, type MirrorRepo, makeMirrorRepo, type Published } from '../download/fixture.ts';
import { type FaultMirror, startFaultMirror } from '../helpers/fault-mirror.ts';
import { type NginxServer, startNginx } from '../helpers/nginx.ts';
import { assertCode } from '../helpers/repo.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

const skip = requireTool('nginx') || requireTool('openssl');

describe('HttpsSource against nginx and a faulty mirror', { skip }, () => {
  let ca: TestCa;
  let repo: MirrorRepo;
  let pkg: Published;
  let nginx: NginxServer;
  let fault: FaultMirror;

  before(async () => {
    ca = makeTestCa();
    repo = await makeMirrorRepo();
    pkg = await repo.publish('1.0.0', 5 * CHUNK + 1234);
    nginx = await startNginx(repo.dir, ca);
    fault = await startFaultMirror(repo.dir, ca);
  });
  after(async () => {
    await nginx?.stop();
    await fault?.stop();
  });

  const req = (
    start: number,
    end: number,
    extra: Partial<{ maxBytes: number; signal: AbortSignal }> = {},
  ) => ({
    target: pkg.name,
    sha256: pkg.sha256,
    start,
    end,
    maxBytes: end - start,
    ...extra,
  });

  test('metadata, chunk tables and byte ranges; 404 is "not there"', async () => {
    const s = new HttpsSource({ url: nginx.url, ca: ca.caPem });
    try {
      const ts = await s.fetchMetadata('timestamp.json', { maxBytes: 16_384 });
      assert.ok(ts && JSON.parse(Buffer.from(ts).toString()).signed._type === 'timestamp');
      assert.equal(await s.fetchMetadata('99.root.json', { maxBytes: 512_000 }), undefined);
      const table = parseChunkTable(
        (await s.fetchChunkTable(pkg.name, { maxBytes: 1_000_000 })) as Uint8Array,
      );
      assert.equal(table.chunks.length, 6);
      assert.deepEqual(Buffer.from(await s.fetchRange(req(100, 70_000))), pkg.bytes.subarray(100, 70_000));
      const parts: Buffer[] = [];
      for await (const p of s.streamRange(req(CHUNK, pkg.bytes.byteLength))) parts.push(Buffer.from(p));
      assert.deepEqual(Buffer.concat(parts), pkg.bytes.subarray(CHUNK));
      await assertCode(() => s.fetchRange(req(0, 10, { maxBytes: 5 })), 'E_TOO_LARGE');
      await assertCode(() => s.fetchMetadata('../etc/passwd', { maxBytes: 10 }), 'E_MALFORMED');
    } finally {
      await s.close();
    }
  });

  test('an unknown CA is refused; NODE_EXTRA_CA_CERTS is honoured by a fresh process', async () => {
    const s = new HttpsSource({ url: nginx.url });
    await assertCode(() => s.fetchMetadata('timestamp.json', { maxBytes: 16_384 }), 'E_NETWORK');
    await s.close();
    const script = join(repo.base, 'probe.ts');
    const httpsModule = fileURLToPath(new URL('../../src/sources/https.ts', import.meta.url));
    writeFileSync(
      script,
      `import { HttpsSource } from ${JSON.stringify(httpsModule)};
const s = new HttpsSource({ url: ${JSON.stringify(nginx.url)} });
const b = await s.fetchMetadata('timestamp.json', { maxBytes: 16384 });
await s.close();
console.log(b ? 'ok' : 'none');`,
    );
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [script], {
        env: { PATH: process.env.PATH ?? '', NODE_EXTRA_CA_CERTS: ca.caCert },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (b: Buffer) => {
        text += b.toString();
      });
      child.stderr.on('data', (b: Buffer) => {
        text += b.toString();
      });
      child.on('error', reject);
      child.on('close', () => resolve(text.trim()));
    });
    assert.equal(out, 'ok');
  });

  test('faults become coded errors: 503, truncation, drop, endless body, wrong length, stall', async () => {
    const s = new HttpsSource({ url: fault.url, ca: ca.caPem, bodyTimeoutMs: 300, headersTimeoutMs: 300 });
    try {
      fault.setFaults([{ kind: 'status', status: 503 }]);
      const e503 = await assertCode(() => s.fetchRange(req(0, CHUNK)), 'E_HTTP');
      assert.deepEqual(e503.details, { status: 503 });

      fault.setFaults([{ kind: 'truncate', after: 1000 }]);
      await assertCode(() => s.fetchRange(req(0, CHUNK)), 'E_NETWORK');

      fault.setFaults([{ kind: 'drop', after: 5000 }]);
      await assertCode(() => s.fetchRange(req(0, CHUNK)), 'E_NETWORK');

      fault.setFaults([{ kind: 'endless' }]);
      await assertCode(() => s.fetchRange(req(0, CHUNK)), 'E_TOO_LARGE');
      fault.setFaults([{ kind: 'endless', path: /timestamp\.json$/ }]);
      await assertCode(() => s.fetchMetadata('timestamp.json', { maxBytes: 16_384 }), 'E_TOO_LARGE');

      fault.setFaults([{ kind: 'wrong-length', delta: 100 }]);
      await assertCode(() => s.fetchRange(req(0, CHUNK)), 'E_TOO_LARGE');
      fault.setFaults([{ kind: 'wrong-length', delta: -100 }]);
      await assertCode(() => s.fetchRange(req(0, CHUNK)), 'E_HTTP');

      // Headers, then a body that pauses longer than the idle limit.
      fault.setFaults([{ kind: 'slow', bytesPerSec: 20, intervalMs: 1000 }]);
      await assertCode(() => s.fetchRange(req(0, CHUNK)), 'E_TIMEOUT');

      fault.setFaults([{ kind: 'stall', path: /timestamp\.json$/ }]);
      await assertCode(() => s.fetchMetadata('timestamp.json', { maxBytes: 16_384 }), 'E_TIMEOUT');

      // A caller's abort is E_ABORTED, and the reason it gives is kept.
      fault.setFaults([{ kind: 'slow', bytesPerSec: 2000 }]);
      const ctl = new AbortController();
      setTimeout(() => ctl.abort(), 50);
      await assertCode(() => s.fetchRange(req(0, CHUNK, { signal: ctl.signal })), 'E_ABORTED');

      // Healthy again: the same source serves the right bytes.
      fault.setFaults([]);
      assert.deepEqual(Buffer.from(await s.fetchRange(req(5, 500))), pkg.bytes.subarray(5, 500));
    } finally {
      fault.setFaults([]);
      await s.close();
    }
  });

  test('a server that ignores Range is read from offset 0 only, and no further than asked', async () => {
    const s = new HttpsSource({ url: fault.url, ca: ca.caPem });
    try {
      fault.setFaults([{ kind: 'no-range' }]);
      fault.resetCounters();
      const head = await s.fetchRange(req(0, 500));
      assert.deepEqual(Buffer.from(head), pkg.bytes.subarray(0, 500));
      assert.equal(fault.requests[0]?.status, 200);
      assert.ok(fault.requests[0]?.path.startsWith('/targets/'), 'consistent-snapshot path tried first');
      const e = await assertCode(() => s.fetchRange(req(5, 500)), 'E_HTTP');
      assert.deepEqual(e.details, { status: 200 });
    } finally {
      fault.setFaults([]);
      await s.close();
    }
  });
});

describe('CacheSource', () => {
  test('serves ranges of packages on disk; absent or short files are E_NOT_FOUND', async () => {
    const repo = await makeMirrorRepo();
    const pkg = await repo.publish('2.0.0', 3 * CHUNK);
    const dir = join(repo.dir, 'packages');
    const cache = new CacheSource({ dirs: [dir] });
    const r = { target: pkg.name, sha256: pkg.sha256, start: 10, end: 2 * CHUNK, maxBytes: 2 * CHUNK };
    assert.deepEqual(Buffer.from(await cache.fetchRange(r)), pkg.bytes.subarray(10, 2 * CHUNK));
    assert.ok(await cache.fetchChunkTable(pkg.name, { maxBytes: 1_000_000 }));
    assert.equal(await cache.fetchMetadata('timestamp.json', { maxBytes: 100 }), undefined);
    await assertCode(() => cache.fetchRange({ ...r, target: 'dchat-9.9.9-linux-x64' }), 'E_NOT_FOUND');
    const short = join(repo.base, 'short');
    writeFileSync(short, pkg.bytes.subarray(0, CHUNK));
    const one = new CacheSource({ files: { [pkg.name]: short } });
    await assertCode(() => one.fetchRange(r), 'E_NOT_FOUND');
    await assertCode(() => cache.fetchRange({ ...r, maxBytes: 5 }), 'E_TOO_LARGE');
  });
});
