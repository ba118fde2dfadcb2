/**
 * encoded/ (store/encoded.ts): files kept for peers are moved in with their chunk table, listed,
 * and pruned to the keep-N of releases like installed versions (both the file and its table go;
 * a file the metadata does not list yet stays).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  encodedFile,
  encodedTableFile,
  keepEncoded,
  listKeptEncoded,
  pruneEncoded,
} from '../../src/store/encoded.ts';
import { homePaths } from '../../src/store/home.ts';
import {
  chunkTableOf,
  encodedTarget,
  makeKeys,
  makeRepo,
  packageBytes,
  publish,
  targetFor,
} from '../helpers/repo.ts';

test('kept encoded files: kept with their table, listed, pruned to keep-N releases', async () => {
  const home = await mkdtemp(join(tmpdir(), 'dchat-encoded-'));
  const paths = homePaths(home);
  const [a, b, c] = ['1.0.0', '1.1.0', '1.2.0'].map((v) => targetFor(packageBytes(v, 3000), v, 'linux-x64'));
  if (!a || !b || !c) throw new Error('unreachable');
  const bytes = (seed: string) => packageBytes(seed, 400);
  const toB = encodedTarget(bytes('b'), 'bsdiff-best', b.path, a.path, '1.0.0');
  const toC = encodedTarget(bytes('c'), 'bsdiff-best', c.path, b.path, '1.1.0');
  const later = 'dchat-1.3.0-linux-x64.from-1.2.0.bsdb';
  for (const [name, seed] of [
    [toB.path, 'b'],
    [toC.path, 'c'],
    [later, 'l'],
  ] as const) {
    const f = join(home, `incoming-${seed}`);
    await writeFile(f, bytes(seed));
    await keepEncoded(paths, f, name, chunkTableOf(bytes(seed)));
  }
  assert.deepEqual((await listKeptEncoded(paths)).sort(), [toB.path, toC.path, later].sort());
  const targets = publish(makeRepo({ keys: makeKeys(1) }), [a, b, c, toB, toC]).repo.targets;
  assert.deepEqual(await pruneEncoded(paths, targets, 2), []);
  assert.deepEqual(await pruneEncoded(paths, targets, 1), [toB.path]);
  assert.equal(existsSync(encodedFile(paths, toB.path)), false);
  assert.equal(existsSync(encodedTableFile(paths, toB.path)), false, 'its chunk table goes with it');
  assert.deepEqual((await listKeptEncoded(paths)).sort(), [toC.path, later].sort());
});
