import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sleep } from '../../src/util/sleep.ts';

test('sleep: resolves after the time', async () => {
  const t0 = performance.now();
  await sleep(20);
  assert.ok(performance.now() - t0 >= 19);
});

test('sleep: an abort during the wait rejects with signal.reason at once', async () => {
  const ac = new AbortController();
  const reason = new Error('stop');
  const t0 = performance.now();
  const p = sleep(60_000, ac.signal);
  setTimeout(() => ac.abort(reason), 10);
  await assert.rejects(p, (e) => e === reason);
  assert.ok(performance.now() - t0 < 5000);
});

test('sleep: an already aborted signal rejects without waiting', async () => {
  const reason = new Error('already');
  await assert.rejects(sleep(60_000, AbortSignal.abort(reason)), (e) => e === reason);
});

test('sleep: a wait that finished leaves no listener on the signal', async () => {
  const ac = new AbortController();
  await sleep(1, ac.signal);
  // Aborting afterwards must not reject anything or throw.
  ac.abort(new Error('late'));
  assert.equal(ac.signal.aborted, true);
});
