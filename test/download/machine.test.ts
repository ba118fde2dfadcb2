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
import { PROBE_RUN_CHUNKS, runForSpeed } from '../../src/download/planner/speed-share.ts';
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

  test('a channel ten times slower gets less work by its measured speed: together costs little more than the fast one alone', () => {
    const fast: SourceModel = { id: 'https', priority: 10, latencyMs: 5, msPerChunk: 4 };
    for (const slowMs of [40, 400]) {
      const slow: SourceModel = { id: 'ipfs', priority: 20, latencyMs: 5, msPerChunk: slowMs };
      const alone = runVirtual(config(256), [fast]);
      const both = runVirtual(config(256), [fast, slow]);
      assert.equal(both.end, 'done');
      // Within the cost of requesting bounded runs (5 ms each here; alone it is one whole-file range).
      assert.ok(both.at <= alone.at * 1.2, `together ${both.at} ms, fast alone ${alone.at} ms`);
      // It still takes part, but gets far less than an even share.
      const share = (both.bySource.get('ipfs')?.length ?? 0) / 256;
      assert.ok(share < 0.1, `slow share ${share}`);
      // Outranked from the start and then measured slower, it is never handed a full run.
      const runs = both.fetches.filter((f) => f.source === 'ipfs');
      assert.ok(runs.length > 0, 'the slow channel is tried');
      for (const f of runs) assert.ok(f.end - f.start < 8, `run [${f.start}, ${f.end})`);
    }
  });

  test('runForSpeed: full runs unmeasured, probes beside a measured source, shorter runs when slower, none when hopeless', () => {
    assert.equal(runForSpeed(8, undefined, undefined, 100), 8);
    assert.equal(runForSpeed(8, undefined, 5, 100), PROBE_RUN_CHUNKS);
    assert.equal(runForSpeed(8, undefined, undefined, 100, true), PROBE_RUN_CHUNKS);
    assert.equal(runForSpeed(8, 5, 5, 100), 8);
    assert.equal(runForSpeed(8, 3, 5, 100), 8);
    assert.equal(runForSpeed(8, 20, 5, 100), 2);
    assert.equal(runForSpeed(8, 400, 5, 100), 1);
    assert.equal(runForSpeed(8, 600, 5, 100), 0);
    assert.equal(runForSpeed(8, 20, 5, 0), 0);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.option(fc.double({ min: 0.01, max: 1e6, noNaN: true }), { nil: undefined }),
        fc.option(fc.double({ min: 0.01, max: 1e6, noNaN: true }), { nil: undefined }),
        fc.integer({ min: 0, max: 1e6 }),
        (base, own, best, left) => {
          const r = runForSpeed(base, own, best, left);
          assert.ok(Number.isInteger(r) && r >= 0 && r <= base);
          if (own !== undefined && best !== undefined && own <= best) assert.equal(r, base);
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
