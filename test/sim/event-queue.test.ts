import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { EventQueue } from '../../src/sim/event-queue.ts';

test('events come out by time, equal times in insertion order, with their fields and payload', () => {
  const q = new EventQueue<string>();
  q.push(5, 1, 10, 11, 12, 13, 'e');
  q.push(1, 2, 20, 21, 22, 23, 'a');
  q.push(5, 3, 30, 31, 32, 33, 'f');
  q.push(3, 4, 40, 41, 42, 43);
  const out: unknown[] = [];
  while (q.pop()) out.push([q.curTime, q.curKind, q.curA, q.curB, q.curC, q.curD, q.curPayload]);
  assert.deepEqual(out, [
    [1, 2, 20, 21, 22, 23, 'a'],
    [3, 4, 40, 41, 42, 43, undefined],
    [5, 1, 10, 11, 12, 13, 'e'],
    [5, 3, 30, 31, 32, 33, 'f'],
  ]);
  assert.equal(q.size, 0);
  assert.equal(q.peekTime(), Number.POSITIVE_INFINITY);
});

test('property: interleaved pushes and pops match a stable sort, across growth and slot reuse', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.integer({ min: 0, max: 50 }).map((t) => ({ push: t })),
          fc.constant({ pop: true }),
        ),
        {
          maxLength: 3000,
        },
      ),
      (ops) => {
        const q = new EventQueue<number>();
        const model: { t: number; seq: number }[] = [];
        let seq = 0;
        let base = 0;
        for (const op of ops) {
          if ('push' in op) {
            // Like a simulator, never schedule in the past of the last popped event.
            const t = base + op.push;
            q.push(t, 0, seq, 0, 0, 0, seq);
            model.push({ t, seq: seq++ });
          } else {
            model.sort((x, y) => x.t - y.t || x.seq - y.seq);
            const want = model.shift();
            assert.equal(q.pop(), want !== undefined);
            if (want) {
              assert.equal(q.curTime, want.t);
              assert.equal(q.curA, want.seq);
              assert.equal(q.curPayload, want.seq);
              base = want.t;
            }
          }
          assert.equal(q.size, model.length);
        }
      },
    ),
    { numRuns: 60 },
  );
});
