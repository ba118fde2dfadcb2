/** store/read-at.ts: a positioned read fills the buffer unless the file ends, by handle or descriptor. */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readFullAt, readFullAtSync } from '../../src/store/read-at.ts';

test('readFullAt and readFullAtSync: the bytes at a position, and how many the file had', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dchat-read-at-'));
  try {
    const file = join(dir, 'f');
    const data = Buffer.from(Array.from({ length: 3000 }, (_, k) => k & 0xff));
    writeFileSync(file, data);
    const fd = openSync(file, 'r');
    const fh = await open(file, 'r');
    try {
      for (const [pos, len] of [
        [0, 3000],
        [100, 500],
        [2900, 500],
        [3000, 10],
      ] as const) {
        const want = data.subarray(pos, pos + len);
        const buf = Buffer.alloc(len);
        const reads: [string, () => Promise<number> | number][] = [
          ['handle', () => readFullAt(fh, buf, pos)],
          ['descriptor', () => readFullAt(fd, buf, pos)],
          ['sync', () => readFullAtSync(fd, buf, pos)],
        ];
        for (const [how, read] of reads) {
          buf.fill(0xee);
          assert.equal(await read(), want.length, `${how} at ${pos}`);
          assert.deepEqual(buf.subarray(0, want.length), want, `${how} at ${pos}`);
          // Past the file's end the buffer is left as it was.
          assert.ok(
            buf.subarray(want.length).every((b) => b === 0xee),
            `${how} at ${pos}`,
          );
        }
      }
    } finally {
      closeSync(fd);
      await fh.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
