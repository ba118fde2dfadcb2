/**
 * The download machine (src/download/machine) under virtual time with in-memory sources
 * (virtual-sources.ts): fast-check properties over random swarms of good, slow, corrupting,
 * dropping and failing sources, and the hedging cases the engine relies on.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { MachineConfig } from '../../src/download/machine/actions.ts';
import { DownloadMachine } from '../../src/download/machine/machine.ts';
import {
  MAX_SLOWDOWN,
  PROBE_GRACE_MS,
  PROBE_HORIZON_MS,
  PROBE_RUN_CHUNKS,
  runForSpeed,
} from '../../src/download/planner/speed-share.ts';
import { runVirtual, type SourceModel } from './virtual-sources.ts';

const CHUNK = 64 * 1024;
const POLICY = { resumeRetries: 2, baseBackoffMs: 50, maxBackoffMs: 2000, maxRunFailures: 3 };

function config(chunks: number, extra: Partial<MachineConfig> = {}): MachineConfig {
  return {
    chunkCount: chunks,
    chunkSize: CHUNK,
    size: (chunks - 1) * CHUNK + 1000,
    policy: POLICY,
    runBytes: 8 * CHUNK,
    ...extra,
  };
}

const sourceArb = (id: string): fc.Arbitrary<SourceModel> =>
  fc.record({
    id: fc.constant(id),
    priority: fc.integer({ min: 0, max: 40 }),
    latencyMs: fc.integer({ min: 1, max: 300 }),
    msPerChunk: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.constant(60_000)),
    corrupt: fc.option(fc.array(fc.integer({ min: 0, max: 39 }), { maxLength: 3 }), { nil: undefined }),
    dropAfter: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
    error: fc.option(
      fc.constantFrom(
        { code: 'E_HTTP' as const, message: '503', status: 503 },
        { code: 'E_NOT_FOUND' as const, message: 'gone', status: 404 },
      ),
      { nil: undefined },
    ),
  });

const swarmArb = fc
  .tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }))
  .chain(([chunks, n, parallel]) =>
    fc.tuple(
      fc.constant(chunks),
      fc.constant(parallel),
      fc.tuple(...Array.from({ length: n }, (_, k) => sourceArb(`s${k}`))),
      // At least one honest source that never fails.
      fc.boolean(),
    ),
  );

describe('download machine: properties', () => {
  test('every chunk ends verified exactly once; Done only then; progress monotone; banned sources never asked again', () => {
    fc.assert(
      fc.property(swarmArb, ([chunks, parallel, sources, withGood]) => {
        const models: SourceModel[] = sources.map((s) => ({
          ...s,
          ...(s.corrupt ? { corrupt: s.corrupt.filter((i) => i < chunks) } : {}),
        }));
        if (withGood) models.push({ id: 'good', priority: 20, latencyMs: 20, msPerChunk: 5 });
        const run = runVirtual(config(chunks, { parallel, hedge: { minMs: 100, factor: 4 } }), models, {
          maxMs: 24 * 3_600_000,
        });
        assert.notEqual(run.end, 'stuck', 'the machine always ends, Done or Failed');
        assert.equal(run.doneBeforeAll, false, 'Done only when every chunk is verified');
        if (run.end === 'done') for (const c of run.accepted) assert.equal(c, 1, 'each chunk accepted once');
        else for (const c of run.accepted) assert.ok(c <= 1);
        if (withGood) assert.equal(run.end, 'done', `a good source was there: ${run.error}`);
        for (const f of run.fetches) {
          const bannedAt = run.banned.get(f.source);
          assert.ok(bannedAt === undefined || f.at < bannedAt, `fetch to banned ${f.source}`);
        }
        for (let k = 1; k < run.progress.length; k++) {
          const [a, b] = [run.progress[k - 1], run.progress[k]];
          assert.ok((b?.bytesDone ?? 0) >= (a?.bytesDone ?? 0), 'progress never goes back');
          assert.ok((b?.chunksDone ?? 0) >= (a?.chunksDone ?? 0));
        }
        // A corrupting source's bad chunks came from elsewhere.
        for (const s of models)
          for (const i of s.corrupt ?? []) assert.ok(!(run.bySource.get(s.id) ?? []).includes(i));
      }),
      { numRuns: 300 },
    );
  });

  test('resumed chunks are never fetched again', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.array(fc.nat(), { maxLength: 40 }), (chunks, picks) => {
        const resumed = [...new Set(picks.map((p) => p % chunks))];
        const run = runVirtual(config(chunks), [{ id: 'a', priority: 10, latencyMs: 5, msPerChunk: 3 }], {
          resumed,
        });
        assert.equal(run.end, 'done');
        for (const i of resumed) assert.ok(!(run.bySource.get('a') ?? []).includes(i));
      }),
      { numRuns: 100 },
    );
  });
});

describe('download machine: hedging and failures', () => {
  test('a slowloris at top priority costs well under a second of virtual time beside a good source', () => {
    const models: SourceModel[] = [
      { id: 'slow', priority: 1, latencyMs: 30, msPerChunk: 4000 },
      { id: 'good', priority: 10, latencyMs: 20, msPerChunk: 2 },
    ];
    const run = runVirtual(config(48), models);
    assert.equal(run.end, 'done');
    assert.ok(run.at < 1000, `took ${run.at} virtual ms`);
    assert.equal(run.bySource.get('slow')?.length ?? 0, 0);
    // Without hedging, the slow source keeps the chunks stealing cannot take (the 61 s of before).
    const plain = runVirtual(config(48, { hedge: false }), models);
    assert.equal(plain.end, 'done');
    assert.ok(plain.at >= 4000, `without hedging ${plain.at} ms`);
  });

  test('a source fast for a few chunks that then stalls does not set the pace: the slower one takes the rest at once', () => {
    // The pump test's case, measured under load: the stalled source had looked 20x faster, so the
    // outranked good one was given nothing and the download waited for the 20 s slow guard.
    const run = runVirtual(config(21), [
      { id: 'stall', priority: 1, latencyMs: 1, msPerChunk: 1, stallAfter: 2 },
      { id: 'good', priority: 10, latencyMs: 1, msPerChunk: 20 },
    ]);
    assert.equal(run.end, 'done');
    assert.ok(run.at < 1500, `took ${run.at} virtual ms`);
  });

  test('a source merely slower than another is not hedged before the measured deadline', () => {
    const run = runVirtual(config(32, { parallel: 2 }), [
      { id: 'a', priority: 1, latencyMs: 10, msPerChunk: 30 },
      { id: 'b', priority: 10, latencyMs: 10, msPerChunk: 20 },
    ]);
    assert.equal(run.end, 'done');
    assert.ok((run.bySource.get('a')?.length ?? 0) > 0, 'both share the work');
    assert.ok(!run.actions.some((a) => a.type === 'source-failed'), 'nobody penalised');
  });

  test('a channel ten times slower is probed, then left out: together costs little more than the fast one alone', () => {
    // 256 chunks at 40 ms: the rest takes the fast source far longer than the probe horizon.
    const fast: SourceModel = { id: 'https', priority: 10, latencyMs: 5, msPerChunk: 40 };
    for (const slowMs of [400, 4000]) {
      const slow: SourceModel = { id: 'ipfs', priority: 20, latencyMs: 5, msPerChunk: slowMs };
      const alone = runVirtual(config(256), [fast]);
      const both = runVirtual(config(256), [fast, slow]);
      assert.equal(both.end, 'done');
      // Within the cost of requesting bounded runs (5 ms each here; alone it is one whole-file range).
      assert.ok(both.at <= alone.at * 1.05, `together ${both.at} ms, fast alone ${alone.at} ms`);
      const runs = both.fetches.filter((f) => f.source === 'ipfs');
      assert.equal(runs.length, 1, 'one probe, then nothing: it is more than MAX_SLOWDOWN times slower');
      assert.ok((runs[0]?.end ?? 0) - (runs[0]?.start ?? 0) <= PROBE_RUN_CHUNKS);
      assert.ok(!both.actions.some((a) => a.type === 'source-failed'), 'nobody penalised');
    }
  });

  test('a channel half as fast shares the work by its speed; the end-game takes over its last run', () => {
    const fast: SourceModel = { id: 'https', priority: 10, latencyMs: 5, msPerChunk: 40 };
    const slow: SourceModel = { id: 'ipfs', priority: 20, latencyMs: 5, msPerChunk: 80 };
    const alone = runVirtual(config(256), [fast]);
    const both = runVirtual(config(256), [fast, slow]);
    assert.equal(both.end, 'done');
    const share = (both.bySource.get('ipfs')?.length ?? 0) / 256;
    assert.ok(share > 0.15 && share < 0.5, `slow share ${share}`);
    assert.ok(both.at < alone.at * 0.85, `together ${both.at} ms, fast alone ${alone.at} ms`);
    assert.ok(!both.actions.some((a) => a.type === 'source-failed'), 'nobody penalised');
    // Without the end-game (the same run with the slow source's last run left to it) it would end later.
    const taken = both.actions.filter((a) => a.type === 'cancel' && /takes over/.test(a.reason));
    assert.ok(taken.length <= 2, `${taken.length} takeovers`);
  });

  test('a download the fastest source finishes within the probe horizon never starts the outranked channels', () => {
    const fast: SourceModel = { id: 'https', priority: 10, latencyMs: 5, msPerChunk: 4 };
    const others: SourceModel[] = [
      { id: 'ipfs', priority: 20, latencyMs: 5, msPerChunk: 8 },
      { id: 'bt', priority: 40, latencyMs: 5, msPerChunk: 8 },
    ];
    const run = runVirtual(config(256), [fast, ...others]);
    assert.equal(run.end, 'done');
    assert.deepEqual(
      run.fetches.filter((f) => f.source !== 'https'),
      [],
      'about 1 s left at the start: below the probe horizon',
    );
    // With a horizon below what is left, they are probed and, nearly as fast, share the work.
    const probed = runVirtual(config(256, { probeHorizonMs: 200 }), [fast, ...others]);
    assert.equal(probed.end, 'done');
    assert.ok((probed.bySource.get('ipfs')?.length ?? 0) > 2, 'ipfs shares the work');
  });

  test('a top source that stalls from the start does not keep the outranked ones idle past the grace', () => {
    const run = runVirtual(config(32), [
      { id: 'top', priority: 10, latencyMs: 60_000, msPerChunk: 1 },
      { id: 'next', priority: 20, latencyMs: 5, msPerChunk: 5 },
    ]);
    assert.equal(run.end, 'done');
    const first = run.fetches.find((f) => f.source === 'next');
    assert.equal(first?.at, PROBE_GRACE_MS);
    assert.ok(run.at < 2000, `took ${run.at} virtual ms`);
  });

  test('runForSpeed: full runs unmeasured and unranked, probes by the horizon and grace, shorter runs when slower, none past the slowdown', () => {
    const r = (ownMs: number | undefined, bestMs: number | undefined, unassigned: number, o = {}) =>
      runForSpeed({ base: 8, ownMs, bestMs, unassigned, ...o });
    assert.equal(r(undefined, undefined, 100), 8);
    assert.equal(r(undefined, 5, 100), PROBE_RUN_CHUNKS);
    assert.equal(r(undefined, undefined, 100, { outranked: true }), 0);
    assert.equal(r(undefined, undefined, 100, { outranked: true, sinceBeginMs: PROBE_GRACE_MS }), 2);
    assert.equal(r(undefined, 5, 100, { outranked: true }), 0);
    assert.equal(r(undefined, 5, PROBE_HORIZON_MS / 5, { outranked: true }), PROBE_RUN_CHUNKS);
    assert.equal(r(undefined, 5, 100, { outranked: true, horizonMs: 500 }), PROBE_RUN_CHUNKS);
    assert.equal(r(5, 5, 100), 8);
    assert.equal(r(3, 5, 100), 8);
    assert.equal(r(10, 5, 100), 4);
    assert.equal(r(20, 5, 100), 2);
    assert.equal(r(5 * MAX_SLOWDOWN, 5, 100), 2);
    assert.equal(r(5 * MAX_SLOWDOWN + 1, 5, 100), 0);
    assert.equal(r(10, 5, 1), 0);
    assert.equal(r(20, 5, 0), 0);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.option(fc.double({ min: 0.01, max: 1e6, noNaN: true }), { nil: undefined }),
        fc.option(fc.double({ min: 0.01, max: 1e6, noNaN: true }), { nil: undefined }),
        fc.integer({ min: 0, max: 1e6 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 10_000 }),
        (base, own, best, left, outranked, since) => {
          const n = runForSpeed({
            base,
            ownMs: own,
            bestMs: best,
            unassigned: left,
            outranked,
            sinceBeginMs: since,
          });
          assert.ok(Number.isInteger(n) && n >= 0 && n <= base);
          if (own !== undefined && best !== undefined && own <= best) assert.equal(n, base);
          if (own !== undefined && best !== undefined && own > best * MAX_SLOWDOWN) assert.equal(n, 0);
        },
      ),
    );
  });

  test('alone, a failing source ends in its own coded error; a corrupting one in a security error', () => {
    const http = runVirtual(config(8), [
      {
        id: 'x',
        priority: 1,
        latencyMs: 5,
        msPerChunk: 1,
        error: { code: 'E_HTTP', message: 'x: 503', status: 503 },
      },
    ]);
    assert.equal(http.end, 'failed');
    assert.match(http.error ?? '', /^E_HTTP/);
    const bad = runVirtual(config(8), [{ id: 'x', priority: 1, latencyMs: 5, msPerChunk: 1, corrupt: [3] }]);
    assert.equal(bad.end, 'failed');
    assert.match(bad.error ?? '', /^E_CHUNK_MISMATCH/);
  });

  test('nothing is handed out before begin; a lost chunk is fetched again', () => {
    const m = new DownloadMachine(0, config(4));
    m.sourceAdded(0, { id: 'a', priority: 1 });
    assert.equal(m.poll(), undefined);
    m.begin(0, [0, 1, 2, 3]);
    assert.deepEqual(m.poll(), { type: 'done' });
    m.chunkLost(5, 2);
    const a = m.poll();
    assert.equal(a?.type, 'fetch');
    assert.deepEqual(a?.type === 'fetch' && [a.start, a.end], [2, 3]);
  });
});
