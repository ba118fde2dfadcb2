/**
 * The bin starts `update verify`'s hash from argv (src/cli/early-digest.ts): the package argument
 * is found only in an `update verify` command line, in both flag forms, never past `--`; the run
 * is handed over once, by the resolved path, and a run nobody took is stopped.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  startEarlyDigest,
  stopEarlyDigests,
  takeEarlyDigest,
  verifyPackageArg,
} from '../../src/cli/early-digest.ts';
import { digestBytes } from '../../src/crypto/hash.ts';
import { assertCode, packageBytes } from '../helpers/repo.ts';

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
  const bytes = packageBytes('early', 300_000);
  await writeFile(join(dir, 'pkg'), bytes);
  startEarlyDigest(['update', 'verify', '--package', 'pkg'], dir);
  const run = takeEarlyDigest(join(dir, 'pkg'));
  assert.ok(run);
  assert.deepEqual(await run.result, digestBytes(bytes));
  assert.equal(takeEarlyDigest(join(dir, 'pkg')), undefined, 'handed over once');

  const left = startEarlyDigest(['update', 'verify', '--package', 'pkg'], dir);
  stopEarlyDigests();
  assert.equal(takeEarlyDigest(join(dir, 'pkg')), undefined);
  await assertCode(() => left?.result ?? Promise.resolve(), 'E_ABORTED');
});
