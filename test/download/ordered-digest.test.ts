/**
 * OrderedDigest (src/download/ordered-digest.ts) over the one hashing pipeline: chunks offered in
 * any order, a reorder window small enough to spill, chunks resumed from an earlier run (some
 * damaged on disk, fetched again) all give the whole-file digests of the bytes in order, inline for
 * small files and through the hash threads for large ones.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { chunkHashHex, digestBytes } from '../../src/crypto/hash.ts';
import { WORKER_THRESHOLD } from '../../src/crypto/hash-stage.ts';
import { OrderedDigest } from '../../src/download/ordered-digest.ts';
import { CHUNKS_FORMAT, type ChunkTable, chunkRange } from '../../src/model/chunks.ts';

function tableOf(data: Buffer, chunkSize: number): ChunkTable {
  const chunks: string[] = [];
  for (let off = 0; off < data.byteLength; off += chunkSize)
    chunks.push(chunkHashHex(data.subarray(off, off + chunkSize)));
  return { format: CHUNKS_FORMAT, hash: 'blake3', chunk_size: chunkSize, size: data.byteLength, chunks };
}

/** Plays the engine: a partial file in memory, offers in `order`, resumed and damaged chunks. */
async function run(
  data: Buffer,
  chunkSize: number,
  order: number[],
  resumed: Set<number>,
  damaged: Set<number>,
  windowBytes: number,
  onReturn?: (b: Buffer) => void,
) {
  const table = tableOf(data, chunkSize);
  const chunk = (i: number) => {
    const { start, end } = chunkRange(table, i);
    return Buffer.from(data.subarray(start, end));
  };
  const disk = new Map<number, Buffer>();
  for (const i of resumed) {
    const c = chunk(i);
    if (damaged.has(i)) c[0] = (c[0] as number) ^ 1;
    disk.set(i, c);
  }
  const bad: number[] = [];
  // A write that lands a moment later, as the engine's pwrite does.
  const write = (i: number) => new Promise<void>((r) => setImmediate(() => r(void disk.set(i, chunk(i)))));
  const d: OrderedDigest = new OrderedDigest({
    table,
    windowBytes,
    readChunk: async (i) => Buffer.from(disk.get(i) as Buffer),
    onBadChunk: (i) => {
      bad.push(i);
      // Fetched again from a source, verified, offered anew.
      queueMicrotask(() => void d.offer(i, chunk(i), write(i)));
    },
    ...(onReturn ? { onReturn } : {}),
  });
  d.addResumed(resumed);
  for (const i of order) if (!resumed.has(i)) await d.offer(i, chunk(i), write(i));
  const out = await d.done;
  return { out, bad: bad.sort((a, b) => a - b), position: d.position };
}

test('property: any offer order, spills, resumed and damaged chunks give the in-order digests', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 60_000 }),
      fc.integer({ min: 512, max: 8192 }),
      fc.integer({ min: 0, max: 2 ** 31 }),
      fc.integer({ min: 0, max: 20_000 }),
      async (size, chunkSize, seed, windowBytes) => {
        const data = randomBytes(size);
        const n = Math.ceil(size / chunkSize);
        // A deterministic shuffle and subsets from the seed (shrinks with it).
        let s = seed;
        const rnd = () => {
          s = (s * 1103515245 + 12345) % 2 ** 31;
          return s / 2 ** 31;
        };
        const order = Array.from({ length: n }, (_, i) => i);
        for (let i = n - 1; i > 0; i--) {
          const j = Math.floor(rnd() * (i + 1));
          [order[i], order[j]] = [order[j] as number, order[i] as number];
        }
        const resumed = new Set(order.filter(() => rnd() < 0.3));
        const damaged = new Set([...resumed].filter(() => rnd() < 0.3));
        const r = await run(data, chunkSize, order, resumed, damaged, windowBytes);
        assert.deepEqual(r.out, digestBytes(data));
        assert.deepEqual(
          r.bad,
          [...damaged].sort((a, b) => a - b),
          'exactly the damaged chunks are fetched again',
        );
        assert.equal(r.position, size);
      },
    ),
    { numRuns: 60 },
  );
});

test('a large download goes through the hash threads; its buffers come back for reuse', async () => {
  const size = WORKER_THRESHOLD + 3 * 1024 * 1024 + 5;
  const data = randomBytes(size);
  const chunkSize = 1024 * 1024;
  const n = Math.ceil(size / chunkSize);
  const order = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? i + 1 : i - 1)).filter((i) => i < n);
  if (!order.includes(n - 1)) order.push(n - 1);
  const back: Buffer[] = [];
  const r = await run(data, chunkSize, order, new Set([3]), new Set(), 4 * chunkSize, (b) => back.push(b));
  assert.deepEqual(r.out, digestBytes(data));
  assert.ok(back.length >= n - 2, `${back.length} of ${n} chunk buffers came back`);
});

test('a chunk whose offer waited while the hashing read it back from disk is not held for good', async () => {
  const C = 1024;
  const data = randomBytes(8 * C);
  const table = tableOf(data, C);
  const chunk = (i: number) => Buffer.from(data.subarray(i * C, (i + 1) * C));
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const d = new OrderedDigest({
    table,
    windowBytes: 2 * C,
    // Read-backs wait until the window is full and chunk 4's offer waits for room.
    readChunk: async (i) => {
      await gate;
      return chunk(i);
    },
    onBadChunk: () => assert.fail('no chunk is damaged'),
  });
  d.addResumed([0, 1, 2, 3]);
  await d.offer(5, chunk(5), Promise.resolve());
  await d.offer(6, chunk(6), Promise.resolve());
  const waiting = d.offer(4, chunk(4), Promise.resolve());
  release();
  await waiting;
  await d.offer(7, chunk(7), Promise.resolve());
  const out = await d.done;
  assert.deepEqual(out, digestBytes(data));
  const inside = d as unknown as { held: number; window: Map<number, Buffer> };
  assert.equal(inside.window.size, 0, 'nothing stays in the reorder window');
  assert.equal(inside.held, 0);
});
