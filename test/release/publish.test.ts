/**
 * Release-side rules beyond the TUF checks: a published version is immutable, and a key rotation
 * drops dchat-sign signatures made by retired keys (the new targets keys vouch instead), so
 * verification keeps working for every target after a rotation.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { initRepository, publishRelease, rotateKeys } from '../../src/release/publish.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import { digestFile } from '../../src/store/file-digest.ts';
import { checkPackage, findPackage, listPackages } from '../../src/trust/package-check.ts';
import { buildStatement, signStatement } from '../../src/trust/statement.ts';
import { updateTrust } from '../../src/trust/updater.ts';
import { assertCode, InMemoryTrustStore, makeKeys, makeTempDir, packageBytes } from '../helpers/repo.ts';

test('re-publishing a version with other bytes is refused; the same bytes are accepted', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = tmp.path;
  const [k] = makeKeys(1);
  const now = new Date();
  const repo = join(dir, 'repo');
  await initRepository({ dir: repo, keys: [k!], threshold: 1, now });
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  await writeFile(a, packageBytes('a', 70_000));
  await writeFile(b, packageBytes('b', 70_000));
  await publishRelease({
    dir: repo,
    packagePath: a,
    version: '1.0.0',
    platform: 'linux-x64',
    keys: [k!],
    now,
  });
  await assertCode(
    () =>
      publishRelease({ dir: repo, packagePath: b, version: '1.0.0', platform: 'linux-x64', keys: [k!], now }),
    'E_USAGE',
  );
  const again = await publishRelease({
    dir: repo,
    packagePath: a,
    version: '1.0.0',
    platform: 'linux-x64',
    keys: [k!],
    now,
  });
  assert.equal(again.repo.targets.signed.version, 3);
});

test('rotation drops dchat-sign signatures of retired keys; packages still verify under the new root', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = tmp.path;
  const [oldKey, newKey] = makeKeys(2);
  const now = new Date();
  const repo = join(dir, 'repo');
  await initRepository({ dir: repo, keys: [oldKey!], threshold: 1, now });
  const pkg = join(dir, 'dchat-1.0.0-linux-x64');
  const bytes = packageBytes('pkg', 100_000);
  await writeFile(pkg, bytes);
  const d = await digestFile(pkg);
  const sig = join(dir, 'pkg.sig');
  await writeFile(
    sig,
    JSON.stringify(signStatement(oldKey!.privateKey, buildStatement('1.0.0', 'linux-x64', d))),
  );
  await publishRelease({
    dir: repo,
    packagePath: pkg,
    version: '1.0.0',
    platform: 'linux-x64',
    keys: [oldKey!],
    now,
    sigPath: sig,
  });
  const store = new InMemoryTrustStore();
  await store.save('root', await readFile(join(repo, 'root.json')));
  const before = await updateTrust(store, new DirectoryFetcher(repo), now);
  const t1 = findPackage(before.trusted.requireTargets(), '1.0.0', 'linux-x64');
  assert.ok(t1.custom.signature, 'signed by the release key before the rotation');
  assert.equal(checkPackage(t1, d, before.trusted.root.signed).ok, true);

  const rotated = await rotateKeys({ dir: repo, oldKeys: [oldKey!], newKeys: [newKey!], threshold: 1, now });
  assert.deepEqual(rotated.droppedSignatures, ['dchat-1.0.0-linux-x64']);
  const after = await updateTrust(store, new DirectoryFetcher(repo), now);
  assert.deepEqual(after.rootsApplied, [2]);
  const t2 = findPackage(after.trusted.requireTargets(), '1.0.0', 'linux-x64');
  assert.equal(t2.custom.signature, undefined);
  const verdict = checkPackage(
    t2,
    d,
    after.trusted.root.signed,
    listPackages(after.trusted.requireTargets()),
  );
  assert.equal(verdict.ok, true, verdict.message);
});
