/**
 * A hash stage started with `nice` lowers its own thread's priority and nobody else's
 * (src/crypto/hash-stage.ts): the reader threads start their BLAKE3 stage that way, so the
 * thread that sets the pace keeps a core. Read from /proc, where Linux shows each thread's nice.
 */
import assert from 'node:assert/strict';
import { getPriority } from 'node:os';
import { test } from 'node:test';
import { startHashStage } from '../../src/crypto/hash-stage.ts';
import { threadNices } from '../helpers/threads.ts';

test('a stage with nice runs its own thread at that priority; the caller keeps its own', async () => {
  const before = new Set(threadNices().keys());
  const stage = startHashStage('blake3', { nice: 7 });
  try {
    let niced: number[] = [];
    const until = Date.now() + 10_000;
    while (niced.length === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
      niced = [...threadNices()].filter(([tid, nice]) => !before.has(tid) && nice === 7).map(([t]) => t);
    }
    assert.equal(niced.length, 1, 'exactly the stage thread lowered itself');
    assert.equal(getPriority(0), 0, 'the calling thread is unchanged');
    assert.equal(threadNices().get(process.pid), 0);
  } finally {
    await stage.terminate();
  }
});

test('a stage without nice stays at the normal priority', async () => {
  const before = new Set(threadNices().keys());
  const stage = startHashStage('sha256', {});
  try {
    await new Promise<void>((r) => stage.once('online', () => r()));
    await new Promise((r) => setTimeout(r, 50));
    for (const [tid, nice] of threadNices()) if (!before.has(tid)) assert.equal(nice, 0, `thread ${tid}`);
  } finally {
    await stage.terminate();
  }
});
