/**
 * The quick parts of the upgrade harness (the whole run is test/activation/upgrade.e2e.ts): how a
 * supervisor's journal is read as an outcome, the validator stakes, which nodes are late, and the commands' usage errors
 * (exit 2 before anything is built or started).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Journal } from '../../src/activation/versions.ts';
import { lateIds, validatorStakes } from '../../src/testnet/upgrade-net.ts';
import { nodeOutcome } from '../../src/testnet/upgrade-watch.ts';
import { describeRun, runBin } from '../helpers/cli.ts';

const entry = (
  kind: 'switch' | 'rollback' | 'mark-successful',
  from: string,
  to: string,
  height: number,
) => ({
  kind,
  from,
  to,
  at: '2026-12-06T08:00:00.000Z',
  height,
  downtime_ms: kind === 'switch' ? 900 : null,
});
const journal = (history: Journal['history']): Journal => ({
  format: 'dchat.activation/1',
  trial: null,
  rolled_back: [],
  history,
  forks: [],
});

test('a journal read as the outcome of the switch', () => {
  const none = nodeOutcome(journal([]), '1.0.0', '1.1.0');
  assert.deepEqual(none, { switchEntry: undefined, rolledBack: false, settled: false });
  const switched = nodeOutcome(
    journal([entry('switch', '1.0.0', '1.1.0', 180), entry('mark-successful', '1.0.0', '1.1.0', 180)]),
    '1.0.0',
    '1.1.0',
  );
  assert.equal(switched.switchEntry?.height, 180);
  assert.equal(switched.rolledBack, false);
  assert.equal(switched.settled, true);
  // An unhealthy version is journaled as a rollback only (no switch entry): settled, rolled back.
  const back = nodeOutcome(journal([entry('rollback', '1.1.0', '1.0.0', 180)]), '1.0.0', '1.1.0');
  assert.deepEqual([back.switchEntry, back.rolledBack, back.settled], [undefined, true, true]);
  // A switch to another version says nothing about this one.
  const other = nodeOutcome(journal([entry('switch', '1.0.0', '1.2.0', 90)]), '1.0.0', '1.1.0');
  assert.equal(other.settled, false);
});

test('validator stakes: with three, the first two approve 70 of 100', () => {
  assert.deepEqual(validatorStakes(3), [40, 30, 30]);
  assert.deepEqual(validatorStakes(1), [40]);
});

test('late nodes: the last users first, then relays; never a validator or the legacy node', () => {
  const plan = [
    { id: 'v0', role: 'validator' as const },
    { id: 'v1', role: 'validator' as const },
    { id: 'r0', role: 'relay' as const },
    { id: 'r1', role: 'relay' as const },
    { id: 'u0', role: 'user' as const },
    { id: 'u1', role: 'user' as const },
    { id: 'legacy', role: 'legacy' as const },
  ];
  assert.deepEqual([...lateIds(plan, 0)], []);
  assert.deepEqual([...lateIds(plan, 1)], ['u1']);
  assert.deepEqual([...lateIds(plan, 3)], ['u1', 'u0', 'r1']);
  assert.deepEqual([...lateIds(plan, 4)], ['u1', 'u0', 'r1', 'r0']);
  assert.throws(() => lateIds(plan, 5), /only 4 user and relay nodes/);
});

test('dchat-test upgrade and dchat testnet --scenario refuse bad flags with exit 2', async () => {
  const cases: ['dchat' | 'dchat-test', string[], RegExp][] = [
    ['dchat-test', ['upgrade', '--from', '1.0.0', '--to', '1.1.0', '--fork', 'medium'], /--fork/],
    ['dchat-test', ['upgrade', '--from', '1.1.0', '--to', '1.0.0', '--fork', 'hard'], /not above/],
    ['dchat-test', ['upgrade', '--from', 'x', '--to', '1.0.0', '--fork', 'hard'], /--from/],
    [
      'dchat-test',
      ['upgrade', '--from', '1.0.0', '--to', '1.1.0', '--fork', 'hard', '--validators', '0'],
      /--validators/,
    ],
    [
      'dchat-test',
      [
        'upgrade',
        '--from',
        '1.0.0',
        '--to',
        '1.1.0',
        '--fork',
        'hard',
        '--relays',
        '0',
        '--users',
        '1',
        '--late-nodes',
        '2',
      ],
      /--late-nodes/,
    ],
    ['dchat', ['testnet', '--scenario', 'bogus'], /--scenario/],
    ['dchat', ['testnet', '--scenario', 'upgrade', '--fork', 'sideways'], /--fork/],
  ];
  for (const [bin, args, msg] of cases) {
    const r = await runBin(bin, args);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, msg);
  }
});
