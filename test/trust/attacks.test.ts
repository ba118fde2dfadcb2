/**
 * Issue 3, "Must show": one test per attack on the release metadata and the packages it signs,
 * each asserting the exact DchatError code. Repositories are built with @tufjs/models (test/helpers)
 * and with src/trust/repository.ts / src/release/publish.ts; the client is the real TUF workflow
 * (updateTrust over an in-memory mirror or a mirror directory), the package check is the real
 * checkPackage / verifyFile. Every attack is set against a baseline that passes, so a check that
 * rejected everything could not make these tests pass.
 */
import assert from 'node:assert/strict';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { digestBytes } from '../../src/crypto/hash.ts';
import { verifyFile } from '../../src/download/verify-file.ts';
import { initRepository, publishRelease, rotateKeys } from '../../src/release/publish.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import type { SigningKey } from '../../src/trust/keys.ts';
import type { RoleName } from '../../src/trust/metadata.ts';
import {
  checkChunkTable,
  checkPackage,
  findPackage,
  listPackages,
  type PackageVerdict,
} from '../../src/trust/package-check.ts';
import { rotateRoot } from '../../src/trust/repository.ts';
import { buildStatement, signStatement } from '../../src/trust/statement.ts';
import { TrustedSet } from '../../src/trust/trusted-set.ts';
import { loadTrustOffline, updateTrust } from '../../src/trust/updater.ts';
import { dchat, dchatSign, describeRun, publishArgs } from '../helpers/cli.ts';
import {
  assertCode,
  at,
  bytesOf,
  chunkTableOf,
  DAY,
  InMemoryTrustStore,
  type JsonDoc,
  MapFetcher,
  makeKeys,
  makeRepo,
  makeRoot,
  makeSnapshot,
  makeTempDir,
  makeTimestamp,
  NOW,
  packageBytes,
  publish,
  type RoleKeys,
  signJson,
  type TestRepo,
  tamper,
  targetFor,
} from '../helpers/repo.ts';

const CHUNK = 64 * 1024;
const A = packageBytes('dchat 1.0.0 linux-x64', 300_000);
const B = packageBytes('dchat 1.1.0 linux-x64', 310_000);
const W = packageBytes('dchat 1.0.0 windows-x64', 320_000);

/** Trusted set of a fresh client that pinned `t`'s root and updated from a mirror serving `t`. */
async function trustedFrom(t: TestRepo, now = NOW): Promise<TrustedSet> {
  return (await updateTrust(new InMemoryTrustStore(t.repo.root), new MapFetcher(t.repo), now)).trusted;
}

function verdict(trusted: TrustedSet, bytes: Uint8Array, version: string, platform: string): PackageVerdict {
  const targets = trusted.requireTargets();
  return checkPackage(
    findPackage(targets, version, platform),
    digestBytes(bytes),
    trusted.root.signed,
    listPackages(targets),
  );
}

function assertVerdict(v: PackageVerdict, code: string): void {
  assert.equal(v.ok, false, `expected ${code}, the package was accepted`);
  assert.equal(v.code, code, `expected ${code}, got ${v.code}: ${v.message}`);
}

/** Separate keys per role: an offline root key, a targets key, online snapshot and timestamp keys. */
function splitKeys(): RoleKeys {
  const [root, targets, snapshot, timestamp] = makeKeys(4) as [
    SigningKey,
    SigningKey,
    SigningKey,
    SigningKey,
  ];
  return { root: [root], targets: [targets], snapshot: [snapshot], timestamp: [timestamp] };
}

