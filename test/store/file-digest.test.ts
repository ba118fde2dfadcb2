/**
 * Hashing a file on disk (src/store/file-digest.ts): the same digests and chunk table as hashing
 * the bytes in memory, small files inline and large ones through the pipeline; caps given up
 * front or later (`limit`), stops, and missing files are coded errors.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chunkHashHex, digestBytes } from '../../src/crypto/hash.ts';
import { WORKER_THRESHOLD } from '../../src/crypto/hash-stage.ts';
import { DchatError } from '../../src/errors.ts';
import { digestFile, startFileDigest } from '../../src/store/file-digest.ts';
import { readerThreads } from '../../src/store/reader-threads.ts';
import { assertCode } from '../helpers/repo.ts';

let dir: string;
const BIG = randomBytes(WORKER_THRESHOLD + 5 * 1024 * 1024 + 3);
const SMALL = randomBytes(100_000);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dchat-file-digest-'));
  await writeFile(join(dir, 'big'), BIG);
  await writeFile(join(dir, 'small'), SMALL);
  await writeFile(join(dir, 'empty'), '');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const chunks = (b: Buffer, n: number) =>
  Array.from({ length: Math.ceil(b.byteLength / n) }, (_, i) => chunkHashHex(b.subarray(i * n, (i + 1) * n)));

test('digests and chunk tables equal the in-memory ones, small, empty and large', async () => {
  for (const [name, bytes] of [
    ['small', SMALL],
    ['empty', Buffer.alloc(0)],
    ['big', BIG],
  ] as const) {
    const d = await digestFile(join(dir, name), { chunkSize: 1024 * 1024 });
    const { chunks: got, ...rest } = d;
    assert.deepEqual(rest, digestBytes(bytes), name);
    assert.deepEqual(got, chunks(bytes, 1024 * 1024), name);
  }
});

test('caps: up front, set later while reading, and a stop', async () => {
  await assertCode(() => digestFile(join(dir, 'big'), { maxBytes: BIG.byteLength - 1 }), 'E_TOO_LARGE');
  const run = startFileDigest(join(dir, 'big'));
  run.limit(8 * 1024 * 1024);
  await assertCode(() => run.result, 'E_TOO_LARGE');
  const ok = startFileDigest(join(dir, 'big'));
  ok.limit(BIG.byteLength);
  assert.equal((await ok.result).sha256, digestBytes(BIG).sha256);
  const stopped = startFileDigest(join(dir, 'big'));
  stopped.stop();
  await assertCode(() => stopped.result, 'E_ABORTED');
  await assertCode(() => digestFile(join(dir, 'nothing-here')), 'E_NOT_FOUND');
});

test('a large file without a chunk table is read and hashed off this thread, with the same digests', async () => {
  assert.deepEqual(await digestFile(join(dir, 'big')), digestBytes(BIG));
  assert.deepEqual(await readerThreads(join(dir, 'big'), BIG.byteLength).result, digestBytes(BIG));
});

test('the reading thread keeps the cap: a file longer than it (grown after the size check), a cap lowered while reading, stops and aborts', async () => {
  await assertCode(() => readerThreads(join(dir, 'big'), BIG.byteLength - 1).result, 'E_TOO_LARGE');
  const lowered = readerThreads(join(dir, 'big'), Number.POSITIVE_INFINITY);
  lowered.limit(8 * 1024 * 1024);
  await assertCode(() => lowered.result, 'E_TOO_LARGE');
  const stopped = readerThreads(join(dir, 'big'), Number.POSITIVE_INFINITY);
  stopped.stop(undefined);
  await assertCode(() => stopped.result, 'E_ABORTED');
  const ac = new AbortController();
  const aborted = startFileDigest(join(dir, 'big'), { signal: ac.signal });
  ac.abort(new DchatError('E_ABORTED', 'test abort'));
  await assertCode(() => aborted.result, 'E_ABORTED');
  await assertCode(() => readerThreads(join(dir, 'nothing-here'), 10).result, 'E_NOT_FOUND');
});
