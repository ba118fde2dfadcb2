/**
 * Release-side rules beyond the TUF checks: a published version is immutable, and a key rotation
 * drops dchat-sign signatures made by retired keys (the new targets keys vouch instead), so
 * verification keeps working for every target after a rotation.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import type { DchatError } from '../../src/errors.ts';
import { initRepository, publishRelease, rotateKeys } from '../../src/release/publish.ts';
import { announcedTargetsBytes } from '../../src/release/targets-retention.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import { digestFile } from '../../src/store/file-digest.ts';
import type { SigningKey } from '../../src/trust/keys.ts';
import { serializeMetadata } from '../../src/trust/metadata.ts';
import { checkPackage, findPackage, listPackages } from '../../src/trust/package-check.ts';
import { buildStatement, signStatement } from '../../src/trust/statement.ts';
import { updateTrust } from '../../src/trust/updater.ts';
import { assertCode, InMemoryTrustStore, makeKeys, makeTempDir, packageBytes } from '../helpers/repo.ts';
import { textish } from '../helpers/textish.ts';
import { requireTool } from '../helpers/tools.ts';

test('re-publishing a version with other bytes is refused; the same bytes are accepted', async (t) => {
  const { tmp, k, now, repo } = await freshRepo(t);
  const dir = tmp.path;
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  await writeFile(a, packageBytes('a', 70_000));
  await writeFile(b, packageBytes('b', 70_000));
  await publishRelease({
    dir: repo,
    packagePath: a,
    version: '1.0.0',
    platform: 'linux-x64',
    keys: [k],
    now,
  });
  await assertCode(
    () =>
      publishRelease({ dir: repo, packagePath: b, version: '1.0.0', platform: 'linux-x64', keys: [k], now }),
    'E_USAGE',
  );
  const again = await publishRelease({
    dir: repo,
    packagePath: a,
    version: '1.0.0',
    platform: 'linux-x64',
    keys: [k],
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

/** A new repository (one key, threshold 1) in a temporary directory removed after the test. */
async function freshRepo(t: TestContext) {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const [k] = makeKeys(1);
  const now = new Date();
  const repo = join(tmp.path, 'repo');
  await initRepository({ dir: repo, keys: [k as SigningKey], threshold: 1, now });
  return { tmp, k: k as SigningKey, now, repo };
}

test('keep-releases: the targets list the newest N per platform, from the flag or release.toml; files stay', async (t) => {
  const { tmp, k, now, repo } = await freshRepo(t);
  const publish = async (version: string, o: { keepReleases?: number; platform?: string } = {}) => {
    const file = join(tmp.path, `p-${version}`);
    await writeFile(file, packageBytes(version, 5_000));
    return publishRelease({
      dir: repo,
      packagePath: file,
      version,
      platform: 'linux-x64',
      keys: [k],
      now,
      ...o,
    });
  };
  await publish('1.0.0');
  await publish('1.0.1');
  await publish('1.0.0', { platform: 'linux-arm64' });
  const r = await publish('1.0.2', { keepReleases: 2 });
  assert.deepEqual(r.removed, ['dchat-1.0.0-linux-x64']);
  assert.deepEqual(Object.keys(r.repo.targets.signed.targets).sort(), [
    'dchat-1.0.0-linux-arm64',
    'dchat-1.0.1-linux-x64',
    'dchat-1.0.2-linux-x64',
  ]);
  // The left-out package's file stays on the mirror; the sums follow the signed targets.
  await readFile(join(repo, 'packages', 'dchat-1.0.0-linux-x64'));
  assert.doesNotMatch(await readFile(join(repo, 'SHA256SUMS'), 'utf8'), /dchat-1\.0\.0-linux-x64/);

  await writeFile(join(repo, 'release.toml'), '[targets]\nkeep_releases = 1\n');
  const fromConfig = await publish('1.0.3');
  assert.deepEqual(fromConfig.removed, ['dchat-1.0.1-linux-x64', 'dchat-1.0.2-linux-x64']);
  // The flag wins over the file; 0 keeps every release.
  assert.deepEqual((await publish('1.0.4', { keepReleases: 0 })).removed, []);
  await writeFile(join(repo, 'release.toml'), '[targets]\nkeep_releases = -1\n');
  await assertCode(() => publish('1.0.5'), 'E_CONFIG');
  await writeFile(join(repo, 'release.toml'), 'targets = 3\n');
  await assertCode(() => publish('1.0.5'), 'E_CONFIG');
});

