import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  classifyFailure,
  DEFAULT_PENALTY_POLICY,
  onSourceFailure,
  onSourceSuccess,
} from '../../src/download/planner/penalty.ts';
import { applyOutcomes, type HealthFields } from '../../src/download/planner/pruning.ts';
import { isAvailable, newHealth, rankSources, sourceScore } from '../../src/download/planner/ranking.ts';
import { effectiveMinRate, RateWindow } from '../../src/download/planner/rate.ts';
import { ChunkScheduler, fromRanges, toRanges } from '../../src/download/planner/schedule.ts';
import { parseRate } from '../../src/model/rate.ts';
import { TokenBucket } from '../../src/util/token-bucket.ts';

describe('ranking', () => {
  test('priority first, then measured speed, region and failures within a priority', () => {
    const now = 1_000;
    const slow = newHealth('slow', 10, { latencyMs: 400, throughputBps: 1e6 });
    const fast = newHealth('fast', 10, { latencyMs: 20, throughputBps: 100e6 });
    const ipfs = newHealth('ipfs', 20, { latencyMs: 1, throughputBps: 1e9 });
    const cache = newHealth('cache', 0);
    assert.deepEqual(
      rankSources([ipfs, slow, fast, cache], now).map((h) => h.id),
      ['cache', 'fast', 'slow', 'ipfs'],
    );
    // The operator's region tips the balance between equal mirrors.
    const a = newHealth('a', 10, { region: 'eu' });
    const b = newHealth('b', 10, { region: 'us' });
    assert.deepEqual(
      rankSources([a, b], now, 'us').map((h) => h.id),
      ['b', 'a'],
    );
    assert.deepEqual(
      rankSources([b, a], now, 'eu').map((h) => h.id),
      ['a', 'b'],
    );
    // Failures in a row push a mirror down within its priority, not below another priority.
    const flaky = newHealth('flaky', 10, { latencyMs: 20, throughputBps: 100e6, failureCount: 7 });
    assert.deepEqual(
      rankSources([flaky, slow, ipfs], now).map((h) => h.id),
      ['slow', 'flaky', 'ipfs'],
    );
    assert.ok(sourceScore(flaky) > sourceScore(fast));
  });

  test('penalised sources come after available ones; banned ones are left out', () => {
    const a = { ...newHealth('a', 10), penaltyUntil: 5_000 };
    const b = newHealth('b', 20);
    const c = { ...newHealth('c', 5), banned: true };
    assert.deepEqual(
      rankSources([a, b, c], 1_000).map((h) => h.id),
      ['b', 'a'],
    );
    assert.equal(isAvailable(a, 1_000), false);
    assert.equal(isAvailable(a, 5_000), true);
    assert.deepEqual(
      rankSources([a, b, c], 6_000).map((h) => h.id),
      ['a', 'b'],
    );
  });
});

