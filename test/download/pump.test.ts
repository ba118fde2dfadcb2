/**
 * The engine's pump (downloadPackage) with in-memory sources, no network: sources serve the
 * published package from memory, optionally damaging a chunk, stalling, or lacking ranges. The
 * machine decides, the pump performs; the package lands verified, executable, or not at all.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { sha256Hex } from '../../src/crypto/hash.ts';
import { downloadPackage, type EngineSource, type SourceReport } from '../../src/download/engine.ts';
import { updateTrustFromSources } from '../../src/sources/mirror-fetcher.ts';
import type { FetchOptions, RangeRequest, Source } from '../../src/sources/source.ts';
import { FileTrustStore } from '../../src/store/trust-store.ts';
import { findPackage, listPackages } from '../../src/trust/package-check.ts';
import { CHUNK, type MirrorRepo, makeHome, makeMirrorRepo, type Published } from './fixture.ts';

/** A mirror in memory: the repository's files, served as a Source. */
class MemorySource implements Source {
  readonly type = 'https' as const;
  readonly id: string;
  readonly uri: string;
  requests = 0;
  streamRange?: (req: RangeRequest) => AsyncIterable<Uint8Array>;
  private readonly repo: MirrorRepo;
  private readonly pkg: Published;
  private readonly bytes: Buffer;

  constructor(
    id: string,
    repo: MirrorRepo,
    pkg: Published,
    o: { flip?: number; stallAfter?: number; ranges?: boolean } = {},
  ) {
    this.id = id;
    this.uri = `mem://${id}`;
    this.repo = repo;
    this.pkg = pkg;
    const bytes = Buffer.from(pkg.bytes);
    if (o.flip !== undefined) bytes[o.flip] = (bytes[o.flip] as number) ^ 1;
    this.bytes = bytes;
    const stallAfter = o.stallAfter;
    if (o.ranges !== false)
      this.streamRange = async function* (req: RangeRequest) {
        for (let at = req.start; at < req.end; at += CHUNK) {
          // A stalled stream sends nothing more until it is torn down.
          if (stallAfter !== undefined && at >= stallAfter)
            await new Promise<void>((_, reject) => {
              req.signal?.addEventListener('abort', () => reject(req.signal?.reason), { once: true });
            });
          yield bytes.subarray(at, Math.min(req.end, at + CHUNK));
        }
      };
  }

  async fetchMetadata(name: string, _o: FetchOptions): Promise<Uint8Array | undefined> {
    try {
      return readFileSync(join(this.repo.dir, 'metadata', name));
    } catch {
      return undefined;
    }
  }
  async fetchChunkTable(): Promise<Uint8Array | undefined> {
    return readFileSync(`${this.pkg.file}.chunks`);
  }
  async fetchRange(req: RangeRequest): Promise<Uint8Array> {
    this.requests++;
    return this.bytes.subarray(req.start, req.end);
  }
}

describe('engine pump with in-memory sources', () => {
  let repo: MirrorRepo;
  let pkg: Published;
  before(async () => {
    repo = await makeMirrorRepo();
    pkg = await repo.publish('1.0.0', 20 * CHUNK + 5);
  });

  async function download(sources: EngineSource[], extra: { parallelSources?: number } = {}) {
    const paths = await makeHome(repo);
    const up = await updateTrustFromSources(
      new FileTrustStore(paths),
      [sources[0]?.source as Source],
      new Date(),
    );
    const targets = up.trusted.requireTargets();
    let reports: SourceReport[] = [];
    const r = await downloadPackage({
      target: findPackage(targets, '1.0.0', 'linux-x64'),
      allTargets: listPackages(targets),
      root: up.trusted.root.signed,
      paths,
      sources,
      checkpointMs: 0,
      penalty: { resumeRetries: 2, baseBackoffMs: 5, maxBackoffMs: 40, maxRunFailures: 3 },
      onFinish: (x) => {
        reports = x;
      },
      ...extra,
    });
    return { r, reports, paths };
  }

  test('a corrupting source is banned, its chunks come from the other; the package is executable', async () => {
    const bad = new MemorySource('bad', repo, pkg, { flip: 3 * CHUNK + 9 });
    const good = new MemorySource('good', repo, pkg);
    const { r, reports } = await download([
      { source: bad, priority: 1 },
      { source: good, priority: 10 },
    ]);
    assert.equal(sha256Hex(readFileSync(r.path)), pkg.sha256);
    assert.equal(statSync(r.path).mode & 0o777, 0o755);
    const b = reports.find((x) => x.id === 'bad') as SourceReport;
    assert.equal(b.banned, true);
    assert.equal(b.failures[0]?.code, 'E_CHUNK_MISMATCH');
    assert.equal(
      r.sources.reduce((n, s) => n + s.chunks, 0),
      21,
      'every chunk accepted exactly once',
    );
  });

  test('a source that stalls at top priority is hedged: the other finishes within a second', async () => {
    const stall = new MemorySource('stall', repo, pkg, { stallAfter: 2 * CHUNK });
    const good = new MemorySource('good', repo, pkg);
    const t0 = performance.now();
    const { r, reports } = await download([
      { source: stall, priority: 1 },
      { source: good, priority: 10 },
    ]);
    assert.ok(performance.now() - t0 < 1500, `${Math.round(performance.now() - t0)} ms`);
    assert.equal(sha256Hex(readFileSync(r.path)), pkg.sha256);
    assert.ok(reports.find((x) => x.id === 'stall')?.failures.some((f) => f.code === 'E_SLOW_SOURCE'));
  });

  test('a source without ranges is asked chunk by chunk', async () => {
    const plain = new MemorySource('plain', repo, pkg, { ranges: false });
    const { r } = await download([{ source: plain, priority: 10 }]);
    assert.equal(sha256Hex(readFileSync(r.path)), pkg.sha256);
    assert.equal(plain.requests, 21);
  });
});
