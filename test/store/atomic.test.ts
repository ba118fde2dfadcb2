/**
 * Crash-safe writes (src/store/atomic.ts) in a running process: complete content or the old
 * content at the final path, never a leftover temp file after success or failure, modes kept,
 * concurrent writers never interleave, and sweepTemp removes exactly the temp files it should.
 * The kill -9 half of the story is kill9.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DchatError } from '../../src/errors.ts';
import {
  commitFile,
  copyFileAtomic,
  linkFileAtomic,
  sweepTemp,
  TEMP_MARK,
  tempPathFor,
  writeFileAtomic,
} from '../../src/store/atomic.ts';
import { makeTempDir, packageBytes } from '../helpers/repo.ts';

let dir: { path: string; cleanup(): Promise<void> };
before(async () => {
  dir = await makeTempDir('dchat-atomic-');
});
after(() => dir.cleanup());

async function temps(d: string): Promise<string[]> {
  return (await readdir(d)).filter((n) => n.includes(TEMP_MARK));
}

describe('writeFileAtomic', () => {
  test('creates parent directories, writes the bytes, leaves no temp file', async () => {
    const p = join(dir.path, 'w1', 'deep', 'file.json');
    await writeFileAtomic(p, '{"a":1}\n');
    assert.equal(await readFile(p, 'utf8'), '{"a":1}\n');
    assert.deepEqual(await temps(dirname(p)), []);
  });

  test('replaces an existing file whole, and keeps the requested mode (0600 for keys)', async () => {
    const p = join(dir.path, 'w2', 'secret');
    await writeFileAtomic(p, 'old old old old', { mode: 0o600 });
    const big = packageBytes('w2', 3 * 1024 * 1024 + 17);
    await writeFileAtomic(p, big, { mode: 0o600 });
    assert.ok((await readFile(p)).equals(big));
    assert.equal((await stat(p)).mode & 0o777, 0o600);
  });

  test('a failed write throws E_IO, keeps the old file and leaves no temp file', async () => {
    const d = join(dir.path, 'w3');
    await mkdir(join(d, 'is-a-dir'), { recursive: true });
    await writeFile(join(d, 'is-a-dir', 'x'), 'keep');
    await assert.rejects(writeFileAtomic(join(d, 'is-a-dir'), 'data'), (e: unknown) => {
      assert.ok(e instanceof DchatError);
      assert.equal(e.code, 'E_IO');
      return true;
    });
    assert.equal(await readFile(join(d, 'is-a-dir', 'x'), 'utf8'), 'keep');
    assert.deepEqual(await temps(d), []);
  });

  test('20 concurrent writers to one path: the result is exactly one of them, no temp file left', async () => {
    const p = join(dir.path, 'w4', 'contended');
    const versions = Array.from({ length: 20 }, (_, i) => packageBytes(`w4-${i}`, 100_000 + i * 1000));
    await Promise.all(versions.map((v) => writeFileAtomic(p, v)));
    const final = await readFile(p);
    assert.ok(
      versions.some((v) => v.equals(final)),
      'final content is none of the writes (interleaved?)',
    );
    assert.deepEqual(await temps(dirname(p)), []);
  });
});

describe('copyFileAtomic, linkFileAtomic, commitFile', () => {
  test('copyFileAtomic copies a file larger than its buffer byte for byte, with the mode asked', async () => {
    const src = join(dir.path, 'c-src');
    const bytes = packageBytes('copy', 9 * 1024 * 1024 + 3);
    await writeFile(src, bytes);
    const dst = join(dir.path, 'c', 'dst');
    await copyFileAtomic(src, dst, 0o640);
    assert.ok((await readFile(dst)).equals(bytes));
    assert.equal((await stat(dst)).mode & 0o777, 0o640);
    assert.deepEqual(await temps(dirname(dst)), []);
  });

  test('linkFileAtomic links the same file (same inode) and replaces what was there', async () => {
    const src = join(dir.path, 'l-src');
    await writeFile(src, 'linked');
    const dst = join(dir.path, 'l', 'dst');
    await mkdir(dirname(dst), { recursive: true });
    await writeFile(dst, 'previous');
    await linkFileAtomic(src, dst);
    assert.equal(await readFile(dst, 'utf8'), 'linked');
    assert.equal((await stat(dst)).ino, (await stat(src)).ino);
    assert.deepEqual(await temps(dirname(dst)), []);
  });

  test('commitFile moves a finished temp file to its final name', async () => {
    const final = join(dir.path, 'm', 'final');
    const tmp = tempPathFor(final);
    await mkdir(dirname(final), { recursive: true });
    await writeFile(tmp, 'done');
    await commitFile(tmp, final);
    assert.equal(await readFile(final, 'utf8'), 'done');
    assert.deepEqual(await temps(dirname(final)), []);
  });

  test('tempPathFor: same directory, hidden, marked, unique', () => {
    const final = join(dir.path, 'x', 'name.json');
    const a = tempPathFor(final);
    const b = tempPathFor(final);
    assert.equal(dirname(a), dirname(final));
    assert.ok(
      basename(a).startsWith('.name.json') && a.includes(TEMP_MARK) && a.includes(String(process.pid)),
    );
    assert.notEqual(a, b);
  });
});

describe('sweepTemp', () => {
  test('removes hidden temp files only, older than minAgeMs, and counts them', async () => {
    const d = join(dir.path, 's');
    await mkdir(d, { recursive: true });
    const old = tempPathFor(join(d, 'a.json'));
    const fresh = tempPathFor(join(d, 'b.json'));
    const keep = ['a.json', 'not-hidden.tmp-1', '.hidden', '.b.json.tmp', 'c.json'];
    for (const n of keep) await writeFile(join(d, n), n);
    await writeFile(old, 'partial');
    await writeFile(fresh, 'partial');
    const hourAgo = new Date(Date.now() - 3600_000);
    await utimes(old, hourAgo, hourAgo);

    assert.equal(await sweepTemp(d, 60_000), 1, 'only the old temp file is past the age');
    assert.deepEqual((await readdir(d)).sort(), [...keep, basename(fresh)].sort());
    assert.equal(await sweepTemp(d), 1);
    assert.deepEqual((await readdir(d)).sort(), [...keep].sort());
    assert.equal(await sweepTemp(d), 0);
    assert.equal(await sweepTemp(join(d, 'missing')), 0);
  });
});