describe('arbitrary package, wrong size, endless data, mix-and-match (package check)', () => {
  const [k] = makeKeys(1);
  let t: TestRepo;
  let trusted: TrustedSet;
  before(async () => {
    t = publish(makeRepo({ keys: [k!] }), [
      targetFor(A, '1.0.0', 'linux-x64', {}, CHUNK),
      targetFor(B, '1.1.0', 'linux-x64', {}, CHUNK),
      targetFor(W, '1.0.0', 'windows-x64', {}, CHUNK),
    ]);
    trusted = await trustedFrom(t);
  });

  test('baseline: each genuine package passes size, SHA-256 and BLAKE3', () => {
    for (const [bytes, v, p] of [
      [A, '1.0.0', 'linux-x64'],
      [B, '1.1.0', 'linux-x64'],
      [W, '1.0.0', 'windows-x64'],
    ] as const) {
      const r = verdict(trusted, bytes, v, p);
      assert.equal(r.ok, true, r.message);
      assert.deepEqual(
        r.checks.map((c) => `${c.name}:${c.ok}`),
        ['size:true', 'sha256:true', 'blake3:true'],
      );
    }
  });

  test('arbitrary package: one byte changed -> E_HASH_MISMATCH', () => {
    for (const pos of [0, 150_000, A.byteLength - 1]) {
      const evil = Buffer.from(A);
      evil[pos] = (evil[pos] as number) ^ 0x01;
      const r = verdict(trusted, evil, '1.0.0', 'linux-x64');
      assertVerdict(r, 'E_HASH_MISMATCH');
      assert.deepEqual(r.checks.at(-1), { name: 'sha256', ok: false });
    }
  });

  test('arbitrary package: BLAKE3 is checked on its own (signed BLAKE3 wrong, SHA-256 right) -> E_HASH_MISMATCH', async () => {
    const bad = targetFor(A, '1.0.0', 'linux-x64', { blake3: 'ab'.repeat(32) }, CHUNK);
    const tr = await trustedFrom(publish(makeRepo({ keys: [k!] }), [bad]));
    const r = verdict(tr, A, '1.0.0', 'linux-x64');
    assertVerdict(r, 'E_HASH_MISMATCH');
    assert.deepEqual(
      r.checks.map((c) => `${c.name}:${c.ok}`),
      ['size:true', 'sha256:true', 'blake3:false'],
    );
  });

  test('wrong size: truncated package -> E_SIZE_MISMATCH', () => {
    assertVerdict(verdict(trusted, A.subarray(0, A.byteLength - 1), '1.0.0', 'linux-x64'), 'E_SIZE_MISMATCH');
    assertVerdict(verdict(trusted, Buffer.alloc(0), '1.0.0', 'linux-x64'), 'E_SIZE_MISMATCH');
  });

  test('endless data: genuine bytes followed by more -> E_TOO_LARGE', () => {
    assertVerdict(
      verdict(trusted, Buffer.concat([A, Buffer.from('x')]), '1.0.0', 'linux-x64'),
      'E_TOO_LARGE',
    );
    assertVerdict(verdict(trusted, Buffer.concat([A, A]), '1.0.0', 'linux-x64'), 'E_TOO_LARGE');
  });

  test('mix-and-match: genuine 1.0.0 presented as 1.1.0 -> E_WRONG_TARGET', () => {
    const r = verdict(trusted, A, '1.1.0', 'linux-x64');
    assertVerdict(r, 'E_WRONG_TARGET');
    assert.match(r.message ?? '', /dchat-1\.0\.0-linux-x64/);
  });

  test('mix-and-match: genuine linux-x64 package presented as windows-x64 -> E_WRONG_TARGET', () => {
    assertVerdict(verdict(trusted, A, '1.0.0', 'windows-x64'), 'E_WRONG_TARGET');
    assertVerdict(verdict(trusted, W, '1.0.0', 'linux-x64'), 'E_WRONG_TARGET');
  });

  test('mix-and-match inside the signed entry: path vs custom, length vs size_bytes, hashes vs custom -> E_MALFORMED', async () => {
    const genuine = targetFor(A, '1.0.0', 'linux-x64', {}, CHUNK);
    const cases: [string, typeof genuine][] = [
      ['path names 1.1.0, custom says 1.0.0', { ...genuine, path: 'dchat-1.1.0-linux-x64' }],
      ['path names windows, custom says linux', { ...genuine, path: 'dchat-1.0.0-windows-x64' }],
      ['custom.version disagrees', { ...genuine, custom: { ...genuine.custom, version: '1.1.0' } }],
      ['custom.platform disagrees', { ...genuine, custom: { ...genuine.custom, platform: 'linux-arm64' } }],
      ['custom.sha256 disagrees', { ...genuine, custom: { ...genuine.custom, sha256: 'cd'.repeat(32) } }],
      ['TUF length disagrees with size_bytes', { ...genuine, length: genuine.length + 1 }],
      [
        'chunk count does not fit the length',
        { ...genuine, custom: { ...genuine.custom, chunks: { ...genuine.custom.chunks, count: 1 } } },
      ],
    ];
    for (const [what, entry] of cases) {
      const tr = await trustedFrom(publish(makeRepo({ keys: [k!] }), [entry]));
      const targets = tr.requireTargets();
      const [version, platform] =
        entry.path === 'dchat-1.1.0-linux-x64'
          ? ['1.1.0', 'linux-x64']
          : entry.path === 'dchat-1.0.0-windows-x64'
            ? ['1.0.0', 'windows-x64']
            : ['1.0.0', 'linux-x64'];
      await assertCode(() => findPackage(targets, version, platform), 'E_MALFORMED').catch((e) => {
        throw new Error(`${what}: ${(e as Error).message}`);
      });
      await assertCode(() => listPackages(targets), 'E_MALFORMED');
    }
  });

  test('dchat-sign signature by a key the root does not list -> E_UNTRUSTED_KEY; moved signature -> E_SIGNATURE', async () => {
    const [outsider] = makeKeys(1);
    const d = digestBytes(A);
    const foreign = signStatement(outsider!.privateKey, buildStatement('1.0.0', 'linux-x64', d));
    const t1 = publish(makeRepo({ keys: [k!] }), [
      targetFor(A, '1.0.0', 'linux-x64', {
        signature: foreign.signature,
        signer_pubkey: foreign.signer_pubkey,
      }),
    ]);
    assertVerdict(verdict(await trustedFrom(t1), A, '1.0.0', 'linux-x64'), 'E_UNTRUSTED_KEY');

    // A genuine release-key signature, but over the statement of another version (moved).
    const moved = signStatement(k!.privateKey, buildStatement('1.1.0', 'linux-x64', d));
    const t2 = publish(makeRepo({ keys: [k!] }), [
      targetFor(A, '1.0.0', 'linux-x64', { signature: moved.signature, signer_pubkey: moved.signer_pubkey }),
    ]);
    assertVerdict(verdict(await trustedFrom(t2), A, '1.0.0', 'linux-x64'), 'E_SIGNATURE');

    // Baseline: the right statement by the release key passes, with the signature check listed.
    const good = signStatement(k!.privateKey, buildStatement('1.0.0', 'linux-x64', d));
    const t3 = publish(makeRepo({ keys: [k!] }), [
      targetFor(A, '1.0.0', 'linux-x64', { signature: good.signature, signer_pubkey: good.signer_pubkey }),
    ]);
    const ok = verdict(await trustedFrom(t3), A, '1.0.0', 'linux-x64');
    assert.equal(ok.ok, true, ok.message);
    assert.deepEqual(ok.checks.at(-1), { name: 'signature', ok: true });
  });

  test('arbitrary chunks: a chunk table for other bytes -> E_CHUNK_MISMATCH', async () => {
    const target = findPackage(trusted.requireTargets(), '1.0.0', 'linux-x64');
    checkChunkTable(target, chunkTableOf(A, CHUNK));
    const evil = Buffer.from(A);
    evil[70_000] = (evil[70_000] as number) ^ 0xff;
    await assertCode(() => checkChunkTable(target, chunkTableOf(evil, CHUNK)), 'E_CHUNK_MISMATCH');
    await assertCode(() => checkChunkTable(target, chunkTableOf(A, 2 * CHUNK)), 'E_CHUNK_MISMATCH');
  });
});

