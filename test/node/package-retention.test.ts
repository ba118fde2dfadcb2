/**
 * Keep-N of a node's packages/ (src/node/package-retention.ts) on real verified packages: beyond
 * `keep` newest per platform, a package goes with its sidecars and leaves the store's index (never
 * served again); protected versions (running, approved, just asked for) stay whatever their age.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { trustOffline, trustUpdate } from '../../src/download/trust-session.ts';
import { prunePackages } from '../../src/node/package-retention.ts';
import { PackageStore } from '../../src/node/package-store.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import { homePaths } from '../../src/store/home.ts';
import { trustInit } from '../../src/testnet/harness.ts';
import { prepareReleases } from '../../src/testnet/release.ts';

const PLATFORM = 'linux-x64';

test('packages beyond keep-N go with their sidecars; protected versions stay', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dchat-retention-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const versions = ['1.0.0', '1.1.0', '1.2.0', '1.3.0', '1.4.0'];
  const rels = await prepareReleases({
    dir: join(dir, 'release'),
    versions,
    platform: PLATFORM,
    packageBytes: 5 * 16 * 1024 + 7,
    chunkSize: 16 * 1024,
    now: new Date(),
  });
  const repoDir = rels.at(-1)?.repoDir as string;
  const paths = homePaths(join(dir, 'home'));
  await trustInit(paths, await readFile(join(repoDir, 'root.json')), new Date());
  await trustUpdate(paths, new DirectoryFetcher(repoDir), new Date());
  await mkdir(paths.packagesDir, { recursive: true });
  for (const r of rels) await copyFile(r.packageFile, paths.packageFile(r.version, PLATFORM));
  const store = new PackageStore(paths);
  assert.equal((await store.scan(await trustOffline(paths, new Date()))).length, 5);
  for (const v of versions)
    assert.ok(existsSync(paths.chunkTableFile(v, PLATFORM)), 'the scan wrote sidecars');

  // Keep 3: the two newest and the protected 1.0.0 (it counts towards the three, as for versions/).
  const gone = await prunePackages({ paths, store, keep: 3, protect: ['1.0.0'] });
  assert.deepEqual(gone.sort(), [`dchat-1.1.0-${PLATFORM}`, `dchat-1.2.0-${PLATFORM}`]);
  for (const v of ['1.1.0', '1.2.0']) {
    assert.equal(existsSync(paths.packageFile(v, PLATFORM)), false);
    assert.equal(existsSync(paths.chunkTableFile(v, PLATFORM)), false);
    assert.equal(existsSync(paths.targetFile(v, PLATFORM)), false);
  }
  assert.deepEqual(
    store
      .list()
      .map((p) => p.target.custom.version)
      .sort(),
    ['1.0.0', '1.3.0', '1.4.0'],
  );
  for (const v of ['1.0.0', '1.3.0', '1.4.0']) assert.ok(existsSync(paths.packageFile(v, PLATFORM)));
  // Nothing more to do at the same keep; a larger keep never brings anything back or removes more.
  assert.deepEqual(await prunePackages({ paths, store, keep: 3, protect: ['1.0.0'] }), []);
  assert.deepEqual(await prunePackages({ paths, store, keep: 10, protect: [] }), []);
});