describe('penalties', () => {
  test('failure kinds', () => {
    assert.equal(classifyFailure('E_CHUNK_MISMATCH'), 'corrupt');
    assert.equal(classifyFailure('E_TOO_LARGE'), 'corrupt');
    assert.equal(classifyFailure('E_NOT_FOUND'), 'missing');
    assert.equal(classifyFailure('E_HTTP', 404), 'missing');
    assert.equal(classifyFailure('E_HTTP', 503), 'unavailable');
    assert.equal(classifyFailure('E_NETWORK'), 'dropped');
    assert.equal(classifyFailure('E_TIMEOUT'), 'dropped');
    assert.equal(classifyFailure('E_SLOW_SOURCE'), 'slow');
  });

  test('corrupt or missing: banned for the run', () => {
    for (const kind of ['corrupt', 'missing'] as const) {
      const d = onSourceFailure(newHealth('m', 10), kind, 0, true);
      assert.equal(d.action, 'ban');
      assert.equal(d.health.banned, true);
    }
  });

  test('a dropped connection resumes on the same source, then backs off, then is banned', () => {
    const p = DEFAULT_PENALTY_POLICY;
    let h = newHealth('m', 10);
    const actions: string[] = [];
    for (let i = 0; i < 10 && !h.banned; i++) {
      const d = onSourceFailure(h, 'dropped', 1_000 * i, false, p);
      actions.push(d.action);
      h = d.health;
    }
    assert.deepEqual(actions.slice(0, p.resumeRetries), Array(p.resumeRetries).fill('resume'));
    assert.equal(actions.at(-1), 'ban');
    assert.ok(actions.includes('backoff'));
    assert.equal(actions.filter((a) => a !== 'resume').length, p.maxRunFailures);
  });

  test('a drop after progress resumes again: progress resets the budget', () => {
    let h = newHealth('m', 10);
    for (let i = 0; i < 20; i++) {
      const d = onSourceFailure(h, 'dropped', i, true);
      assert.equal(d.action, 'resume');
      h = d.health;
    }
  });

  test('backoff doubles and is capped; a slow source waits at least half the cap', () => {
    const p = { ...DEFAULT_PENALTY_POLICY, maxRunFailures: 10 };
    let h = newHealth('m', 10);
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const d = onSourceFailure(h, 'unavailable', 0, false, p);
      waits.push((d.health.penaltyUntil as number) - 0);
      h = d.health;
    }
    assert.deepEqual(waits, [250, 500, 1000, 2000, 4000, 8000]);
    const s = onSourceFailure(newHealth('s', 10), 'slow', 100, false, p);
    assert.equal(s.action, 'backoff');
    assert.equal(s.health.penaltyUntil, 100 + p.maxBackoffMs / 2);
  });

  test('success resets failures in a row and folds in measurements', () => {
    const h = { ...newHealth('m', 10, { failureCount: 3 }), penaltyUntil: 9 };
    const ok = onSourceSuccess(h, { latencyMs: 40, bytes: 1_000_000, ms: 100 });
    assert.equal(ok.consecutiveFailures, 0);
    assert.equal(ok.penaltyUntil, undefined);
    assert.equal(ok.latencyMs, 40);
    assert.equal(ok.throughputBps, 10_000_000);
    const again = onSourceSuccess(ok, { latencyMs: 140, bytes: 10, ms: 1 });
    assert.equal(again.latencyMs, 40 * 0.7 + 140 * 0.3);
    assert.equal(again.throughputBps, 10_000_000, 'tiny transfers do not count as throughput');
  });
});

describe('chunk scheduler', () => {
  test('one source: a single run of everything missing (one long request)', () => {
    const s = new ChunkScheduler(10, [2, 3]);
    const a = s.assign('m', { share: 1, maxRunChunks: 100 });
    assert.deepEqual([a?.next, a?.end], [0, 2]);
    const b = s.assign('m', { share: 1, maxRunChunks: 100 });
    assert.deepEqual([b?.next, b?.end], [4, 10]);
    assert.equal(s.assign('m', { share: 1, maxRunChunks: 100 }), undefined);
    assert.equal(s.unassigned, 0);
  });

  test('several sources share the work; runs are bounded', () => {
    const s = new ChunkScheduler(100);
    const a = s.assign('a', { share: 2, maxRunChunks: 30 });
    const b = s.assign('b', { share: 2, maxRunChunks: 30 });
    assert.deepEqual([a?.next, a?.end, b?.next, b?.end], [0, 30, 30, 60]);
  });

  test('completion, release of unfinished work, reopen for a resumed connection', () => {
    const s = new ChunkScheduler(8);
    const a = s.assign('a', { share: 1, maxRunChunks: 8 });
    assert.ok(a);
    s.complete(a, 0);
    s.complete(a, 1);
    assert.equal(a.next, 2);
    const r = s.reopen(a);
    assert.deepEqual([r?.sourceId, r?.next, r?.end], ['a', 2, 8]);
    assert.equal(
      s.assign('b', { share: 1, maxRunChunks: 8 }),
      undefined,
      'reopened work is not handed to others',
    );
    assert.ok(r);
    s.release(r);
    const b = s.assign('b', { share: 1, maxRunChunks: 8 });
    assert.deepEqual([b?.next, b?.end], [2, 8]);
    assert.equal(s.done, 2);
  });

  test('work stealing takes the back half of the largest run in flight', () => {
    const s = new ChunkScheduler(20);
    const a = s.assign('a', { share: 1, maxRunChunks: 20 });
    assert.ok(a);
    s.complete(a, 0);
    const b = s.steal('b');
    assert.ok(b);
    // a is receiving chunk 1; chunks 2..19 can move; b takes the back half of them.
    assert.equal(a.end, b.next);
    assert.equal(b.end, 20);
    assert.equal(20 - b.next, 9);
    // A third source steals from the larger of the two runs left (a: 1..11, b: 11..20).
    const c = s.steal('c');
    assert.ok(c);
    assert.equal(a.end, c.next, 'a had the most left');
    assert.equal(c.end, b.next);
    // A run too short to split is left alone.
    const t = new ChunkScheduler(2);
    t.assign('a', { share: 1, maxRunChunks: 2 });
    assert.equal(t.steal('b'), undefined);
  });

  test('a resumed chunk found bad is fetched again', () => {
    const s = new ChunkScheduler(4, [0, 1, 2, 3]);
    assert.ok(s.isComplete());
    s.markMissing(1);
    assert.equal(s.isComplete(), false);
    const a = s.assign('m', { share: 1, maxRunChunks: 4 });
    assert.deepEqual([a?.next, a?.end], [1, 2]);
  });

  test('ranges round-trip', () => {
    const set = [0, 1, 2, 5, 7, 8, 9, 42];
    assert.deepEqual(toRanges(set), [
      [0, 2],
      [5, 5],
      [7, 9],
      [42, 42],
    ]);
    assert.deepEqual(fromRanges(toRanges(set), 100), set);
    assert.deepEqual(fromRanges([[0, 1_000_000]], 3), [0, 1, 2], 'clamped to the chunk count');
  });
});