describe('package and metadata files on disk (publishRelease, DirectoryFetcher, verifyFile)', () => {
  let dir: { path: string; cleanup(): Promise<void> };
  let repoDir: string;
  const [k] = makeKeys(1);
  before(async () => {
    dir = await makeTempDir('dchat-attacks-');
    repoDir = join(dir.path, 'repo');
    await initRepository({ dir: repoDir, keys: [k!], threshold: 1, now: NOW });
    for (const [bytes, v, p] of [
      [A, '1.0.0', 'linux-x64'],
      [B, '1.1.0', 'linux-x64'],
    ] as const) {
      const file = join(dir.path, `dchat-${v}-${p}`);
      await writeFile(file, bytes);
      await publishRelease({
        dir: repoDir,
        packagePath: file,
        version: v,
        platform: p,
        keys: [k!],
        now: NOW,
      });
    }
  });
  after(() => dir.cleanup());

  async function client() {
    const root = await readFile(join(repoDir, 'metadata', '1.root.json'));
    return (await updateTrust(new InMemoryTrustStore(root), new DirectoryFetcher(repoDir), NOW)).trusted;
  }

  test('genuine file passes; changed, truncated, extended and oversized files are refused with their codes', async () => {
    const trusted = await client();
    const genuine = join(repoDir, 'packages', 'dchat-1.0.0-linux-x64');
    assert.equal((await verifyFile(trusted, genuine, '1.0.0', 'linux-x64')).verdict.ok, true);

    const evil = Buffer.from(A);
    evil[12_345] = (evil[12_345] as number) ^ 0x80;
    const changed = join(dir.path, 'changed');
    await writeFile(changed, evil);
    assertVerdict((await verifyFile(trusted, changed, '1.0.0', 'linux-x64')).verdict, 'E_HASH_MISMATCH');

    const truncated = join(dir.path, 'truncated');
    await writeFile(truncated, A.subarray(0, 1000));
    assertVerdict((await verifyFile(trusted, truncated, '1.0.0', 'linux-x64')).verdict, 'E_SIZE_MISMATCH');

    // Longer than this target but not than every target: hashed, then refused as endless data.
    const extended = join(dir.path, 'extended');
    await writeFile(extended, Buffer.concat([A, Buffer.alloc(100)]));
    assertVerdict((await verifyFile(trusted, extended, '1.0.0', 'linux-x64')).verdict, 'E_TOO_LARGE');

    // Longer than every signed target: refused before it is read.
    const endless = join(dir.path, 'endless');
    await writeFile(endless, Buffer.concat([B, B]));
    await assertCode(() => verifyFile(trusted, endless, '1.0.0', 'linux-x64'), 'E_TOO_LARGE');

    // Mix-and-match on disk: the genuine 1.0.0 file checked as 1.1.0.
    assertVerdict((await verifyFile(trusted, genuine, '1.1.0', 'linux-x64')).verdict, 'E_WRONG_TARGET');
  });

  test('endless metadata: snapshot and targets longer than the length their parent signed -> E_TOO_LARGE', async () => {
    const ts = JSON.parse(await readFile(join(repoDir, 'metadata', 'timestamp.json'), 'utf8'));
    const snapName = `${ts.signed.meta['snapshot.json'].version}.snapshot.json`;
    const snapPath = join(repoDir, 'metadata', snapName);
    const snap = await readFile(snapPath);
    await appendFile(snapPath, ' '.repeat(64));
    try {
      await assertCode(() => client(), 'E_TOO_LARGE');
    } finally {
      await writeFile(snapPath, snap);
    }
    const tName = `${JSON.parse(snap.toString()).signed.meta['targets.json'].version}.targets.json`;
    const tPath = join(repoDir, 'metadata', tName);
    const targets = await readFile(tPath);
    await appendFile(tPath, '\n');
    try {
      await assertCode(() => client(), 'E_TOO_LARGE');
    } finally {
      await writeFile(tPath, targets);
    }
    await client(); // restored: accepted again
  });

  test('oversized metadata: timestamp.json past its 16 KiB cap -> E_TOO_LARGE', async () => {
    const p = join(repoDir, 'metadata', 'timestamp.json');
    const original = await readFile(p);
    await writeFile(p, Buffer.concat([original, Buffer.from(' '.repeat(16_384))]));
    try {
      await assertCode(() => client(), 'E_TOO_LARGE');
    } finally {
      await writeFile(p, original);
    }
  });
});

describe('rollback', () => {
  const [k] = makeKeys(1);
  const t1 = makeRepo({ keys: [k!] });
  const t2 = publish(t1, [targetFor(A, '1.0.0', 'linux-x64')]);
  const t3 = publish(t2, [targetFor(B, '1.1.0', 'linux-x64')]);

  async function clientAtV3(): Promise<InMemoryTrustStore> {
    const store = new InMemoryTrustStore(t1.repo.root);
    await updateTrust(store, new MapFetcher(t3.repo), NOW);
    assert.equal(store.version('timestamp'), 3);
    return store;
  }

  test('baseline: the client follows v1 -> v3 and a replay of v3 is accepted as unchanged', async () => {
    const store = await clientAtV3();
    const r = await updateTrust(store, new MapFetcher(t3.repo), NOW);
    assert.equal(r.unchanged, true);
  });

  test('an older timestamp (v2 after v3) -> E_ROLLBACK, and the stored state does not move back', async () => {
    const store = await clientAtV3();
    await assertCode(() => updateTrust(store, new MapFetcher(t2.repo), NOW), 'E_ROLLBACK');
    assert.equal(store.version('timestamp'), 3);
    assert.equal(store.version('snapshot'), 3);
    // The refusal survives a restart: the state is persisted, not held in memory.
    await assertCode(() => updateTrust(store, new MapFetcher(t1.repo), NOW), 'E_ROLLBACK');
  });

  test('a new timestamp pointing at an older snapshot -> E_ROLLBACK', async () => {
    const store = await clientAtV3();
    const ts4 = makeTimestamp(t2.repo.snapshot, { version: 4, keys: [k!] });
    const m = new MapFetcher(t2.repo).set('timestamp.json', ts4);
    await assertCode(() => updateTrust(store, m, NOW), 'E_ROLLBACK');
  });

  test('a new snapshot listing an older targets version -> E_ROLLBACK', async () => {
    const store = await clientAtV3();
    const snap4 = makeSnapshot(t2.repo.targets, { version: 4, keys: [k!] });
    const ts4 = makeTimestamp(snap4, { version: 4, keys: [k!] });
    const m = new MapFetcher(t2.repo).set('4.snapshot.json', snap4).set('timestamp.json', ts4);
    await assertCode(() => updateTrust(store, m, NOW), 'E_ROLLBACK');
  });

  test('a targets file older than the version its snapshot names -> E_ROLLBACK', async () => {
    // A snapshot that records only the version (allowed by TUF), so the hash cannot catch it.
    const snap = makeSnapshot(t3.repo.targets, { version: 4, keys: [k!], withHashes: false });
    const ts = makeTimestamp(snap, { version: 4, keys: [k!] });
    const m = new MapFetcher()
      .set('4.snapshot.json', snap)
      .set('timestamp.json', ts)
      .set('3.targets.json', t2.repo.targets);
    await assertCode(() => updateTrust(new InMemoryTrustStore(t1.repo.root), m, NOW), 'E_ROLLBACK');
    // Baseline: with the right targets the same snapshot is accepted.
    m.set('3.targets.json', t3.repo.targets);
    await updateTrust(new InMemoryTrustStore(t1.repo.root), m, NOW);
  });

  test('root chain: version 1 served as 2.root.json -> E_ROLLBACK', async () => {
    const m = new MapFetcher(t3.repo).set('2.root.json', t1.repo.root);
    await assertCode(() => updateTrust(new InMemoryTrustStore(t1.repo.root), m, NOW), 'E_ROLLBACK');
  });
});

