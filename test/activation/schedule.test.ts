/**
 * The activation schedule (src/activation/schedule/schedule.ts): a table of the situations a node
 * meets around an upgrade (grace period, the height, a trial after the switch, offline past the
 * height), plus properties: a switch is never scheduled before the activation height or to a
 * version not installed first, a trial is always resolved (healthy -> mark-successful, past the
 * bound -> rollback to the previous version), and the hard-fork rollback barrier.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type ActivationPlan,
  type LocalState,
  rollbackBarrier,
  type ScheduleInput,
  scheduleActions,
  versionsToPrune,
} from '../../src/activation/schedule/schedule.ts';

const PLAN: ActivationPlan = {
  version: '1.1.0',
  target_sha256: 'a'.repeat(64),
  activation_height: 100,
  fork: 'hard',
  min_compatible_version: null,
};
const ON_OLD: LocalState = {
  current: '1.0.0',
  installed: ['1.0.0'],
  downloaded: [],
  trial: null,
  rolled_back: [],
};

function input(over: Omit<Partial<ScheduleInput>, 'state'> & { state?: Partial<LocalState> }): ScheduleInput {
  return {
    plan: PLAN,
    at: { height: 50, time_ms: 0 },
    now_ms: 1_000_000,
    health_bound_ms: 10_000,
    ...over,
    state: { ...ON_OLD, ...over.state },
  };
}
const kinds = (i: ScheduleInput) => scheduleActions(i).map((a) => a.kind);

describe('activation schedule: the table', () => {
  const rows: [string, ScheduleInput, string[]][] = [
    ['no plan', input({ plan: null }), ['wait']],
    ['grace period, nothing fetched', input({}), ['predownload', 'install']],
    ['grace period, downloaded', input({ state: { downloaded: ['1.1.0'] } }), ['install']],
    ['grace period, installed', input({ state: { installed: ['1.0.0', '1.1.0'] } }), ['wait']],
    [
      'at the height, installed',
      input({ at: { height: 100, time_ms: 0 }, state: { installed: ['1.0.0', '1.1.0'] } }),
      ['switch'],
    ],
    [
      'offline past the height: catch up at once',
      input({ at: { height: 180, time_ms: 0 } }),
      ['predownload', 'install', 'switch'],
    ],
    ['no height reading, installed', input({ at: null, state: { installed: ['1.0.0', '1.1.0'] } }), ['wait']],
    ['already on it', input({ state: { current: '1.1.0', installed: ['1.1.0'] } }), ['wait']],
    ['already above it', input({ state: { current: '1.2.0', installed: ['1.2.0'] } }), ['wait']],
    [
      'rolled back here: not retried',
      input({
        at: { height: 150, time_ms: 0 },
        state: { installed: ['1.0.0', '1.1.0'], rolled_back: ['1.1.0'] },
      }),
      ['wait'],
    ],
    [
      'trial within the bound',
      input({
        state: {
          current: '1.1.0',
          trial: { version: '1.1.0', previous: '1.0.0', started_ms: 995_000, healthy: false },
        },
      }),
      ['health-check'],
    ],
    [
      'trial healthy',
      input({
        state: {
          current: '1.1.0',
          trial: { version: '1.1.0', previous: '1.0.0', started_ms: 995_000, healthy: true },
        },
      }),
      ['mark-successful'],
    ],
    [
      'trial past the bound',
      input({
        state: {
          current: '1.1.0',
          trial: { version: '1.1.0', previous: '1.0.0', started_ms: 900_000, healthy: false },
        },
      }),
      ['rollback'],
    ],
    [
      'trial past the bound, nothing to go back to',
      input({
        state: {
          current: '1.1.0',
          trial: { version: '1.1.0', previous: null, started_ms: 0, healthy: false },
        },
      }),
      ['wait'],
    ],
    [
      'first install (nothing current)',
      input({ at: { height: 120, time_ms: 0 }, state: { current: null, installed: [] } }),
      ['predownload', 'install', 'switch'],
    ],
  ];
  for (const [name, i, want] of rows) test(name, () => assert.deepEqual(kinds(i), want));

  test('the switch names both versions and the plan height; the rollback names the previous version', () => {
    const sw = scheduleActions(
      input({ at: { height: 101, time_ms: 0 }, state: { installed: ['1.0.0', '1.1.0'] } }),
    );
    assert.deepEqual(sw, [{ kind: 'switch', from: '1.0.0', to: '1.1.0', height: 100 }]);
    const rb = scheduleActions(
      input({
        state: {
          current: '1.1.0',
          trial: { version: '1.1.0', previous: '1.0.0', started_ms: 0, healthy: false },
        },
      }),
    );
    assert.deepEqual(rb, [{ kind: 'rollback', from: '1.1.0', to: '1.0.0', reason: 'health-timeout' }]);
  });
});

const versionArb = fc
  .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }))
  .map(([a, b, c]) => `${a}.${b}.${c}`);
const stateArb: fc.Arbitrary<LocalState> = fc.record({
  current: fc.option(versionArb, { nil: null }),
  installed: fc.uniqueArray(versionArb, { maxLength: 5 }),
  downloaded: fc.uniqueArray(versionArb, { maxLength: 5 }),
  trial: fc.option(
    fc.record({
      version: versionArb,
      previous: fc.option(versionArb, { nil: null }),
      started_ms: fc.integer({ min: 0, max: 2_000_000 }),
      healthy: fc.boolean(),
    }),
    { nil: null },
  ),
  rolled_back: fc.uniqueArray(versionArb, { maxLength: 3 }),
});
const inputArb: fc.Arbitrary<ScheduleInput> = fc.record({
  plan: fc.option(
    fc.record({
      version: versionArb,
      target_sha256: fc.constant('b'.repeat(64)),
      activation_height: fc.integer({ min: 0, max: 1000 }),
      fork: fc.constantFrom('hard' as const, 'soft' as const),
      min_compatible_version: fc.constant(null),
    }),
    { nil: null },
  ),
  at: fc.option(fc.record({ height: fc.integer({ min: 0, max: 1000 }), time_ms: fc.nat() }), { nil: null }),
  state: stateArb,
  now_ms: fc.integer({ min: 0, max: 2_000_000 }),
  health_bound_ms: fc.integer({ min: 1, max: 60_000 }),
});

describe('activation schedule: properties', () => {
  test('never empty; a switch only at or past the height, after install, to a newer version', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const acts = scheduleActions(i);
        assert.ok(acts.length >= 1);
        const sw = acts.findIndex((a) => a.kind === 'switch');
        if (sw >= 0) {
          const a = acts[sw]!;
          assert.equal(a.kind, 'switch');
          assert.ok(i.plan && i.at && i.at.height >= i.plan.activation_height);
          assert.equal(i.state.trial, null);
          const installedBefore =
            i.state.installed.includes(i.plan.version) || acts.slice(0, sw).some((x) => x.kind === 'install');
          assert.ok(installedBefore);
          assert.ok(!i.state.rolled_back.includes(i.plan.version));
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('a trial is always resolved first: mark-successful, health-check within the bound, else rollback', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const t = i.state.trial;
        if (!t) return;
        const [a] = scheduleActions(i);
        if (t.healthy) assert.equal(a?.kind, 'mark-successful');
        else if (i.now_ms < t.started_ms + i.health_bound_ms) assert.equal(a?.kind, 'health-check');
        else if (t.previous === null) assert.equal(a?.kind, 'wait');
        else
          assert.deepEqual(a, {
            kind: 'rollback',
            from: t.version,
            to: t.previous,
            reason: 'health-timeout',
          });
      }),
      { numRuns: 2000 },
    );
  });
});

describe('hard-fork rollback barrier and keep-N pruning', () => {
  const forks = [
    { version: '1.1.0', activation_height: 100, fork: 'hard' as const },
    { version: '1.2.0', activation_height: 200, fork: 'soft' as const },
  ];
  test('below an activated hard fork: refused; before its height, or at/above its version: allowed', () => {
    assert.equal(rollbackBarrier('1.0.0', forks, 150)?.version, '1.1.0');
    assert.equal(rollbackBarrier('1.0.0', forks, 99), null);
    assert.equal(rollbackBarrier('1.1.0', forks, 250), null);
    // A soft fork is no barrier.
    assert.equal(rollbackBarrier('1.1.5', forks, 250), null);
    // No height reading: a known hard fork is taken as activated.
    assert.equal(rollbackBarrier('1.0.0', forks, null)?.version, '1.1.0');
  });

  test('pruning keeps the newest N plus the protected versions', () => {
    const installed = ['1.0.0', '1.1.0', '1.2.0', '1.3.0', '0.9.0'];
    assert.deepEqual(versionsToPrune(installed, ['1.3.0', '1.2.0'], 3).sort(), ['0.9.0', '1.0.0']);
    assert.deepEqual(versionsToPrune(installed, ['1.0.0', null], 2).sort(), ['0.9.0', '1.1.0', '1.2.0']);
    fc.assert(
      fc.property(fc.uniqueArray(versionArb, { maxLength: 8 }), fc.integer({ min: 1, max: 5 }), (vs, n) => {
        const keep = vs.slice(0, 2);
        const pruned = versionsToPrune(vs, keep, n);
        for (const k of keep) assert.ok(!pruned.includes(k));
        assert.equal(vs.length - pruned.length, Math.max(Math.min(n, vs.length), keep.length));
      }),
    );
  });
});