describe('rates', () => {
  test('token bucket (util/token-bucket.ts, the download limit): bursts, then the configured rate', () => {
    const b = new TokenBucket(1000, 500, 0);
    assert.equal(b.take(0, 500), 0);
    assert.equal(b.take(0, 1000), 1000);
    // After waiting as told, a second of tokens has accrued.
    assert.equal(b.take(1000, 0), 0);
  });

  test('rate window: judged only after a full window, then on the last window alone', () => {
    const w = new RateWindow(1000, 0);
    for (let t = 0; t < 900; t += 100) w.add(100, t);
    assert.equal(w.tooSlow(900, 10_000), false, 'not judged before one window');
    assert.equal(w.tooSlow(1000, 10_000), true);
    assert.equal(w.tooSlow(1000, 500), false);
    // Nothing for a whole window: the rate falls to zero.
    assert.equal(w.rate(5000), 0);
    assert.equal(w.tooSlow(5000, 1), true);
    // Many small pieces cost O(1) each.
    const big = new RateWindow(2000, 0);
    for (let i = 0; i < 200_000; i++) big.add(16, i / 100);
    assert.ok(big.rate(2000) > 0);
  });

  test('a bandwidth limit never makes a source look slow', () => {
    assert.equal(effectiveMinRate(100_000, undefined, 3), 100_000);
    assert.equal(effectiveMinRate(100_000, 40_000, 2), 5_000);
  });

  test('rates parse like curl', () => {
    assert.equal(parseRate('1000'), 1000);
    assert.equal(parseRate('500K'), 512_000);
    assert.equal(parseRate('10M'), 10 * 1024 * 1024);
    assert.equal(parseRate('1.5g'), 1.5 * 1024 ** 3);
    assert.equal(parseRate('fast'), undefined);
    assert.equal(parseRate('-1'), undefined);
  });
});

describe('mirror health and pruning', () => {
  const rec = (id: string, failure_count = 0): HealthFields & { priority: number } => ({
    id,
    uri: `https://${id}`,
    failure_count,
    priority: 10,
  });

  test('success resets the count and stamps last_success; failure counts up', () => {
    const now = new Date('2026-05-01T10:00:00.123Z');
    const r = applyOutcomes(
      [rec('a', 3), rec('b', 1), rec('c')],
      [
        { id: 'a', ok: true, latencyMs: 30, throughputBps: 1000 },
        { id: 'b', ok: false, error: 'E_HTTP 503' },
      ],
      now,
      5,
    );
    assert.deepEqual(
      r.records.map((x) => [x.id, x.failure_count, x.last_success]),
      [
        ['a', 0, '2026-05-01T10:00:00Z'],
        ['b', 2, undefined],
        ['c', 0, undefined],
      ],
    );
    assert.equal(r.records[0]?.latency_ms, 30);
    assert.deepEqual(r.pruned, []);
  });

  test('N failures in a row prune the mirror (N configurable; 0 never)', () => {
    const now = new Date();
    const r = applyOutcomes(
      [rec('a', 4), rec('b')],
      [{ id: 'a', ok: false, error: 'E_NETWORK refused' }],
      now,
      5,
    );
    assert.deepEqual(
      r.records.map((x) => x.id),
      ['b'],
    );
    assert.deepEqual(r.pruned, [{ id: 'a', uri: 'https://a', failures: 5, lastError: 'E_NETWORK refused' }]);
    const never = applyOutcomes([rec('a', 400)], [{ id: 'a', ok: false }], now, 0);
    assert.equal(never.records.length, 1);
  });
});
