/**
 * The bin starts `update verify`'s hash from argv (src/cli/early-digest.ts): the package argument
 * is found only in an `update verify` command line, in both flag forms, never past `--`; the run
 * is handed over once, by the resolved path, and a run nobody took is stopped; a small file gets
 * none (the command hashes it). While the threads hash, the bin's own thread yields to them; the
 * I/O threads doing the reads do not.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  startEarlyDigest,
  stopEarlyDigests,
  takeEarlyDigest,
  verifyPackageArg,
} from '../../src/cli/early-digest.ts';
import { digestBytes } from '../../src/crypto/hash.ts';
import { WORKER_THRESHOLD } from '../../src/crypto/hash-stage.ts';
import { LAGGING_NICE } from '../../src/store/reader-threads.ts';
import { assertCode, packageBytes } from '../helpers/repo.ts';
import { threads } from '../helpers/threads.ts';

test('the package of an update verify command line, and nothing else', () => {
  const v = ['--home', 'h', 'update', 'verify'];
  assert.equal(verifyPackageArg([...v, '--package', 'p', '--version', '1.0.0']), 'p');
  assert.equal(verifyPackageArg([...v, '--version', '1.0.0', '--package=q']), 'q');
  assert.equal(verifyPackageArg([...v, '--', '--package', 'p']), undefined);
  assert.equal(verifyPackageArg(['update', 'download', '--package', 'p']), undefined);
  assert.equal(verifyPackageArg(['--package', 'p', 'update', 'verify']), undefined);
  assert.equal(verifyPackageArg([...v, '--package']), undefined);
});

test('the early run is taken once by its resolved path; one not taken is stopped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dchat-early-'));
  // Large enough for the reader threads; a small file is left to the command.
  const bytes = randomBytes(WORKER_THRESHOLD + 12_345);
  await writeFile(join(dir, 'pkg'), bytes);
  await writeFile(join(dir, 'small'), packageBytes('early', 300_000));
  assert.equal(startEarlyDigest(['update', 'verify', '--package', 'small'], dir), undefined);
  assert.equal(takeEarlyDigest(join(dir, 'small')), undefined);
  assert.equal(getPriority(0), 0, 'no threads, no change');
  startEarlyDigest(['update', 'verify', '--package', 'pkg'], dir);
  assert.equal(getPriority(0), LAGGING_NICE, 'this thread yields to the hashing');
  const io = threads().filter((t) => t.name === 'libuv-worker');
  assert.ok(io.length > 0, 'the I/O threads are started before');
  for (const t of io) assert.equal(t.nice, 0, 'the reads keep the normal priority');
  const run = takeEarlyDigest(join(dir, 'pkg'));
  assert.ok(run);
  assert.deepEqual(await run.result, digestBytes(bytes));
  assert.equal(takeEarlyDigest(join(dir, 'pkg')), undefined, 'handed over once');

  const left = startEarlyDigest(['update', 'verify', '--package', 'pkg'], dir);
  stopEarlyDigests();
  assert.equal(takeEarlyDigest(join(dir, 'pkg')), undefined);
  await assertCode(() => left?.result ?? Promise.resolve(), 'E_ABORTED');
});