test('a targets document too large for a gossip announcement is refused before anything is written', async (t) => {
  const { tmp, k, now, repo } = await freshRepo(t);
  // Long release notes URLs make each target about 3 KB: some tens of releases fill the budget.
  const notes = `https://example.org/${'n'.repeat(1900)}`;
  const publish = (i: number, keepReleases?: number) =>
    writeFile(join(tmp.path, 'p'), packageBytes(String(i), 2_000)).then(() =>
      publishRelease({
        dir: repo,
        packagePath: join(tmp.path, 'p'),
        version: `1.0.${i}`,
        platform: 'linux-x64',
        keys: [k],
        now,
        releaseNotesUrl: notes,
        ...(keepReleases !== undefined ? { keepReleases } : {}),
      }),
    );
  let i = 0;
  let refused: DchatError | undefined;
  for (; i < 200 && !refused; i++) {
    const before = await readdir(join(repo, 'metadata'));
    try {
      await publish(i);
    } catch (err) {
      refused = err as DchatError;
      // Nothing of the refused release was written: no metadata, no package.
      assert.deepEqual(await readdir(join(repo, 'metadata')), before);
      await assert.rejects(readFile(join(repo, 'packages', `dchat-1.0.${i}-linux-x64`)));
    }
  }
  assert.equal(refused?.code, 'E_TOO_LARGE');
  assert.match(refused?.message ?? '', /gossip announcement.*--keep-releases/);
  assert.ok(i > 20, `refused after ${i} releases`);
  // Keeping the last 10 releases, the same release goes out.
  const r = await publish(i - 1, 10);
  assert.equal(Object.keys(r.repo.targets.signed.targets).length, 10);
  assert.ok(serializeMetadata(r.repo.targets).length <= announcedTargetsBytes);
});

test('release.toml [delta] from_last: patches from the last releases unless --delta-from says otherwise', {
  skip: requireTool('bsdiff') || requireTool('bzip2'),
}, async (t) => {
  const { tmp, k, now, repo } = await freshRepo(t);
  const old = textish(1, 300_000);
  const versions: [string, Buffer][] = [
    ['1.0.0', old],
    ['1.0.1', Buffer.concat([old.subarray(0, 100_000), textish(2, 3_000), old.subarray(100_000)])],
    ['1.0.2', Buffer.concat([old.subarray(0, 200_000), textish(3, 3_000), old.subarray(200_000)])],
  ];
  const publish = async ([version, bytes]: [string, Buffer], deltaFrom?: string) => {
    const file = join(tmp.path, `p-${version}`);
    await writeFile(file, bytes);
    const o = { dir: repo, packagePath: file, version, platform: 'linux-x64', keys: [k], now };
    return publishRelease(deltaFrom === undefined ? o : { ...o, deltaFrom });
  };
  await publish(versions[0] as [string, Buffer]);
  await writeFile(join(repo, 'release.toml'), '[delta]\nfrom_last = 1\n');
  const patched = await publish(versions[1] as [string, Buffer]);
  assert.deepEqual(
    patched.deltas.filter((d) => d.from).map((d) => d.from),
    ['dchat-1.0.0-linux-x64'],
  );
  // The flag wins over the file.
  assert.deepEqual((await publish(versions[2] as [string, Buffer], 'none')).deltas, []);
});