describe('freeze: expired metadata', () => {
  const [k] = makeKeys(1);
  const later = at(NOW, 2 * DAY);
  const base = (expires: Partial<Record<RoleName, number>> = {}) =>
    publish(makeRepo({ keys: [k!], expires }), [targetFor(A, '1.0.0', 'linux-x64')], { expires });

  test('baseline: everything fresh two days later', async () => {
    await trustedFrom(base({ timestamp: 3 * DAY }), later);
  });

  test('expired timestamp -> E_EXPIRED', async () => {
    await assertCode(() => trustedFrom(base({ timestamp: DAY }), later), 'E_EXPIRED');
  });

  test('expired snapshot -> E_EXPIRED', async () => {
    await assertCode(() => trustedFrom(base({ snapshot: DAY, timestamp: 10 * DAY }), later), 'E_EXPIRED');
  });

  test('expired targets -> E_EXPIRED', async () => {
    await assertCode(
      () => trustedFrom(base({ targets: DAY, snapshot: 10 * DAY, timestamp: 10 * DAY }), later),
      'E_EXPIRED',
    );
  });

  test('expired root -> E_EXPIRED (also when it is the newest root of the chain)', async () => {
    await assertCode(() => trustedFrom(base({ root: DAY }), later), 'E_EXPIRED');
    const t = base();
    const root2 = makeRoot(
      { root: [k!], targets: [k!], snapshot: [k!], timestamp: [k!] },
      {
        version: 2,
        expiresSec: DAY,
      },
    );
    const m = new MapFetcher(t.repo).set('2.root.json', root2);
    await assertCode(() => updateTrust(new InMemoryTrustStore(t.repo.root), m, later), 'E_EXPIRED');
  });

  test('a mirror that keeps serving the same metadata: accepted while fresh, E_EXPIRED after, offline too', async () => {
    const t = base();
    const store = new InMemoryTrustStore(t.repo.root);
    await updateTrust(store, new MapFetcher(t.repo), NOW);
    await loadTrustOffline(store, at(NOW, 6 * DAY));
    await assertCode(() => updateTrust(store, new MapFetcher(t.repo), at(NOW, 8 * DAY)), 'E_EXPIRED');
    await assertCode(() => loadTrustOffline(store, at(NOW, 8 * DAY)), 'E_EXPIRED');
  });
});

