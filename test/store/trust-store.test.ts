/**
 * The home's trust store (store/trust-store.ts): a home written before the one-set file (one file
 * per role in trust/) keeps working, offline verify included, and the first write migrates it to
 * trust/trusted-set.json; a damaged set file is E_MALFORMED, never silently an empty trust.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import { homePaths } from '../../src/store/home.ts';
import { FileTrustStore } from '../../src/store/trust-store.ts';
import { loadTrustOffline, updateTrust } from '../../src/trust/updater.ts';
import { assertCode, makeTempDir } from '../helpers/repo.ts';
import { setVersions, type TrustStates, writeTrustStates } from '../helpers/trust-states.ts';

let dir: { path: string; cleanup(): Promise<void> };
let states: TrustStates;
before(async () => {
  dir = await makeTempDir('dchat-trust-store-');
  states = writeTrustStates(dir.path, 3);
});
after(() => dir.cleanup());

test('an older home (one file per role) is read as the set and migrated by the first commit', async () => {
  const paths = homePaths(join(dir.path, 'old-home'));
  mkdirSync(paths.trustDir, { recursive: true });
  const md = join(states.dirs[2]!, 'metadata');
  writeFileSync(paths.trustFile('root'), states.root);
  writeFileSync(paths.trustFile('timestamp'), readFileSync(join(md, 'timestamp.json')));
  writeFileSync(paths.trustFile('snapshot'), readFileSync(join(md, '2.snapshot.json')));
  writeFileSync(paths.trustFile('targets'), readFileSync(join(md, '2.targets.json')));
  const store = new FileTrustStore(paths);
  assert.equal(setVersions(await store.loadSet()).ts, 2);
  assert.equal((await loadTrustOffline(store, new Date())).timestamp?.signed.version, 2);
  // Nothing new: nothing written.
  await updateTrust(store, new DirectoryFetcher(states.dirs[2]!), new Date());
  assert.equal(existsSync(paths.trustSetFile), false);
  await updateTrust(store, new DirectoryFetcher(states.dirs[3]!), new Date());
  assert.equal(existsSync(paths.trustSetFile), true);
  for (const r of ['root', 'timestamp', 'snapshot', 'targets'] as const)
    assert.equal(existsSync(paths.trustFile(r)), false, `${r}.json migrated`);
  const v = setVersions(await store.loadSet());
  assert.deepEqual(v, { ts: 3, consistent: true });
  // A rollback to the old state is refused from the migrated set too.
  await assertCode(() => updateTrust(store, new DirectoryFetcher(states.dirs[2]!), new Date()), 'E_ROLLBACK');
});

test('a damaged set file is E_MALFORMED, not an empty trust', async () => {
  const paths = homePaths(join(dir.path, 'damaged'));
  const store = new FileTrustStore(paths);
  await store.pinRoot(states.root);
  writeFileSync(paths.trustSetFile, '{"format":"dchat-trusted-set/1","root":"not base64!"}');
  await assertCode(() => store.loadSet(), 'E_MALFORMED');
  writeFileSync(paths.trustSetFile, '{"format":"dchat-trus');
  await assertCode(() => store.loadSet(), 'E_MALFORMED');
});
