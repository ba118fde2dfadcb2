/**
 * The one hashing pipeline (src/crypto/digest-pipeline.ts): SHA-256 and BLAKE3 on their own
 * threads give exactly what one thread gives, for any split of the stream, whole buffers move
 * (and come back) instead of being copied, slices are copied, what is in flight stays bounded, and
 * a stopped pipeline fails instead of hanging.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { createStreamDigest, DigestPipeline } from '../../src/crypto/digest-pipeline.ts';
import { digestBytes } from '../../src/crypto/hash.ts';
import { WORKER_THRESHOLD } from '../../src/crypto/hash-stage.ts';
import { assertCode } from '../helpers/repo.ts';

const DATA = randomBytes(3 * 1024 * 1024 + 17);

test('property: any split, through the worker threads (two, or one running both), gives the one-thread digests', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: DATA.byteLength }),
      fc.array(fc.integer({ min: 0, max: DATA.byteLength }), { maxLength: 10 }),
      fc.boolean(),
      fc.boolean(),
      async (len, cuts, fresh, oneThread) => {
        const data = DATA.subarray(0, len);
        const points = [...new Set(cuts.map((c) => c % (len + 1)))].sort((a, b) => a - b);
        const p = new DigestPipeline({ maxInFlight: 1024 * 1024, oneThread });
        let prev = 0;
        for (const at of [...points, len]) {
          // Fresh copies move by transfer; views into DATA are copied (DATA must stay intact).
          const part = data.subarray(prev, at);
          await p.update(fresh ? Buffer.from(part) : part);
          prev = at;
        }
        assert.deepEqual(await p.digest(), digestBytes(data));
        assert.equal(p.bytes, len);
      },
    ),
    { numRuns: 12 },
  );
  // DATA was only ever copied from.
  assert.equal(DATA.byteLength, 3 * 1024 * 1024 + 17);
});

test('whole buffers move to the hash threads and come back; in flight stays bounded', async () => {
  const back: Buffer[] = [];
  const p = new DigestPipeline({ maxInFlight: 2 * 1024 * 1024, onReturn: (b) => back.push(b) });
  const sent: Buffer[] = [];
  for (let i = 0; i < 8; i++) {
    const b = Buffer.alloc(1024 * 1024, i);
    sent.push(Buffer.from(b));
    await p.update(b);
    assert.equal(b.byteLength, 0, 'transferred, not copied: the sender no longer holds it');
    // Bounded: at most maxInFlight handed over and not yet back.
    assert.ok(i + 1 - back.length <= 2, `${i + 1 - back.length} MiB in flight`);
  }
  const d = await p.digest();
  assert.deepEqual(d, digestBytes(Buffer.concat(sent)));
  assert.equal(back.length, 8);
  assert.ok(back.every((b, i) => b.byteLength === 1024 * 1024 && b[0] === i));
  p.destroy(); // after the result: harmless
});

test('a stopped pipeline fails its digest and further updates; an early stop never hangs', async () => {
  const p = new DigestPipeline();
  await p.update(Buffer.alloc(1000));
  p.destroy();
  await assertCode(() => p.digest(), 'E_ABORTED');
  await assertCode(() => p.update(Buffer.alloc(1)), 'E_INTERNAL');
  const q = new DigestPipeline();
  q.destroy();
  await assertCode(() => q.digest(), 'E_ABORTED');
});

test('small streams hash inline, large ones through the threads, same digests', async () => {
  for (const size of [0, 1000, WORKER_THRESHOLD]) {
    const data = randomBytes(size);
    const s = createStreamDigest(size);
    assert.equal(s instanceof DigestPipeline, size >= WORKER_THRESHOLD);
    await s.update(Buffer.from(data));
    assert.deepEqual(await s.digest(), digestBytes(data));
    s.destroy();
  }
});
