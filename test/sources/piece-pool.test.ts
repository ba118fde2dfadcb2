/**
 * The piece pool (src/sources/piece-pool.ts) reuses piece buffers while downloads return them, and
 * empties itself once it has been idle, so an idle node does not keep megabytes of pieces.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pooledBytes, releasePiece, takePiece } from '../../src/sources/piece-pool.ts';

test('pieces are reused while in use, and the pool empties once a look finds no return since the last', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const a = takePiece(64 * 1024);
  releasePiece(a);
  assert.equal(pooledBytes(), 64 * 1024);
  assert.equal(takePiece(64 * 1024), a, 'the same buffer comes back');
  releasePiece(a);
  t.mock.timers.tick(9_000);
  // A return keeps the pool for another round.
  releasePiece(Buffer.allocUnsafeSlow(64 * 1024));
  t.mock.timers.tick(9_000);
  assert.equal(pooledBytes(), 128 * 1024);
  // Looked at after 10 s (a return since: kept), and again 10 s later (none: emptied).
  t.mock.timers.tick(20_000);
  assert.equal(pooledBytes(), 0);
  assert.notEqual(takePiece(64 * 1024), a, 'a fresh buffer after the drain');
  // Never more than 8 MiB; small or shared buffers are not taken.
  for (let i = 0; i < 300; i++) releasePiece(Buffer.allocUnsafeSlow(64 * 1024));
  assert.equal(pooledBytes(), 8 * 1024 * 1024);
  t.mock.timers.tick(10_001);
  t.mock.timers.tick(10_001);
  assert.equal(pooledBytes(), 0);
  releasePiece(Buffer.allocUnsafeSlow(1024));
  releasePiece(Buffer.allocUnsafe(64 * 1024 + 8).subarray(8));
  assert.equal(pooledBytes(), 0);
});
