/**
 * A publish cleans the temp files a killed publish left in the mirror directory (store/atomic.ts
 * sweepDeadTemp): those of dead writers go, a live writer's stay.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeNewKeyPair } from '../../src/release/key-files.ts';
import { initRepository, publishRelease } from '../../src/release/publish.ts';
import { TEMP_MARK } from '../../src/store/atomic.ts';
import { makeTempDir, packageBytes } from '../helpers/repo.ts';

let dir: { path: string; cleanup(): Promise<void> };
before(async () => {
  dir = await makeTempDir('dchat-temp-sweep-');
});
after(() => dir.cleanup());

test("publish removes a killed publish's partial package, keeps a live writer's temp file", async () => {
  const repo = join(dir.path, 'repo');
  const key = await writeNewKeyPair(join(dir.path, 'k.key'));
  await initRepository({ dir: repo, keys: [key], threshold: 1, now: new Date() });
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  const stale = join(repo, 'targets', `.abc.dchat-1.0.0-linux-x64${TEMP_MARK}${dead}-deadbeef`);
  const live = join(repo, 'targets', `.abc.dchat-1.0.0-linux-x64${TEMP_MARK}${process.pid}-0badf00d`);
  writeFileSync(stale, Buffer.alloc(64 * 1024));
  writeFileSync(live, Buffer.alloc(16));
  const pkg = join(dir.path, 'dchat-1.0.0-linux-x64');
  writeFileSync(pkg, packageBytes('sweep', 5000));
  await publishRelease({
    dir: repo,
    packagePath: pkg,
    version: '1.0.0',
    platform: 'linux-x64',
    keys: [key],
    now: new Date(),
  } as Parameters<typeof publishRelease>[0]);
  assert.equal(existsSync(stale), false, 'the dead writer temp file is gone');
  assert.equal(existsSync(live), true, 'a live writer temp file is kept');
});
