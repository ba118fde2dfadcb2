/**
 * The height an activation acts on (activation/schedule/due-height.ts): the accepted beacon height,
 * or the next one once its scheduled time has come, never further; a chain's heights as they are.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { dueHeight } from '../../src/activation/schedule/due-height.ts';

const at = { height: 99, time_ms: 99_000 };

test('the next height is due once a whole block interval passed since the accepted one', () => {
  assert.deepEqual(dueHeight(at, 1000, 99_999), at, 'inside height 99');
  assert.deepEqual(dueHeight(at, 1000, 100_000), { height: 100, time_ms: 100_000 });
  assert.deepEqual(dueHeight(at, 1000, 250_000), { height: 100, time_ms: 100_000 }, 'one block, never more');
  assert.deepEqual(dueHeight(at, undefined, 250_000), at, 'a chain height has no schedule');
  assert.equal(dueHeight(null, 1000, 250_000), null, 'nothing accepted: nothing due');
  assert.deepEqual(dueHeight(at, 1000, 50_000), at, 'a clock behind never moves a height back');
});

test('due is the accepted height or the one after it, whatever the clock', () => {
  fc.assert(
    fc.property(
      fc.nat(1_000_000),
      fc.nat(10_000_000),
      fc.integer({ min: 1, max: 60_000 }),
      fc.integer({ min: -10_000_000, max: 10_000_000 }),
      (height, time, interval, skew) => {
        const d = dueHeight({ height, time_ms: time }, interval, time + skew);
        assert.ok(d);
        assert.ok(d.height === height || d.height === height + 1);
        assert.equal(d.height === height + 1, skew >= interval);
      },
    ),
  );
});