describe('signatures: untrusted keys, thresholds, duplicates, tampering', () => {
  test('timestamp signed only by a key the root does not list -> E_UNTRUSTED_KEY', async () => {
    const [k, x] = makeKeys(2);
    const t = makeRepo({ keys: [k!] });
    const forged = makeTimestamp(t.repo.snapshot, { version: 2, keys: [x!] });
    await assertCode(() => trustedFrom({ ...t, repo: { ...t.repo, timestamp: forged } }), 'E_UNTRUSTED_KEY');
  });

  test('release side: targets signed with keys the root does not list for it -> E_UNTRUSTED_KEY', async () => {
    const keys = splitKeys();
    const [x] = makeKeys(1);
    const t = makeRepo({ keys });
    // The outsider and the online keys together: none of them is a targets key.
    await assertCode(
      () =>
        publish(t, [targetFor(B, '1.0.0', 'linux-x64')], { keys: [x!, ...keys.snapshot, ...keys.timestamp] }),
      'E_UNTRUSTED_KEY',
    );
  });

  test('online keys compromised: hand-made targets signed by an outsider -> E_UNTRUSTED_KEY at the client', async () => {
    const keys = splitKeys();
    const [x] = makeKeys(1);
    const t = publish(makeRepo({ keys }), [targetFor(A, '1.0.0', 'linux-x64')]);
    const evilTargets = signJson(JSON.parse(bytesOf(t.repo.targets).toString()), [x!]);
    const snap = makeSnapshot(evilTargets, { version: 3, keys: keys.snapshot });
    const ts = makeTimestamp(snap, { version: 3, keys: keys.timestamp });
    const m = new MapFetcher(t.repo)
      .set('2.targets.json', evilTargets)
      .set('3.snapshot.json', snap)
      .set('timestamp.json', ts);
    await assertCode(() => updateTrust(new InMemoryTrustStore(t.repo.root), m, NOW), 'E_UNTRUSTED_KEY');
  });

  test('2-of-3: a role signed by one key -> E_THRESHOLD; signed by two others passes', async () => {
    const [a, b, c] = makeKeys(3);
    const t = publish(makeRepo({ keys: [a!, b!, c!], threshold: 2 }), [targetFor(A, '1.0.0', 'linux-x64')], {
      keys: [b!, c!],
    });
    await trustedFrom(t); // baseline: 2 of 3 (b, c)

    const ts1 = makeTimestamp(t.repo.snapshot, { version: 3, keys: [a!] });
    await assertCode(() => trustedFrom({ ...t, repo: { ...t.repo, timestamp: ts1 } }), 'E_THRESHOLD');

    // Targets with one signature, even when the online roles carry two.
    const one = signJson(JSON.parse(bytesOf(t.repo.targets).toString()), [a!]);
    const snap = makeSnapshot(one, { version: 3, keys: [a!, b!] });
    const ts = makeTimestamp(snap, { version: 3, keys: [a!, b!] });
    const m = new MapFetcher(t.repo)
      .set('2.targets.json', one)
      .set('3.snapshot.json', snap)
      .set('timestamp.json', ts);
    await assertCode(() => updateTrust(new InMemoryTrustStore(t.repo.root), m, NOW), 'E_THRESHOLD');
  });

  test('duplicate signatures: the same signature listed twice counts once -> E_THRESHOLD', async () => {
    const [a, b, c] = makeKeys(3);
    const t = makeRepo({ keys: [a!, b!, c!], threshold: 2 });
    const ts = makeTimestamp(t.repo.snapshot, { version: 2, keys: [a!] });
    const doubled = tamper(bytesOf(ts), (doc) => {
      doc.signatures = [doc.signatures[0], doc.signatures[0]];
    });
    const m = new MapFetcher(t.repo).set('timestamp.json', doubled);
    await assertCode(() => updateTrust(new InMemoryTrustStore(t.repo.root), m, NOW), 'E_THRESHOLD');
    // Baseline: a relay duplicating one of two genuine signatures does not spoil them.
    const both = makeTimestamp(t.repo.snapshot, { version: 2, keys: [a!, b!] });
    m.set(
      'timestamp.json',
      tamper(bytesOf(both), (doc) => {
        doc.signatures = [doc.signatures[0], doc.signatures[1], doc.signatures[0]];
      }),
    );
    await updateTrust(new InMemoryTrustStore(t.repo.root), m, NOW);
  });

  for (const spelling of ['same spelling', 'upper-case hex'] as const) {
    test(`duplicate keys: one public key under two key ids in the root (${spelling}) -> E_THRESHOLD`, async () => {
      const [rootKey, a, b, online] = makeKeys(4);
      const alias = 'a1'.repeat(32);
      const root = tamper(
        bytesOf(
          makeRoot(
            { root: [rootKey!], targets: [a!, b!], snapshot: [online!], timestamp: [online!] },
            { threshold: { targets: 2 } },
          ),
        ),
        (doc) => {
          const pub = spelling === 'same spelling' ? a!.publicHex : a!.publicHex.toUpperCase();
          doc.signed.keys[alias] = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: pub } };
          doc.signed.roles.targets.keyids = [a!.keyId, alias, b!.keyId];
        },
      );
      const rootBytes = signJson(JSON.parse(root.toString()), [rootKey!]);
      const targets = makeRepo({ keys: [a!] }).repo.targets;
      const twice = tamper(bytesOf(targets), (doc) => {
        doc.signatures.push({ keyid: alias, sig: doc.signatures[0].sig });
      });
      const snap = makeSnapshot(twice, { version: 1, keys: [online!] });
      const ts = makeTimestamp(snap, { version: 1, keys: [online!] });
      const m = new MapFetcher()
        .set('1.targets.json', twice)
        .set('1.snapshot.json', snap)
        .set('timestamp.json', ts);
      await assertCode(() => updateTrust(new InMemoryTrustStore(rootBytes), m, NOW), 'E_THRESHOLD');
      // Baseline: a second, distinct key makes it 2 of 3.
      const both = signJson(JSON.parse(bytesOf(targets).toString()), [a!, b!]);
      const snap2 = makeSnapshot(both, { version: 1, keys: [online!] });
      m.set('1.targets.json', both)
        .set('1.snapshot.json', snap2)
        .set('timestamp.json', makeTimestamp(snap2, { version: 1, keys: [online!] }));
      await updateTrust(new InMemoryTrustStore(rootBytes), m, NOW);
    });
  }

  test('tampered signed bytes (no re-signing) -> E_SIGNATURE, for timestamp, targets and root', async () => {
    const keys = splitKeys();
    const t = publish(makeRepo({ keys }), [targetFor(A, '1.0.0', 'linux-x64')]);
    // Timestamp: expiry pushed out by a mirror.
    const ts = tamper(bytesOf(t.repo.timestamp), (doc) => {
      doc.signed.expires = '2099-01-01T00:00:00Z';
    });
    await assertCode(
      () =>
        updateTrust(
          new InMemoryTrustStore(t.repo.root),
          new MapFetcher(t.repo).set('timestamp.json', ts),
          NOW,
        ),
      'E_SIGNATURE',
    );
    // Targets: a hash swapped; the compromised online keys re-sign snapshot and timestamp to match.
    const evil = targetFor(B, '1.0.0', 'linux-x64');
    const targets = tamper(bytesOf(t.repo.targets), (doc) => {
      doc.signed.targets['dchat-1.0.0-linux-x64'].hashes.sha256 = evil.sha256;
    });
    const snap = makeSnapshot(targets, { version: 3, keys: keys.snapshot });
    const m = new MapFetcher(t.repo)
      .set('2.targets.json', targets)
      .set('3.snapshot.json', snap)
      .set('timestamp.json', makeTimestamp(snap, { version: 3, keys: keys.timestamp }));
    await assertCode(() => updateTrust(new InMemoryTrustStore(t.repo.root), m, NOW), 'E_SIGNATURE');
    // Root: the next root with one more key added after signing.
    const [extra] = makeKeys(1);
    const root2 = tamper(bytesOf(makeRoot(keys, { version: 2 })), (doc) => {
      doc.signed.keys[extra!.keyId] = {
        keytype: 'ed25519',
        scheme: 'ed25519',
        keyval: { public: extra!.publicHex },
      };
      doc.signed.roles.targets.keyids.push(extra!.keyId);
    });
    const m2 = new MapFetcher(t.repo).set('2.root.json', root2);
    await assertCode(() => updateTrust(new InMemoryTrustStore(t.repo.root), m2, NOW), 'E_SIGNATURE');
  });
});

