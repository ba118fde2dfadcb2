import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DchatError } from '../../../src/errors.ts';
import { resolveGossipConfig } from '../../../src/gossip/core/config.ts';
import { addScore, admit, currentScore, PeerState } from '../../../src/gossip/core/peer-state.ts';
import { deriveSeed, Rng } from '../../../src/gossip/core/rng.ts';
import { SeenCache } from '../../../src/gossip/core/seen-cache.ts';

test('rng: a pure function of its seed, uniform enough, uuids that schemas accept', () => {
  const a = new Rng(5);
  const b = new Rng(5);
  const xs = Array.from({ length: 1000 }, () => a.next());
  assert.deepEqual(
    xs,
    Array.from({ length: 1000 }, () => b.next()),
  );
  assert.notDeepEqual(
    xs.slice(0, 10),
    Array.from({ length: 10 }, () => new Rng(6).next()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  const counts = new Array(10).fill(0);
  for (let k = 0; k < 10_000; k++) counts[a.int(10)]++;
  assert.ok(
    counts.every((c) => c > 850 && c < 1150),
    counts.join(','),
  );
  for (let k = 0; k < 50; k++)
    assert.match(a.uuid(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(deriveSeed(1, 0), deriveSeed(1, 1));
  assert.notEqual(deriveSeed(1, 0), deriveSeed(2, 0));
  const s = a.sample([1, 2, 3, 4, 5], 3);
  assert.equal(new Set(s).size, 3);
});

test('seen cache: entries expire, capacity evicts the oldest', () => {
  const c = new SeenCache(3, 100);
  c.add('a', 0);
  c.add('b', 10);
  assert.ok(c.has('a', 99));
  assert.ok(!c.has('a', 100));
  c.add('c', 20);
  c.add('d', 30);
  c.add('e', 40);
  assert.equal(c.size, 3);
  assert.ok(!c.has('b', 41));
  assert.ok(c.has('e', 41));
  assert.equal(c.prune(135), 2);
  assert.equal(c.size, 1);
});

test('property: the seen cache never holds more than its capacity and forgets nothing younger than its ttl', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 50 })), {
        maxLength: 200,
      }),
      (ops) => {
        const c = new SeenCache(8, 100);
        let now = 0;
        const recent: { key: string; at: number }[] = [];
        for (const [k, dt] of ops) {
          now += dt;
          c.add(String(k), now);
          recent.push({ key: String(k), at: now });
          assert.ok(c.size <= 8);
        }
        // The last distinct keys (up to capacity) added within the ttl are all remembered.
        const last = new Map<string, number>();
        for (const r of recent) last.set(r.key, r.at);
        const newest = [...last.entries()].sort((x, y) => y[1] - x[1]).slice(0, 8);
        for (const [key, at] of newest) if (now - at < 100) assert.ok(c.has(key, now), key);
      },
    ),
  );
});

test('token buckets: burst, refill, refusal costs nothing', () => {
  const cfg = resolveGossipConfig({
    rateMsgBurst: 3,
    rateMsgsPerSec: 2,
    rateBytesBurst: 1000,
    rateBytesPerSec: 100,
  });
  const p = new PeerState(0, cfg);
  assert.ok(admit(p, 0, 400, cfg));
  assert.ok(admit(p, 0, 400, cfg));
  assert.ok(!admit(p, 0, 400, cfg), 'bytes exhausted');
  assert.ok(admit(p, 0, 100, cfg));
  assert.ok(!admit(p, 0, 1, cfg), 'messages exhausted');
  assert.ok(admit(p, 500, 1, cfg), 'one message back after 500 ms at 2/s');
});

test('scores decay toward zero and are forgiven below a hundredth', () => {
  const cfg = resolveGossipConfig({});
  const p = new PeerState(0, cfg);
  assert.equal(addScore(p, 0, -25, cfg), -25);
  assert.ok(Math.abs((currentScore(p, 1000, cfg) as number) + 22.5) < 1e-9);
  assert.equal(currentScore(p, 100_000, cfg), 0);
});

test('config: inconsistent settings are E_CONFIG; a resolved config is shared, not copied', () => {
  assert.throws(
    () => resolveGossipConfig({ meshDegree: 10, meshDegreeHigh: 8 }),
    (e: unknown) => e instanceof DchatError && e.code === 'E_CONFIG',
  );
  const c = resolveGossipConfig({ meshDegree: 5 });
  assert.equal(resolveGossipConfig(c), c);
  assert.ok(Object.isFrozen(c));
});
