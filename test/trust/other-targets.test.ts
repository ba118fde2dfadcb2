/**
 * A TUF repository may hold files that are not dchat packages: they are skipped (and listed by
 * `otherTargets` for the debug log), while a target that looks like a dchat package but does not
 * check out is still E_MALFORMED.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sha256Hex } from '../../src/crypto/hash.ts';
import { listPackages, otherTargets } from '../../src/trust/package-check.ts';
import { updateTrust } from '../../src/trust/updater.ts';
import {
  assertCode,
  InMemoryTrustStore,
  MapFetcher,
  makeKeys,
  makeRepo,
  NOW,
  packageBytes,
  publish,
  targetFor,
} from '../helpers/repo.ts';

const readme = Buffer.from('not a package\n');
const plain = { path: 'docs/README.txt', length: readme.byteLength, sha256: sha256Hex(readme), custom: {} };

test('targets that are not dchat packages are ignored and listed; the releases still work', async () => {
  const t = publish(makeRepo({ keys: makeKeys(1) }), [
    targetFor(packageBytes('a', 3000), '1.0.0', 'linux-x64'),
    plain,
    { ...plain, path: 'keys/maintainers.asc', custom: { format: 'someone-else/1' } },
  ]);
  const r = await updateTrust(new InMemoryTrustStore(t.repo.root), new MapFetcher(t.repo), NOW);
  const targets = r.trusted.requireTargets();
  assert.deepEqual(
    listPackages(targets).map((p) => p.path),
    ['dchat-1.0.0-linux-x64'],
  );
  assert.deepEqual(otherTargets(targets), ['docs/README.txt', 'keys/maintainers.asc']);
});

test('a target named like a dchat package, or claiming its format, must still check out', async () => {
  const good = targetFor(packageBytes('b', 3000), '1.0.0', 'linux-x64');
  const named = publish(makeRepo({ keys: makeKeys(1) }), [{ ...plain, path: 'dchat-2.0.0-linux-x64' }]);
  await assertCode(() => listPackages(named.repo.targets), 'E_MALFORMED');
  const claims = publish(makeRepo({ keys: makeKeys(1) }), [
    { ...good, path: 'other/file', custom: { ...good.custom } },
  ]);
  await assertCode(() => listPackages(claims.repo.targets), 'E_MALFORMED');
});
