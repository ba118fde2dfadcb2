/** store/write-at.ts: all of the data lands at its position, on the pool or on this thread. */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeFullAt, writeFullAtSync } from '../../src/store/write-at.ts';

test('writeFullAt and writeFullAtSync: each piece at its position, holes zero', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dchat-write-at-'));
  try {
    for (const how of ['pool', 'sync'] as const) {
      const file = join(dir, how);
      const fd = openSync(file, 'w');
      try {
        const write = (b: Buffer, pos: number) =>
          how === 'pool' ? writeFullAt(fd, b, pos) : writeFullAtSync(fd, b, pos);
        await write(Buffer.alloc(2 * 1024 * 1024, 7), 100);
        await write(Buffer.from('abc'), 10);
        await write(Buffer.alloc(0), 5);
      } finally {
        closeSync(fd);
      }
      const got = readFileSync(file);
      assert.equal(got.length, 100 + 2 * 1024 * 1024, how);
      assert.deepEqual(got.subarray(0, 13), Buffer.from([...Buffer.alloc(10), ...Buffer.from('abc')]), how);
      assert.ok(
        got.subarray(13, 100).every((b) => b === 0),
        how,
      );
      assert.ok(
        got.subarray(100).every((b) => b === 7),
        how,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
