/**
 * The node's package scan at start (src/node/package-store.ts) with digest stamps
 * (src/store/digest-stamps.ts): a package is hashed in full once and stamped; a later scan of the
 * unchanged file takes the stamp instead of hashing (shown by a forged stamp, which it believes),
 * while any change to the file (a rewrite, even of the same bytes), a damaged chunk table sidecar or
 * a malformed stamps file sends it back to the full hash.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sha256Hex } from '../../src/crypto/hash.ts';
import { trustOffline, trustUpdate } from '../../src/download/trust-session.ts';
import { PackageStore } from '../../src/node/package-store.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import {
  addStamp,
  fileIdentity,
  RACY_MS,
  readDigestStamps,
  stampedDigests,
  stampsFile,
  writeDigestStamps,
} from '../../src/store/digest-stamps.ts';
import { type HomePaths, homePaths } from '../../src/store/home.ts';
import { trustInit } from '../../src/testnet/harness.ts';
import { prepareReleases, type TestRelease } from '../../src/testnet/release.ts';

const PLATFORM = 'linux-x64';
/** Files just written are not stamped (RACY_MS): wait that long before a scan should stamp. */
const notRacy = () => sleep(RACY_MS + 50);
const NAME = `dchat-1.0.0-${PLATFORM}`;

describe('package scan with digest stamps', () => {
  let dir: string;
  let rel: TestRelease;
  let n = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dchat-pkgstore-'));
    [rel] = (await prepareReleases({
      dir: join(dir, 'release'),
      versions: ['1.0.0'],
      platform: PLATFORM,
      packageBytes: 40 * 16 * 1024 + 123,
      chunkSize: 16 * 1024,
      now: new Date(),
    })) as [TestRelease];
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const home = async (): Promise<HomePaths> => {
    const paths = homePaths(join(dir, `home-${n++}`));
    await trustInit(paths, await readFile(join(rel.repoDir, 'root.json')), new Date());
    await trustUpdate(paths, new DirectoryFetcher(rel.repoDir), new Date());
    await mkdir(paths.packagesDir, { recursive: true });
    await copyFile(rel.packageFile, paths.packageFile(rel.version, PLATFORM));
    await notRacy();
    return paths;
  };
  const scan = async (paths: HomePaths) =>
    new PackageStore(paths).scan(await trustOffline(paths, new Date()));

  test('hashed once and stamped; an unchanged file is taken on its stamp', async () => {
    const paths = await home();
    const file = paths.packageFile(rel.version, PLATFORM);
    assert.deepEqual(await readDigestStamps(paths), new Map());
    assert.deepEqual(await scan(paths), [NAME]);
    const stamps = await readDigestStamps(paths);
    const d = stampedDigests(stamps, await fileIdentity(file));
    assert.ok(d, 'no stamp for the scanned package');
    assert.equal(d.size, 40 * 16 * 1024 + 123);
    assert.equal(d.sha256, sha256Hex(await readFile(rel.packageFile)));
    assert.deepEqual(await scan(paths), [NAME]);

    // A stamp that vouches for other bytes is believed: proof the scan did not hash the file.
    const wrong = { ...d, sha256: 'ab'.repeat(32) };
    const forged = new Map();
    const id = await fileIdentity(file);
    assert.ok(addStamp(forged, id, id, wrong, Date.now()));
    await writeDigestStamps(paths, forged);
    assert.deepEqual(await scan(paths), [], 'a forged stamp was not used');
  });

  test('any change to the file, a bad sidecar or a malformed stamps file means a full hash', async () => {
    const paths = await home();
    const file = paths.packageFile(rel.version, PLATFORM);
    assert.deepEqual(await scan(paths), [NAME]);
    const good = await readFile(stampsFile(paths));

    // Same bytes written again: the identity (ctime, mtime) changed, so the stamp no longer holds.
    const forged = new Map();
    const id = await fileIdentity(file);
    assert.ok(
      addStamp(
        forged,
        id,
        id,
        { size: id.size, sha256: 'ab'.repeat(32), blake3: 'cd'.repeat(32) },
        Date.now(),
      ),
    );
    await writeDigestStamps(paths, forged);
    await writeFile(file, await readFile(rel.packageFile));
    assert.equal(stampedDigests(await readDigestStamps(paths), await fileIdentity(file)), undefined);
    assert.deepEqual(await scan(paths), [NAME], 'a rewritten file was not hashed again');
    // Just written: hashed but not stamped (racy); once it is old enough, stamped.
    assert.equal(stampedDigests(await readDigestStamps(paths), await fileIdentity(file)), undefined);
    await notRacy();
    assert.deepEqual(await scan(paths), [NAME]);
    assert.ok(stampedDigests(await readDigestStamps(paths), await fileIdentity(file)));

    // Bytes changed: hashed, rejected, not indexed.
    const bytes = await readFile(rel.packageFile);
    bytes[100] = (bytes[100] ?? 0) ^ 1;
    await writeFile(file, bytes);
    assert.deepEqual(await scan(paths), []);
    await writeFile(file, await readFile(rel.packageFile));
    assert.deepEqual(await scan(paths), [NAME]);

    // A damaged chunk table beside a stamped file: hashed again and the sidecar rewritten.
    const table = paths.chunkTableFile(rel.version, PLATFORM);
    const tableBytes = await readFile(table);
    await writeFile(table, '{"format":"dchat.chunks/1"}\n');
    assert.deepEqual(await scan(paths), [NAME]);
    assert.deepEqual(await readFile(table), tableBytes);

    // Garbage in the stamps file is no error: everything is hashed.
    for (const junk of [
      'not json',
      JSON.stringify({ format: 'other', files: {} }),
      good.toString().slice(0, 40),
    ]) {
      await writeFile(stampsFile(paths), junk);
      assert.deepEqual(await readDigestStamps(paths), new Map());
      assert.deepEqual(await scan(paths), [NAME]);
    }
  });
});