describe('key rotation: keys rotated out, root chain', () => {
  let dir: { path: string; cleanup(): Promise<void> };
  before(async () => {
    dir = await makeTempDir('dchat-rotate-');
  });
  after(() => dir.cleanup());

  test('after rotateKeys, metadata signed by the old key -> E_UNTRUSTED_KEY (client pinned to the old root)', async () => {
    const [oldKey, newKey] = makeKeys(2);
    const repoDir = join(dir.path, 'rot');
    await initRepository({ dir: repoDir, keys: [oldKey!], threshold: 1, now: NOW });
    const pkg = join(dir.path, 'dchat-1.0.0-linux-x64');
    await writeFile(pkg, A);
    await publishRelease({
      dir: repoDir,
      packagePath: pkg,
      version: '1.0.0',
      platform: 'linux-x64',
      keys: [oldKey!],
      now: NOW,
    });
    const oldRoot = await readFile(join(repoDir, 'metadata', '1.root.json'));
    const repo = await rotateKeys({
      dir: repoDir,
      oldKeys: [oldKey!],
      newKeys: [newKey!],
      threshold: 1,
      now: NOW,
    });

    // Baseline: a client pinned to root v1 follows the chain and verifies the package.
    const store = new InMemoryTrustStore(oldRoot);
    const r = await updateTrust(store, new DirectoryFetcher(repoDir), NOW);
    assert.deepEqual(r.rootsApplied, [2]);
    assert.equal((await verifyFile(r.trusted, pkg, '1.0.0', 'linux-x64')).verdict.ok, true);

    // The rotated-out key signs a newer timestamp: refused, by the stored client and a fresh one.
    const forged = makeTimestamp(repo.snapshot, {
      version: repo.timestamp.signed.version + 1,
      keys: [oldKey!],
    });
    await writeFile(join(repoDir, 'metadata', 'timestamp.json'), bytesOf(forged));
    await assertCode(() => updateTrust(store, new DirectoryFetcher(repoDir), NOW), 'E_UNTRUSTED_KEY');
    await assertCode(
      () => updateTrust(new InMemoryTrustStore(oldRoot), new DirectoryFetcher(repoDir), NOW),
      'E_UNTRUSTED_KEY',
    );
    await writeFile(join(repoDir, 'metadata', 'timestamp.json'), bytesOf(repo.timestamp));

    // ... and a root v3 signed by the rotated-out key alone.
    const root3 = makeRoot(
      { root: [oldKey!], targets: [oldKey!], snapshot: [oldKey!], timestamp: [oldKey!] },
      { version: 3 },
    );
    await writeFile(join(repoDir, 'metadata', '3.root.json'), bytesOf(root3));
    await assertCode(() => updateTrust(store, new DirectoryFetcher(repoDir), NOW), 'E_UNTRUSTED_KEY');
  });

  test('root chain v1 -> v2 -> v3 is followed; each link must be signed by the old and the new root', async () => {
    const [k1, k2, k3] = makeKeys(3);
    const t = makeRepo({ keys: [k1!] });
    const all = (k: typeof k1): RoleKeys => ({ root: [k!], targets: [k!], snapshot: [k!], timestamp: [k!] });
    const r2 = makeRoot(all(k2), { version: 2, signers: [k1!, k2!] });
    const r3 = makeRoot(all(k3), { version: 3, signers: [k2!, k3!] });
    // The other roles re-signed under root v3 (what `release rotate-keys` does).
    const t3 = publish({ repo: { ...t.repo, root: r3 }, keys: all(k3), allKeys: [k3!] }, []);
    const m = new MapFetcher(t3.repo, [r2, r3]);
    const r = await updateTrust(new InMemoryTrustStore(t.repo.root), m, NOW);
    assert.deepEqual(r.rootsApplied, [2, 3]);

    // Signed by the new key only (the old root's keys did not sign it).
    m.set('2.root.json', makeRoot(all(k2), { version: 2, signers: [k2!] }));
    await assertCode(() => updateTrust(new InMemoryTrustStore(t.repo.root), m, NOW), 'E_UNTRUSTED_KEY');
    // Signed by the old key only (the new root does not vouch for itself).
    m.set('2.root.json', makeRoot(all(k2), { version: 2, signers: [k1!] }));
    await assertCode(() => updateTrust(new InMemoryTrustStore(t.repo.root), m, NOW), 'E_UNTRUSTED_KEY');
    // Root v3 served as 2.root.json (skipping a link): fast-forward of the chain.
    m.set('2.root.json', makeRoot(all(k1), { version: 3, signers: [k1!] }));
    await assertCode(() => updateTrust(new InMemoryTrustStore(t.repo.root), m, NOW), 'E_VERSION_MISMATCH');
  });

  test('rotation to 2-of-3 signed by one new key only -> E_THRESHOLD (rotateRoot refuses it too)', async () => {
    const [k1, a, b, c] = makeKeys(4);
    const t = makeRepo({ keys: [k1!] });
    const next = {
      root: [a!, b!, c!],
      targets: [a!, b!, c!],
      snapshot: [a!, b!, c!],
      timestamp: [a!, b!, c!],
    };
    const r2 = makeRoot(next, { version: 2, threshold: 2, signers: [k1!, a!] });
    const m = new MapFetcher(t.repo).set('2.root.json', r2);
    await assertCode(() => updateTrust(new InMemoryTrustStore(t.repo.root), m, NOW), 'E_THRESHOLD');
    await assertCode(
      () =>
        rotateRoot(t.repo, {
          oldKeys: [],
          newKeys: [a!, b!, c!],
          threshold: 2,
          now: NOW,
          rootExpiresSec: DAY,
        }),
      'E_UNTRUSTED_KEY',
    );
  });
});

