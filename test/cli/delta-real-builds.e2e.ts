/**
 * Delta updates between two real dchat builds (issue 14): `release build` of this checkout as
 * 1.0.0 and 1.1.0 (132 MB single-executable binaries), 1.1.0 published with `--delta-from 1.0.0`
 * into a repository served by the loopback static mirror, and a home that runs 1.0.0 downloading
 * 1.1.0: it fetches the patch, not the package, and ends with the signed 1.1.0 verified. Prints
 * the bytes the patch saved. (Builds that large skip bsdiff: release/delta.ts BSDIFF_MAX_BYTES.)
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { sha256Hex } from '../../src/crypto/hash.ts';
import { BSDIFF_MAX_BYTES } from '../../src/release/delta.ts';
import { publishRelease } from '../../src/release/publish.ts';
import { ndjson, runDchat } from '../download/fixture.ts';
import {
  homeWithVersions,
  PLATFORM,
  type ReleaseRepo,
  releaseBuild,
  releaseRepo,
} from '../helpers/release-builds.ts';

let repo: ReleaseRepo | undefined;
after(() => repo?.close());

test('a home running build 1.0.0 downloads build 1.1.0 as a patch and ends verified', async (t) => {
  const v1 = await releaseBuild('1.0.0');
  const v2 = await releaseBuild('1.1.0');
  const size = statSync(v2).size;
  assert.ok(size > BSDIFF_MAX_BYTES, `a real build is ${size} bytes`);
  repo = await releaseRepo([{ version: '1.0.0', file: v1 }]);
  const pub = await publishRelease({
    dir: repo.dir,
    packagePath: v2,
    version: '1.1.0',
    platform: PLATFORM,
    keys: repo.keys,
    now: new Date(),
    deltaFrom: '1.0.0',
  });
  const patch = pub.deltas.find((d) => d.from !== undefined);
  assert.ok(patch?.published, `no patch published: ${JSON.stringify(pub.deltas)}`);
  assert.equal(patch.algorithm, 'zstd-patch-from');
  // bsdiff was not run on a build this large (it would need over 2 GiB).
  assert.match(String(patch.tried.find((x) => x.algorithm === 'bsdiff-best')?.error), /skipped/);

  const home = await homeWithVersions(repo, ['1.0.0']);
  const r = await runDchat([
    '--home',
    home,
    'update',
    'download',
    '--version',
    '1.1.0',
    '--platform',
    PLATFORM,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const res = ndjson(r.stdout).at(-1) as Record<string, unknown>;
  const delta = res.delta as { used: boolean; algorithm: string; bytes: number; saved_bytes: number };
  assert.equal(delta.used, true, r.stdout);
  assert.equal(delta.algorithm, 'zstd-patch-from');
  assert.equal(delta.saved_bytes, size - delta.bytes);
  assert.equal(res.fetched_bytes, delta.bytes);
  assert.ok(delta.bytes < size / 10, `patch of ${delta.bytes} bytes for a ${size}-byte build`);
  const installed = join(home, 'packages', `dchat-1.1.0-${PLATFORM}`);
  assert.equal(sha256Hex(readFileSync(installed)), sha256Hex(readFileSync(v2)));
  const v = await runDchat([
    '--home',
    home,
    'update',
    'verify',
    '--package',
    installed,
    '--version',
    '1.1.0',
  ]);
  assert.equal(v.code, 0, v.stderr);
  t.diagnostic(
    `1.0.0 -> 1.1.0 (${size} bytes): fetched a ${delta.bytes}-byte patch, saved ${delta.saved_bytes} bytes (${((100 * delta.saved_bytes) / size).toFixed(2)}%)`,
  );
});
