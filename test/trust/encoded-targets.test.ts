/**
 * Encoded targets (patches, compressed packages) in signed targets metadata: listed only when
 * they check out against themselves and name trusted packages of one platform; never taken for
 * packages by the package listing (old clients skip them), whatever their names.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ENCODINGS, type Encoding, encodedName } from '../../src/model/encoded.ts';
import { parsePackageName } from '../../src/model/platform.ts';
import { encodedToPrune, encodingsOf, engineTarget, listEncoded } from '../../src/trust/encoded-targets.ts';
import { listPackages, otherTargets } from '../../src/trust/package-check.ts';
import {
  encodedTarget as encoded,
  makeKeys,
  makeRepo,
  packageBytes,
  publish,
  targetFor,
} from '../helpers/repo.ts';

test('patches and compressed packages are listed beside the packages, never as packages', () => {
  const a = targetFor(packageBytes('a', 5000), '1.0.0', 'linux-x64');
  const b = targetFor(packageBytes('b', 5000), '1.1.0', 'linux-x64');
  const w = targetFor(packageBytes('w', 5000), '1.0.0', 'windows-x64');
  const patch = encoded(packageBytes('p', 300), 'bsdiff-zstd', b.path, a.path, '1.0.0');
  const full = encoded(packageBytes('z', 4000), 'zstd', b.path);
  const bad = [
    // Its TUF hash and its custom disagree.
    {
      ...encoded(packageBytes('q', 300), 'zstd-patch-from', b.path, a.path, '0.9.0'),
      sha256: 'f'.repeat(64),
    },
    // A base of another platform.
    encoded(packageBytes('r', 300), 'zstd-patch-from', b.path, w.path, '0.8.0'),
    // A patch without a base, a compressed package with one.
    { ...encoded(packageBytes('s', 300), 'bsdiff-zstd', b.path, undefined, '0.7.0') },
    { ...encoded(packageBytes('t', 300), 'zstd', a.path, b.path), path: 'x.full.zst' },
    // Decodes to a package that is not trusted.
    encoded(packageBytes('u', 300), 'zstd', 'dchat-9.9.9-linux-x64'),
  ];
  const t = publish(makeRepo({ keys: makeKeys(1) }), [a, b, w, patch, full, ...bad]);
  const targets = t.repo.targets;
  assert.deepEqual(
    listPackages(targets).map((p) => p.path),
    ['dchat-1.0.0-linux-x64', 'dchat-1.0.0-windows-x64', 'dchat-1.1.0-linux-x64'],
  );
  const all = listEncoded(targets);
  assert.deepEqual(
    all.map((e) => e.path),
    [patch.path, full.path],
  );
  assert.ok(otherTargets(targets).includes(patch.path));
  const toB = listPackages(targets).find((p) => p.path === b.path);
  assert.ok(toB);
  assert.deepEqual(
    encodingsOf(all, toB, new Set([a.path])).map((e) => e.path),
    [patch.path, full.path],
  );
  assert.deepEqual(
    encodingsOf(all, toB, new Set()).map((e) => e.path),
    [full.path],
  );
});

test('no encoded name is ever read as a package name', () => {
  fc.assert(
    fc.property(
      fc.constantFrom('1.0.0', '2.3.4-rc.1', '10.0.0+build.5'),
      fc.constantFrom('linux-x64', 'windows-arm64', 'darwin-arm64', 'source'),
      fc.constantFrom<Encoding>(...ENCODINGS),
      fc.constantFrom('0.9.0', '1.0.0-beta.2'),
      (v, p, algo, from) => {
        assert.equal(parsePackageName(encodedName(`dchat-${v}-${p}`, algo, from)), undefined);
      },
    ),
  );
});

test('kept encoded files are pruned to the keep newest releases of their platform', () => {
  const v = (n: string, p = 'linux-x64') => targetFor(packageBytes(n, 3000), n, p);
  const [a, b, c, d] = ['1.0.0', '1.1.0', '1.2.0', '1.3.0'].map((n) => v(n));
  const w = v('1.0.0', 'windows-x64');
  if (!a || !b || !c || !d) throw new Error('unreachable');
  const toB = encoded(packageBytes('pb', 300), 'bsdiff-zstd', b.path, a.path, '1.0.0');
  const toC = encoded(packageBytes('pc', 300), 'zstd-patch-from', c.path, b.path, '1.1.0');
  const toD = encoded(packageBytes('pd', 300), 'bsdiff-best', d.path, c.path, '1.2.0');
  const fullD = encoded(packageBytes('zd', 2000), 'zstd', d.path);
  const fullW = encoded(packageBytes('zw', 2000), 'zstd', w.path);
  // Still named by the metadata, but what it decodes to is not listed any more.
  const orphan = encoded(packageBytes('po', 300), 'zstd', 'dchat-0.9.0-linux-x64');
  const targets = publish(makeRepo({ keys: makeKeys(1) }), [
    a,
    b,
    c,
    d,
    w,
    toB,
    toC,
    toD,
    fullD,
    fullW,
    orphan,
  ]).repo.targets;
  // Not listed at all (newer than this metadata): left alone; and a name no encoding makes.
  const unknown = ['dchat-1.4.0-linux-x64.from-1.3.0.bsdz', 'notes.txt'];
  const kept = [toB.path, toC.path, toD.path, fullD.path, fullW.path, orphan.path, ...unknown];
  assert.deepEqual(encodedToPrune(kept, targets, 2), [toB.path, orphan.path]);
  assert.deepEqual(encodedToPrune(kept, targets, 1), [toB.path, toC.path, orphan.path]);
  // keep 0 is read as 1: the newest release's encodings always stay.
  assert.deepEqual(encodedToPrune(kept, targets, 0), encodedToPrune(kept, targets, 1));
  assert.deepEqual(encodedToPrune(kept, targets, 10), [orphan.path]);
});

test("the engine's view of a patch carries the patch's own content addresses, never the package's", () => {
  const a = targetFor(packageBytes('a', 5000), '1.0.0', 'linux-x64');
  const b = targetFor(packageBytes('b', 5000), '1.1.0', 'linux-x64', {
    ipfs_cid: 'QmPackageCid',
    ipfs_chunks_cid: 'QmPackageChunks',
    btih: 'b'.repeat(40),
    magnet: `magnet:?xt=urn:btih:${'b'.repeat(40)}`,
    sources: ['https://mirror.example/'],
  });
  const bare = encoded(packageBytes('p', 300), 'bsdiff-zstd', b.path, a.path, '1.0.0');
  const own = encoded(packageBytes('z', 4000), 'zstd', b.path);
  Object.assign(own.custom, {
    ipfs_cid: 'QmPatchCid',
    ipfs_chunks_cid: 'QmPatchChunks',
    btih: 'c'.repeat(40),
    magnet: `magnet:?xt=urn:btih:${'c'.repeat(40)}`,
    sources: ['https://mirror.example/'],
  });
  const targets = publish(makeRepo({ keys: makeKeys(1) }), [a, b, bare, own]).repo.targets;
  const to = listPackages(targets).find((p) => p.path === b.path);
  const byPath = new Map(listEncoded(targets).map((e) => [e.path, e]));
  const [e1, e2] = [byPath.get(bare.path), byPath.get(own.path)];
  assert.ok(to && e1 && e2);
  const addresses = ['ipfs_cid', 'ipfs_chunks_cid', 'btih', 'magnet', 'sources'] as const;
  const v1 = engineTarget(e1, to);
  for (const k of addresses) assert.equal(v1.custom[k], undefined, k);
  assert.equal(v1.custom.version, '1.1.0');
  assert.equal(v1.custom.blake3, bare.custom.blake3);
  const v2 = engineTarget(e2, to);
  for (const k of addresses) assert.deepEqual(v2.custom[k], (own.custom as Record<string, unknown>)[k], k);
});
