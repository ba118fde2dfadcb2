/**
 * Staged rollout (src/activation/schedule/rollout.ts): on 1,000 simulated node ids the share in
 * the stage matches the signed percentage within 3 points, the stage only grows with the
 * percentage (a node in at 10% stays in at 50%), and buckets are stable per (node, version).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { inRollout, rolloutBucket } from '../../src/activation/schedule/rollout.ts';

/** 1,000 fixed node ids (a random draw would miss 3 points now and then by chance alone). */
const IDS = Array.from(
  { length: 1000 },
  (_, i) => `12D3KooW${createHash('sha256').update(`simulated node ${i}`).digest('hex').slice(0, 44)}`,
);

describe('staged rollout', () => {
  for (const pct of [1, 5, 10, 25, 50, 75, 90, 99]) {
    for (const version of ['1.1.0', '2.0.0-rc.1']) {
      test(`${pct}% of 1,000 node ids for ${version}: within 3 points`, () => {
        const share = (IDS.filter((id) => inRollout(id, version, pct)).length / IDS.length) * 100;
        assert.ok(Math.abs(share - pct) <= 3, `${share}% in the stage for ${pct}%`);
      });
    }
  }

  test('0% takes nobody, 100% and no percentage take everyone', () => {
    assert.equal(IDS.filter((id) => inRollout(id, '1.1.0', 0)).length, 0);
    assert.equal(IDS.filter((id) => inRollout(id, '1.1.0', 100)).length, 1000);
    assert.equal(IDS.filter((id) => inRollout(id, '1.1.0', undefined)).length, 1000);
  });

  test('stages of different versions pick different nodes', () => {
    const a = new Set(IDS.filter((id) => inRollout(id, '1.1.0', 10)));
    const b = IDS.filter((id) => inRollout(id, '1.2.0', 10));
    const both = b.filter((id) => a.has(id)).length;
    // Independent 10% stages overlap on about 1% of the nodes, not 10%.
    assert.ok(both < 40, `${both} nodes in both stages`);
  });

  test('property: bucket in [0,100), stable, and the stage grows with the percentage', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 60 }),
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        (id, version, p, q) => {
          const b = rolloutBucket(id, version);
          assert.ok(b >= 0 && b < 100);
          assert.equal(rolloutBucket(id, version), b);
          const [lo, hi] = p <= q ? [p, q] : [q, p];
          if (inRollout(id, version, lo)) assert.ok(inRollout(id, version, hi));
        },
      ),
      { numRuns: 500 },
    );
  });
});