describe('fast-forward', () => {
  test('timestamp names snapshot v1000 while the snapshot served is v2 -> E_VERSION_MISMATCH', async () => {
    const [k] = makeKeys(1);
    const t = publish(makeRepo({ keys: [k!] }), [targetFor(A, '1.0.0', 'linux-x64')]);
    const ts = makeTimestamp(t.repo.snapshot, { version: 3, keys: [k!], metaVersion: 1000 });
    const m = new MapFetcher(t.repo).set('timestamp.json', ts).set('1000.snapshot.json', t.repo.snapshot);
    await assertCode(() => updateTrust(new InMemoryTrustStore(t.repo.root), m, NOW), 'E_VERSION_MISMATCH');
  });

  test('snapshot names targets v7 while the targets served is v9 -> E_VERSION_MISMATCH', async () => {
    const [k] = makeKeys(1);
    const t = makeRepo({ keys: [k!] });
    let t9 = t;
    for (let i = 0; i < 8; i++) t9 = publish(t9, []);
    assert.equal(t9.repo.targets.signed.version, 9);
    const snap = makeSnapshot(t9.repo.targets, {
      version: 10,
      keys: [k!],
      withHashes: false,
      metaVersion: 7,
    });
    const m = new MapFetcher()
      .set('10.snapshot.json', snap)
      .set('timestamp.json', makeTimestamp(snap, { version: 10, keys: [k!] }))
      .set('7.targets.json', t9.repo.targets);
    await assertCode(() => updateTrust(new InMemoryTrustStore(t.repo.root), m, NOW), 'E_VERSION_MISMATCH');
  });

  test('recovery: a fast-forwarded timestamp v1000 blocks updates until the timestamp key is rotated, then is discarded', async () => {
    const keys = splitKeys();
    const t2 = publish(makeRepo({ keys }), [targetFor(A, '1.0.0', 'linux-x64')]);
    const store = new InMemoryTrustStore(t2.repo.root);
    await updateTrust(store, new MapFetcher(t2.repo), NOW);

    // The online timestamp key is stolen: the thief serves timestamp v1000 (for the genuine snapshot).
    const ff = makeTimestamp(t2.repo.snapshot, { version: 1000, keys: keys.timestamp });
    await updateTrust(store, new MapFetcher(t2.repo).set('timestamp.json', ff), NOW);
    assert.equal(store.version('timestamp'), 1000);

    // The genuine next release now looks like a rollback to this client.
    const t3 = publish(t2, [targetFor(B, '1.1.0', 'linux-x64')]);
    await assertCode(() => updateTrust(store, new MapFetcher(t3.repo), NOW), 'E_ROLLBACK');

    // Maintainers rotate the timestamp key (root v2, signed by the offline root key).
    const [newTs] = makeKeys(1);
    const rotated: RoleKeys = { ...keys, timestamp: [newTs!] };
    const root2 = makeRoot(rotated, { version: 2 });
    const ts4 = makeTimestamp(t3.repo.snapshot, { version: 4, keys: [newTs!] });
    const m = new MapFetcher({ ...t3.repo, root: root2, timestamp: ts4 }, [root2]);
    const r = await updateTrust(store, m, NOW);
    assert.deepEqual(r.rootsApplied, [2]);
    assert.equal(store.version('timestamp'), 4);
    assert.equal(store.version('root'), 2);
    assert.ok(findPackage(r.trusted.requireTargets(), '1.1.0', 'linux-x64'));

    // The thief's v1000 replayed now: signed by a key the new root no longer lists.
    await assertCode(() => updateTrust(store, m.set('timestamp.json', ff), NOW), 'E_UNTRUSTED_KEY');
  });

  test('§5.3.11: any change of the timestamp keys discards the stored timestamp, even one still validly signed', async () => {
    const keys = splitKeys();
    const t2 = publish(makeRepo({ keys }), [targetFor(A, '1.0.0', 'linux-x64')]);
    const store = new InMemoryTrustStore(t2.repo.root);
    const ff = makeTimestamp(t2.repo.snapshot, { version: 1000, keys: keys.timestamp });
    await updateTrust(store, new MapFetcher(t2.repo).set('timestamp.json', ff), NOW);
    // Root v2 adds a second timestamp key (the old one stays listed, threshold 1): v1000 would
    // still verify, so only the rule "timestamp keys changed -> forget it" lets v3 through.
    const [extra] = makeKeys(1);
    const root2 = makeRoot({ ...keys, timestamp: [...keys.timestamp, extra!] }, { version: 2 });
    const t3 = publish(t2, [targetFor(B, '1.1.0', 'linux-x64')]);
    const r = await updateTrust(store, new MapFetcher({ ...t3.repo, root: root2 }, [root2]), NOW);
    assert.equal(r.trusted.timestamp?.signed.version, 3);
    assert.equal(store.version('timestamp'), 3);
  });
});

