import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { TokenBucket, tryTakeAll } from '../../src/util/token-bucket.ts';

const EPS = 1e-6;

test('token bucket: starts full, refills at the rate, never above the burst', () => {
  const b = new TokenBucket(1000, 500, 0);
  assert.equal(b.available(0), 500);
  assert.equal(b.tryTake(0, 500), true);
  assert.equal(b.tryTake(0, 1), false);
  assert.equal(b.available(100), 100);
  assert.equal(b.available(10_000), 500);
  assert.throws(() => new TokenBucket(0, 1, 0), RangeError);
});

test('token bucket: take goes into debt and says how long to wait', () => {
  const b = new TokenBucket(1000, 500, 0);
  assert.equal(b.take(0, 400), 0);
  // 100 left; 1100 more puts it 1000 in debt = one second at 1000/s.
  assert.equal(b.take(0, 1100), 1000);
  assert.ok(b.available(999) < 0);
  assert.ok(Math.abs(b.available(1000)) < EPS);
});

test('token bucket: a clock that steps back refills nothing', () => {
  const b = new TokenBucket(1000, 1000, 1000);
  assert.equal(b.tryTake(1000, 1000), true);
  assert.equal(b.available(0), 0);
  assert.equal(b.available(500), 0);
  assert.equal(b.available(1500), 500);
});

test('tryTakeAll: all buckets or none', () => {
  const msgs = new TokenBucket(10, 2, 0);
  const bytes = new TokenBucket(1000, 100, 0);
  assert.equal(
    tryTakeAll(0, [
      [msgs, 1],
      [bytes, 80],
    ]),
    true,
  );
  // Bytes refuse: the message bucket keeps its token.
  assert.equal(
    tryTakeAll(0, [
      [msgs, 1],
      [bytes, 80],
    ]),
    false,
  );
  assert.equal(msgs.available(0), 1);
  assert.equal(bytes.available(0), 20);
});

const op = fc.record({
  dt: fc.integer({ min: -50, max: 2000 }),
  n: fc.double({ min: 0, max: 3000, noNaN: true }),
  kind: fc.constantFrom('try', 'take'),
});

test('property: tokens spent never exceed burst + rate x elapsed; refusals take nothing', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 100_000 }),
      fc.integer({ min: 0, max: 10_000 }),
      fc.array(op, { maxLength: 60 }),
      (rate, burst, ops) => {
        const b = new TokenBucket(rate, burst, 0);
        let now = 0;
        let maxNow = 0;
        let spent = 0;
        for (const o of ops) {
          now = Math.max(0, now + o.dt);
          maxNow = Math.max(maxNow, now);
          const before = b.available(now);
          assert.ok(before <= burst + EPS, 'never above the burst');
          if (o.kind === 'try') {
            const ok = b.tryTake(now, o.n);
            assert.equal(ok, before >= o.n);
            assert.equal(b.available(now), ok ? before - o.n : before, 'a refusal takes nothing');
            if (ok) spent += o.n;
          } else {
            const wait = b.take(now, o.n);
            spent += o.n;
            assert.ok(wait >= 0);
            assert.equal(b.take(now, 0), wait, 'asking again at the same time gives the same wait');
            // After the wait the debt is repaid.
            if (wait > 0) {
              now += wait;
              maxNow = Math.max(maxNow, now);
              assert.ok(b.available(now) >= -EPS);
            }
          }
          // Conservation: what was spent came from the burst or from refills up to the latest time seen.
          // Debt from `take` is spending not yet covered, so it is counted on the other side.
          const debt = Math.max(0, -b.available(now));
          assert.ok(spent - debt <= burst + (rate * maxNow) / 1000 + 1e-6 * (1 + spent));
        }
      },
    ),
    { numRuns: Number(process.env.FC_RUNS ?? 100) },
  );
});
