/**
 * The home lock (store/lock.ts): one holder at a time, a waiting writer gives up with E_BUSY
 * naming the holder after its bound, a lock left by a dead process is taken over at once, and a
 * lock file we cannot read is never taken as stale before it is clearly abandoned.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { homePaths } from '../../src/store/home.ts';
import { lockFile, withHomeLock } from '../../src/store/lock.ts';
import { assertCode, makeTempDir } from '../helpers/repo.ts';

let dir: { path: string; cleanup(): Promise<void> };
before(async () => {
  dir = await makeTempDir('dchat-lock-');
});
after(() => dir.cleanup());

test('one holder at a time; a waiter past its bound fails E_BUSY naming the holder', async () => {
  const paths = homePaths(join(dir.path, 'a'));
  let inside = 0;
  let most = 0;
  const work = () =>
    withHomeLock(paths, 'mirrors', async () => {
      inside++;
      most = Math.max(most, inside);
      await new Promise((r) => setTimeout(r, 5));
      inside--;
    });
  await Promise.all(Array.from({ length: 10 }, work));
  assert.equal(most, 1);
  assert.equal(existsSync(lockFile(paths, 'mirrors')), false, 'released');

  let release!: () => void;
  const held = withHomeLock(paths, 'trust', () => new Promise<void>((r) => (release = r)));
  await new Promise((r) => setTimeout(r, 20));
  const t0 = Date.now();
  const e = await assertCode(() => withHomeLock(paths, 'trust', async () => {}, { waitMs: 200 }), 'E_BUSY');
  assert.ok(Date.now() - t0 < 2000);
  assert.match(e.message, new RegExp(`held by another dchat process \\(pid ${process.pid}\\)`));
  // Other kinds of state are not blocked by it.
  await withHomeLock(paths, 'mirrors', async () => {}, { waitMs: 200 });
  release();
  await held;
  await withHomeLock(paths, 'trust', async () => {}, { waitMs: 200 });
});

test('a lock left by a dead process is taken over at once; an unreadable one is not', async () => {
  const paths = homePaths(join(dir.path, 'b'));
  const file = lockFile(paths, 'trust');
  mkdirSync(join(file, '..'), { recursive: true });
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  writeFileSync(file, JSON.stringify({ pid: dead, start: '1', host: hostname(), nonce: 'dead' }));
  const t0 = Date.now();
  await withHomeLock(paths, 'trust', async () => {}, { waitMs: 5_000 });
  assert.ok(Date.now() - t0 < 2000, 'not waited out');
  writeFileSync(file, 'something else wrote this');
  await assertCode(() => withHomeLock(paths, 'trust', async () => {}, { waitMs: 100 }), 'E_BUSY');
});
