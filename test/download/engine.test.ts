/**
 * The download engine against a real nginx and a fault-injecting HTTPS mirror. Every scenario ends
 * in the verified file or a coded error, and never with a wrong file at the final path.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { sha256Hex } from '../../src/crypto/hash.ts';
import {
  type DownloadEvent,
  type DownloadOptions,
  type DownloadResult,
  downloadPackage,
  type EngineSource,
  type SourceReport,
} from '../../src/download/engine.ts';
import { partialPaths } from '../../src/download/resume.ts';
import { DchatError, type ErrorCode } from '../../src/errors.ts';
import type { PackageTarget } from '../../src/model/package.ts';
import { HttpsSource } from '../../src/sources/https.ts';
import { updateTrustFromSources } from '../../src/sources/mirror-fetcher.ts';
import type { HomePaths } from '../../src/store/home.ts';
import { FileTrustStore } from '../../src/store/trust-store.ts';
import { findPackage, listPackages } from '../../src/trust/package-check.ts';
import { type Fault, type FaultMirror, startFaultMirror } from '../helpers/fault-mirror.ts';
import { type NginxServer, startNginx } from '../helpers/nginx.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';
import { CHUNK, type MirrorRepo, makeHome, makeMirrorRepo, type Published } from './fixture.ts';

const skip = requireTool('nginx') || requireTool('openssl');
const SIZE = 16 * CHUNK + 1234;
const FAST_PENALTIES = { resumeRetries: 2, baseBackoffMs: 5, maxBackoffMs: 40, maxRunFailures: 3 };

describe('download engine: nginx + fault mirror', { skip }, () => {
  let ca: TestCa;
  let repo: MirrorRepo;
  let v1: Published;
  let v2: Published;
  let big: Published;
  let nginx: NginxServer;
  let fault: FaultMirror;
  let fault2: FaultMirror;
  const open: HttpsSource[] = [];

  before(async () => {
    ca = makeTestCa();
    repo = await makeMirrorRepo();
    v1 = await repo.publish('1.0.0', SIZE);
    v2 = await repo.publish('1.1.0', SIZE);
    // Large enough for the hashing worker; its last chunk is tiny (a small Node buffer).
    big = await repo.publish('2.0.0', 16 * 1024 * 1024 + 100);
    nginx = await startNginx(repo.dir, ca);
    fault = await startFaultMirror(repo.dir, ca);
    fault2 = await startFaultMirror(repo.dir, ca);
  });
  after(async () => {
    await Promise.all(open.map((s) => s.close()));
    await nginx?.stop();
    await fault?.stop();
    await fault2?.stop();
  });

  const https = (url: string, priority = 10): EngineSource => {
    const source = new HttpsSource({ url, ca: ca.caPem, bodyTimeoutMs: 2000, headersTimeoutMs: 2000 });
    open.push(source);
    return { source, priority };
  };

  interface Setup {
    paths: HomePaths;
    target: PackageTarget;
    base: Omit<DownloadOptions, 'sources'>;
    events: DownloadEvent[];
    reports: SourceReport[];
  }

  /** A home that trusts the repository and knows its targets (refreshed through nginx). */
  async function setup(version = '1.1.0', paths?: HomePaths): Promise<Setup> {
    const home = paths ?? (await makeHome(repo));
    const up = await updateTrustFromSources(new FileTrustStore(home), [https(nginx.url).source], new Date());
    const targets = up.trusted.requireTargets();
    const s: Setup = {
      paths: home,
      target: findPackage(targets, version, 'linux-x64'),
      events: [],
      reports: [],
      base: {} as Omit<DownloadOptions, 'sources'>,
    };
    s.base = {
      target: s.target,
      allTargets: listPackages(targets),
      root: up.trusted.root.signed,
      paths: home,
      penalty: FAST_PENALTIES,
      checkpointMs: 0,
      onEvent: (e) => s.events.push(e),
      onFinish: (r) => {
        s.reports = r;
      },
    };
    return s;
  }

  function assertVerified(s: Setup, r: DownloadResult, pkg: Published): void {
    const final = s.paths.packageFile(pkg.version, 'linux-x64');
    assert.equal(r.path, final);
    assert.equal(sha256Hex(readFileSync(final)), pkg.sha256);
    assert.ok(existsSync(s.paths.chunkTableFile(pkg.version, 'linux-x64')));
    const entry = JSON.parse(readFileSync(s.paths.targetFile(pkg.version, 'linux-x64'), 'utf8'));
    assert.equal(entry.hashes.sha256, pkg.sha256);
    const pp = partialPaths(s.paths, pkg.name);
    assert.ok(
      !existsSync(pp.part) && !existsSync(pp.state) && !existsSync(pp.lock),
      'partial files cleaned up',
    );
  }

  async function assertFails(
    s: Setup,
    sources: EngineSource[],
    code: ErrorCode,
    extra: Partial<DownloadOptions> = {},
  ) {
    let caught: unknown;
    try {
      await downloadPackage({ ...s.base, sources, ...extra });
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof DchatError, `expected ${code}, got ${String(caught)}`);
    assert.equal(caught.code, code, caught.message);
    assert.ok(
      !existsSync(s.paths.packageFile(s.target.custom.version, 'linux-x64')),
      'no file at the final path',
    );
    return caught;
  }

  const report = (s: Setup, url: string) => s.reports.find((r) => r.uri === url) as SourceReport;

  test('nginx alone: one long range request, verified, metadata kept beside the package', async () => {
    const s = await setup();
    const r = await downloadPackage({ ...s.base, sources: [https(nginx.url)] });
    assertVerified(s, r, v2);
    assert.equal(r.fetchedBytes, SIZE);
    assert.equal(r.chunks, 17);
    assert.equal(report(s, nginx.url).requests, 2, 'chunk table + one range for the whole package');
    assert.deepEqual(
      r.checks.map((c) => c.name),
      ['chunks', 'size', 'sha256', 'blake3'],
    );
    // A second run finds the verified copy and fetches nothing.
    const again = await downloadPackage({ ...s.base, sources: [https(nginx.url)] });
    assert.equal(again.alreadyPresent, true);
    assert.equal(again.fetchedBytes, 0);
  });

  test('flipped bytes: the mirror is banned, its chunks come from nginx; alone it is E_CHUNK_MISMATCH', async () => {
    fault.setFaults([{ kind: 'flip', offset: 5 * CHUNK + 7 }]);
    const alone = await setup();
    await assertFails(alone, [https(fault.url)], 'E_CHUNK_MISMATCH');
    // The chunks before the bad one were verified and kept: a rerun from nginx resumes after them.
    const s = await setup('1.1.0', alone.paths);
    const r = await downloadPackage({ ...s.base, sources: [https(fault.url, 5), https(nginx.url, 10)] });
    assertVerified(s, r, v2);
    assert.equal(r.resumedChunks, 5);
    assert.equal(report(s, fault.url).banned, true);
    assert.equal(report(s, fault.url).failures[0]?.code, 'E_CHUNK_MISMATCH');
    assert.ok(report(s, nginx.url).chunks >= 11);
    fault.setFaults([]);
  });

  test('HTTP 503: backoff, other sources take over; alone it ends E_HTTP', async () => {
    fault.setFaults([{ kind: 'status', status: 503 }]);
    const s = await setup();
    await assertFails(s, [https(fault.url)], 'E_HTTP');
    const s2 = await setup();
    const r = await downloadPackage({ ...s2.base, sources: [https(fault.url, 5), https(nginx.url, 10)] });
    assertVerified(s2, r, v2);
    assert.equal(report(s2, fault.url).failures[0]?.action, 'backoff');
    fault.setFaults([]);
  });

  test('truncated bodies and dropped connections resume on the same source from the last verified chunk', async () => {
    // Every answer stops after 3.5 chunks: each request still makes progress, so the same mirror
    // finishes the job, request after request, without refetching verified chunks.
    fault.setFaults([{ kind: 'truncate', after: 3 * CHUNK + CHUNK / 2 }]);
    const s = await setup();
    fault.resetCounters();
    const r = await downloadPackage({ ...s.base, sources: [https(fault.url)] });
    assertVerified(s, r, v2);
    assert.ok(report(s, fault.url).failures.every((f) => f.action === 'resume'));
    assert.ok(fault.packageBytes < SIZE * 1.2, `fetched ${fault.packageBytes} for ${SIZE}`);
    const ranges = fault.requests.filter((q) => q.range).map((q) => q.range);
    assert.equal(ranges[0], `bytes=0-${SIZE - 1}`);
    assert.equal(ranges[1], `bytes=${3 * CHUNK}-${SIZE - 1}`, 'resumed at the first unverified chunk');

    fault.setFaults([{ kind: 'drop', after: 2 * CHUNK + 100, times: 2 }]);
    const d = await setup();
    fault.resetCounters();
    const r2 = await downloadPackage({
      ...d.base,
      sources: [https(fault.url), https(nginx.url, 20)],
      parallelSources: 1,
    });
    assertVerified(d, r2, v2);
    assert.deepEqual(
      report(d, fault.url).failures.map((f) => [f.code, f.action]),
      [
        ['E_NETWORK', 'resume'],
        ['E_NETWORK', 'resume'],
      ],
    );
    assert.equal(report(d, nginx.url)?.chunks ?? 0, 0, 'nginx was not needed: the dropped source resumed');
    fault.setFaults([]);
  });

  test('slow drip: below the minimum rate the source is dropped for another; alone E_SLOW_SOURCE', async () => {
    fault.setFaults([{ kind: 'slow', bytesPerSec: 8 * 1024 }]);
    const slow = { minRateBps: 64 * 1024, slowWindowMs: 300 };
    const s = await setup();
    await assertFails(s, [https(fault.url)], 'E_SLOW_SOURCE', slow);
    const s2 = await setup();
    const r = await downloadPackage({
      ...s2.base,
      ...slow,
      sources: [https(fault.url, 5), https(nginx.url, 10)],
    });
    assertVerified(s2, r, v2);
    assert.equal(report(s2, fault.url).failures[0]?.code, 'E_SLOW_SOURCE');
    fault.setFaults([]);
  });

  test('endless body and wrong Content-Length: refused, never written; nginx delivers', async () => {
    const cases: [Fault, ErrorCode][] = [
      // Junk without end: the first chunk of it already fails the signed table.
      [{ kind: 'endless' }, 'E_CHUNK_MISMATCH'],
      // More bytes announced than the range asked for: refused before the body is read.
      [{ kind: 'wrong-length', delta: 1000 }, 'E_TOO_LARGE'],
    ];
    for (const [f, code] of cases) {
      fault.setFaults([f]);
      const s = await setup();
      await assertFails(s, [https(fault.url)], code);
      const s2 = await setup();
      const r = await downloadPackage({ ...s2.base, sources: [https(fault.url, 5), https(nginx.url, 10)] });
      assertVerified(s2, r, v2);
      assert.equal(report(s2, fault.url).banned, true);
    }
    // Fewer bytes announced than the range: a broken server, backed off, then given up.
    fault.setFaults([{ kind: 'wrong-length', delta: -1000 }]);
    await assertFails(await setup(), [https(fault.url)], 'E_HTTP');
    fault.setFaults([]);
  });

  test("a mirror serving another version's package (and chunk table) is caught before a byte is written", async () => {
    fault.setFaults([
      { kind: 'serve', path: new RegExp(`${v2.name}$`), file: v1.file },
      { kind: 'serve', path: new RegExp(`${v2.name}\\.chunks$`), file: `${v1.file}.chunks` },
    ]);
    const s = await setup();
    await assertFails(s, [https(fault.url)], 'E_CHUNK_MISMATCH');
    assert.ok(
      !existsSync(partialPaths(s.paths, v2.name).part) ||
        readFileSync(partialPaths(s.paths, v2.name).part).byteLength === 0,
    );
    // Only the package swapped (right chunk table): every chunk fails, the mirror is banned.
    fault.setFaults([{ kind: 'serve', path: new RegExp(`${v2.name}$`), file: v1.file }]);
    const s2 = await setup();
    await assertFails(s2, [https(fault.url)], 'E_CHUNK_MISMATCH');
    const s3 = await setup();
    const r = await downloadPackage({ ...s3.base, sources: [https(fault.url, 5), https(nginx.url, 10)] });
    assertVerified(s3, r, v2);
    fault.setFaults([]);
  });

  test('a package hashed on the worker thread, with a 100-byte last chunk', async () => {
    const s = await setup('2.0.0');
    const r = await downloadPackage({ ...s.base, sources: [https(nginx.url)] });
    assertVerified(s, r, big);
    assert.equal(r.size, 16 * 1024 * 1024 + 100);
  });

  test('two healthy mirrors share the work in parallel', async () => {
    const s = await setup();
    const r = await downloadPackage({
      ...s.base,
      sources: [https(fault2.url, 10), https(nginx.url, 10)],
      parallelSources: 2,
    });
    assertVerified(s, r, v2);
    assert.ok(report(s, fault2.url).chunks > 0 && report(s, nginx.url).chunks > 0, 'both delivered chunks');
    assert.equal(report(s, fault2.url).chunks + report(s, nginx.url).chunks, 17);
  });

  test('bandwidth limit holds the rate', async () => {
    const s = await setup();
    const limit = 2 * 1024 * 1024;
    const t0 = performance.now();
    const r = await downloadPackage({ ...s.base, sources: [https(nginx.url)], limitRateBps: limit });
    const ms = performance.now() - t0;
    assertVerified(s, r, v2);
    // The bucket starts with a quarter second of burst; the rest cannot go faster than the limit.
    const floor = ((SIZE - limit / 4) / limit) * 1000;
    assert.ok(ms >= floor * 0.9, `${ms.toFixed(0)} ms < ${floor.toFixed(0)} ms`);
  });

  test('interrupted run resumes from recorded chunks; a damaged recorded chunk is refetched', async () => {
    fault.setFaults([{ kind: 'slow', bytesPerSec: 2 * 1024 * 1024 }]);
    const s = await setup();
    const ctl = new AbortController();
    const events: DownloadEvent[] = [];
    await assertFails(s, [https(fault.url)], 'E_ABORTED', {
      signal: ctl.signal,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'progress' && e.chunks_done >= 6) ctl.abort();
      },
    });
    const pp = partialPaths(s.paths, v2.name);
    const state = JSON.parse(readFileSync(pp.state, 'utf8'));
    const recorded: number = state.verified.reduce((n: number, [a, b]: [number, number]) => n + b - a + 1, 0);
    assert.ok(recorded >= 6, `recorded ${recorded}`);
    // Damage chunk 2 of the partial file: the rerun must notice and fetch it again.
    const part = readFileSync(pp.part);
    part[2 * CHUNK + 10] = (part[2 * CHUNK + 10] as number) ^ 1;
    // ...and leave junk past the end of the package: it must not survive into the final file.
    writeFileSync(pp.part, Buffer.concat([part, Buffer.alloc(SIZE, 7)]));
    fault.setFaults([]);
    fault.resetCounters();
    const s2 = await setup('1.1.0', s.paths);
    const r = await downloadPackage({ ...s2.base, sources: [https(fault.url)] });
    assertVerified(s2, r, v2);
    assert.ok(s2.events.some((e) => e.type === 'chunk-recheck-failed' && e.chunk === 2));
    assert.equal(r.resumedChunks, recorded - 1);
    assert.equal(fault.packageBytes, SIZE - (recorded - 1) * CHUNK, 'only what was missing was fetched');
  });

  test('a damaged package at the final path is moved out and costs only its bad chunk', async () => {
    const s = await setup();
    await downloadPackage({ ...s.base, sources: [https(nginx.url)] });
    const final = s.paths.packageFile('1.1.0', 'linux-x64');
    const bytes = readFileSync(final);
    bytes[9 * CHUNK + 3] = (bytes[9 * CHUNK + 3] as number) ^ 0x80;
    writeFileSync(final, bytes);
    fault.resetCounters();
    const r = await downloadPackage({ ...s.base, sources: [https(fault.url)] });
    assertVerified(s, r, v2);
    assert.ok(s.events.some((e) => e.type === 'cache-invalid'));
    assert.equal(fault.packageBytes, CHUNK, 'one chunk from the network, the rest from the local copy');
    assert.ok(!readdirSync(s.paths.partialDir).some((n) => n.endsWith('.suspect')));
  });

  test('a live process holding the download lock: E_BUSY', async () => {
    const s = await setup();
    const pp = partialPaths(s.paths, v2.name);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(pp.dir, { recursive: true });
    writeFileSync(pp.lock, `${process.ppid}\n`);
    await assertFails(s, [https(nginx.url)], 'E_BUSY');
    // A lock left by a dead process is taken over.
    writeFileSync(pp.lock, '999999999\n');
    const r = await downloadPackage({ ...s.base, sources: [https(nginx.url)] });
    assertVerified(s, r, v2);
  });
});