describe('unsupported, malformed and oversized metadata', () => {
  const [k] = makeKeys(1);
  const t = publish(makeRepo({ keys: [k!] }), [targetFor(A, '1.0.0', 'linux-x64')]);
  const client = (m: MapFetcher) => updateTrust(new InMemoryTrustStore(t.repo.root), m, NOW);

  test('unsupported spec_version (properly signed) -> E_UNSUPPORTED, for timestamp and for the pinned root', async () => {
    for (const spec of ['2.0.0', '0.9', 'x']) {
      const ts = JSON.parse(bytesOf(t.repo.timestamp).toString());
      ts.signed.spec_version = spec;
      ts.signed.version = 3;
      const m = new MapFetcher(t.repo).set('timestamp.json', signJson(ts, [k!]));
      await assertCode(() => client(m), 'E_UNSUPPORTED');
    }
    const root = JSON.parse(bytesOf(t.repo.root).toString());
    root.signed.spec_version = '2.0.0';
    await assertCode(() => new TrustedSet(signJson(root, [k!]), NOW), 'E_UNSUPPORTED');
  });

  const malformedEnvelope: [string, (doc: JsonDoc) => void][] = [
    ['no signed part', (d) => delete d.signed],
    ['signatures not an array', (d) => (d.signatures = {})],
    ['a signature without sig', (d) => delete d.signatures[0].sig],
    [
      '65 signatures',
      (d) => (d.signatures = Array.from({ length: 65 }, (_, i) => ({ keyid: String(i), sig: '00' }))),
    ],
  ];
  for (const [what, edit] of malformedEnvelope) {
    test(`malformed timestamp envelope (${what}) -> E_MALFORMED`, async () => {
      const bytes = tamper(bytesOf(t.repo.timestamp), edit);
      await assertCode(() => client(new MapFetcher(t.repo).set('timestamp.json', bytes)), 'E_MALFORMED');
    });
  }

  const malformed: [string, (doc: JsonDoc) => void][] = [
    ['version 0', (d) => (d.signed.version = 0)],
    ['version as a string', (d) => (d.signed.version = '3')],
    ['expires not YYYY-MM-DDTHH:MM:SSZ', (d) => (d.signed.expires = '2099-01-01')],
    ['wrong _type (a snapshot served as timestamp)', (d) => (d.signed._type = 'snapshot')],
    ['meta without snapshot.json', (d) => (d.signed.meta = {})],
    ['negative length', (d) => (d.signed.meta['snapshot.json'].length = -1)],
  ];
  for (const [what, edit] of malformed) {
    test(`malformed timestamp (${what}, re-signed) -> E_MALFORMED`, async () => {
      const doc = JSON.parse(bytesOf(t.repo.timestamp).toString());
      edit(doc);
      const bytes = signJson(doc, [k!]);
      await assertCode(() => client(new MapFetcher(t.repo).set('timestamp.json', bytes)), 'E_MALFORMED');
    });
  }

  test('malformed bytes: not JSON, not UTF-8, a JSON array, empty -> E_MALFORMED', async () => {
    for (const bytes of [
      Buffer.from('{"signed":'),
      Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
      Buffer.from('[]'),
      Buffer.alloc(0),
    ]) {
      await assertCode(() => client(new MapFetcher(t.repo).set('timestamp.json', bytes)), 'E_MALFORMED');
    }
  });

  test('malformed root in the chain (missing the timestamp role, re-signed) -> E_MALFORMED', async () => {
    const doc = JSON.parse(
      bytesOf(
        makeRoot({ root: [k!], targets: [k!], snapshot: [k!], timestamp: [k!] }, { version: 2 }),
      ).toString(),
    );
    delete doc.signed.roles.timestamp;
    const m = new MapFetcher(t.repo).set('2.root.json', signJson(doc, [k!]));
    await assertCode(() => client(m), 'E_MALFORMED');
  });

  test('oversized metadata from a mirror that ignores the requested cap -> E_TOO_LARGE', async () => {
    // Timestamp over 16 KiB.
    const m1 = new MapFetcher(t.repo).set(
      'timestamp.json',
      Buffer.concat([bytesOf(t.repo.timestamp), Buffer.from(' '.repeat(16_384))]),
    );
    m1.honourMaxBytes = false;
    await assertCode(() => client(m1), 'E_TOO_LARGE');
    // Root over 512,000 bytes.
    const m2 = new MapFetcher(t.repo).set(
      '2.root.json',
      Buffer.concat([
        bytesOf(makeRoot({ root: [k!], targets: [k!], snapshot: [k!], timestamp: [k!] }, { version: 2 })),
        Buffer.from(' '.repeat(512_000)),
      ]),
    );
    m2.honourMaxBytes = false;
    await assertCode(() => client(m2), 'E_TOO_LARGE');
    // Snapshot and targets longer than their parents signed.
    for (const name of ['2.snapshot.json', '2.targets.json']) {
      const m = new MapFetcher(t.repo);
      m.set(name, Buffer.concat([m.files.get(name)!, Buffer.from('   ')]));
      m.honourMaxBytes = false;
      await assertCode(() => client(m), 'E_TOO_LARGE');
    }
  });

  test('oversized metadata: more keys than the cap in a root -> E_TOO_LARGE', async () => {
    const doc = JSON.parse(bytesOf(t.repo.root).toString());
    for (let i = 0; i < 65; i++)
      doc.signed.keys[i.toString(16).padStart(64, '0')] = {
        keytype: 'ed25519',
        scheme: 'ed25519',
        keyval: { public: k!.publicHex },
      };
    await assertCode(() => new TrustedSet(signJson(doc, [k!]), NOW), 'E_TOO_LARGE');
  });

  test('baseline: the untouched repository is accepted by the same client', async () => {
    await client(new MapFetcher(t.repo));
  });
});

describe('CLI: release publish with keys below the root threshold', () => {
  let dir: { path: string; cleanup(): Promise<void> };
  before(async () => {
    dir = await makeTempDir('dchat-cli-threshold-');
    for (const name of ['k1', 'k2', 'k3', 'outsider']) {
      const r = await dchatSign(['keygen', '--out', name], { cwd: dir.path });
      assert.equal(r.code, 0, describeRun(r));
    }
    await writeFile(join(dir.path, 'dchat-1.0.0-linux-x64'), A);
    const r = await dchat(
      ['release', 'init', '--out', 'repo', '--key', 'k1', '--key', 'k2', '--key', 'k3', '--threshold', '2'],
      { cwd: dir.path },
    );
    assert.equal(r.code, 0, describeRun(r));
  });
  after(() => dir.cleanup());

  /** Every file of the repository with its SHA-256: "writes nothing" means this does not change. */
  async function snapshotTree(): Promise<Map<string, string>> {
    const { readdir } = await import('node:fs/promises');
    const out = new Map<string, string>();
    const walk = async (d: string) => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else out.set(p, digestBytes(await readFile(p)).sha256);
      }
    };
    await walk(join(dir.path, 'repo'));
    return out;
  }

  const publishWith = (...keys: string[]) =>
    publishArgs({
      package: 'dchat-1.0.0-linux-x64',
      version: '1.0.0',
      platform: 'linux-x64',
      out: 'repo',
      key: keys,
    });

  for (const [keys, code] of [
    [['k1'], 'E_THRESHOLD'],
    [['k1', 'k1'], 'E_THRESHOLD'],
    [['outsider'], 'E_UNTRUSTED_KEY'],
  ] as const) {
    test(`--key ${keys.join(' --key ')} -> exit 3 ${code}, nothing written`, async () => {
      const before = await snapshotTree();
      const r = await dchat(publishWith(...keys), { cwd: dir.path });
      assert.equal(r.code, 3, describeRun(r));
      assert.match(r.stderr, new RegExp(`^error\\[${code}\\]: `, 'm'));
      assert.deepEqual(await snapshotTree(), before);
    });
  }

  test('baseline: --key k1 --key k3 meets 2-of-3 and publishes', async () => {
    const r = await dchat(publishWith('k1', 'k3'), { cwd: dir.path });
    assert.equal(r.code, 0, describeRun(r));
    assert.ok((await snapshotTree()).has(join(dir.path, 'repo', 'packages', 'dchat-1.0.0-linux-x64')));
  });
});
