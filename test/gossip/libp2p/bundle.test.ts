/**
 * The announcement check (verifyBundle: the TUF client update over a bundle against the node's
 * trusted state) and the local control socket's defences, without any network.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { trustUpdate } from '../../../src/download/trust-session.ts';
import {
  BundleFetcher,
  bundleFrom,
  MemoryTrustStore,
  snapshotOf,
  verifyBundle,
} from '../../../src/gossip/libp2p/bundle.ts';
import { ControlServer, controlRequest, MAX_REQUEST_BYTES } from '../../../src/node/control.ts';
import { DirectoryFetcher } from '../../../src/sources/directory-fetcher.ts';
import { homePaths } from '../../../src/store/home.ts';
import { FileTrustStore } from '../../../src/store/trust-store.ts';
import { trustInit } from '../../../src/testnet/harness.ts';
import {
  forgeBundle,
  prepareReleases,
  rotateAndPublish,
  type TestRelease,
} from '../../../src/testnet/release.ts';
import { parseMetadata } from '../../../src/trust/metadata.ts';
import { updateTrust } from '../../../src/trust/updater.ts';

describe('verifyBundle', () => {
  let dir: string;
  let old: TestRelease;
  let cur: TestRelease;
  let stranger: TestRelease;
  let root: Buffer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dchat-bundle-'));
    const common = { platform: 'linux-x64', packageBytes: 20_000, chunkSize: 16 * 1024, now: new Date() };
    [old, cur] = (await prepareReleases({
      dir: join(dir, 'r'),
      versions: ['0.9.0', '1.0.0'],
      ...common,
    })) as [TestRelease, TestRelease];
    [stranger] = (await prepareReleases({ dir: join(dir, 's'), versions: ['9.9.9'], ...common })) as [
      TestRelease,
    ];
    root = await readFile(join(cur.repoDir, 'root.json'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a genuine bundle passes and names its version; nothing is written to the given state', async () => {
    const state = { root };
    const v = await verifyBundle(state, cur.bundle, { version: '1.0.0', platform: 'linux-x64' }, new Date());
    assert.ok(v.ok);
    assert.ok(v.docs.targets, 'the verified state carries the new targets');
    assert.deepEqual(Object.keys(state), ['root']);
  });

  test('forged, untrusted, mislabelled and rolled-back bundles fail with security codes', async () => {
    const forged = await verifyBundle(
      { root },
      forgeBundle(cur.bundle, '9.0.0'),
      { version: '9.0.0' },
      new Date(),
    );
    // Same length as signed (two targets, one renamed to a version as long): the hash gives it away.
    assert.ok(
      !forged.ok && forged.error.code === 'E_HASH_MISMATCH',
      JSON.stringify(!forged.ok && forged.error.code),
    );
    const untrusted = await verifyBundle({ root }, stranger.bundle, { version: '9.9.9' }, new Date());
    assert.ok(
      !untrusted.ok && ['E_SIGNATURE', 'E_UNTRUSTED_KEY', 'E_THRESHOLD'].includes(untrusted.error.code),
    );
    const lie = await verifyBundle({ root }, cur.bundle, { version: '2.0.0' }, new Date());
    assert.ok(!lie.ok && lie.error.code === 'E_VERSION_MISMATCH');
    // A node that trusts 1.0.0 is offered the older 0.9.0 metadata: rollback.
    const mem = new MemoryTrustStore({ root });
    await updateTrust(mem, new BundleFetcher(cur.bundle), new Date());
    const replay = await verifyBundle(mem.docs, old.bundle, { version: '0.9.0' }, new Date());
    assert.ok(!replay.ok && replay.error.code === 'E_ROLLBACK');
    // Expired by the reference time: freeze.
    const late = await verifyBundle(
      { root },
      cur.bundle,
      { version: '1.0.0' },
      new Date(Date.now() + 400 * 86_400_000),
    );
    assert.ok(!late.ok && late.error.code === 'E_EXPIRED');
  });

  test('bundleFrom round-trips the trusted documents', async () => {
    const mem = new MemoryTrustStore({ root });
    await updateTrust(mem, new BundleFetcher(cur.bundle), new Date());
    const b = bundleFrom(mem.docs);
    assert.equal(b.targets, cur.bundle.targets);
    assert.deepEqual(b.roots, [], 'root v1 is not repeated');
  });
});

describe('root chain in bundles', () => {
  let dir: string;
  let rootV1: Buffer;
  let rel: TestRelease;
  let stranger: TestRelease;
  const now = new Date();
  const versionOf = (b64: string) => parseMetadata('root', Buffer.from(b64, 'base64')).signed.version;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dchat-chain-'));
    const common = { platform: 'linux-x64', packageBytes: 20_000, chunkSize: 16 * 1024, now };
    const [first] = (await prepareReleases({ dir: join(dir, 'r'), versions: ['1.0.0'], ...common })) as [
      TestRelease,
    ];
    rootV1 = await readFile(join(first.repoDir, 'root.json'));
    rel = await rotateAndPublish(first, { times: 2, version: '2.0.0', ...common });
    [stranger] = (await prepareReleases({ dir: join(dir, 's'), versions: ['9.9.9'], ...common })) as [
      TestRelease,
    ];
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** A home pinned to root v1 that then updated from the mirror (following v2 and v3). */
  const sender = async (name: string) => {
    const paths = homePaths(join(dir, name));
    await trustInit(paths, rootV1, now);
    await trustUpdate(paths, new DirectoryFetcher(rel.repoDir), now);
    return paths;
  };

  test('a node pinned to root v1 accepts a bundle made after two key rotations', async () => {
    const paths = await sender('a');
    const snap = await snapshotOf(new FileTrustStore(paths));
    assert.equal(parseMetadata('root', snap.root as Uint8Array).signed.version, 3);
    const b = bundleFrom(snap);
    assert.deepEqual(b.roots.map(versionOf), [2, 3], 'the chain from v2 up, oldest first');
    const v = await verifyBundle({ root: rootV1 }, b, { version: '2.0.0', platform: 'linux-x64' }, now);
    assert.ok(v.ok, JSON.stringify(!v.ok && v.error.toJSON()));
    assert.equal(parseMetadata('root', v.docs.root as Uint8Array).signed.version, 3);
    // The current root alone cannot be followed from v1 (no v2): v1 does not know v3's keys.
    const short = await verifyBundle({ root: rootV1 }, bundleFrom(snap, 1), { version: '2.0.0' }, now);
    assert.ok(!short.ok && short.error.code === 'E_UNTRUSTED_KEY', JSON.stringify(!short.ok && short.error));
    // A node already at v2 needs only v3, and takes the full bundle as well.
    const atV2 = await verifyBundle(
      { root: Buffer.from(b.roots[0] as string, 'base64') },
      b,
      { version: '2.0.0' },
      now,
    );
    assert.ok(atV2.ok);
  });

  test('only a chain that links up is handed out: a gap or a foreign root ends it', async () => {
    const paths = await sender('b');
    const store = new FileTrustStore(paths);
    await copyFile(join(stranger.repoDir, 'root.json'), paths.rootHistoryFile(2));
    assert.deepEqual(bundleFrom(await snapshotOf(store)).roots.map(versionOf), [3]);
    await rm(paths.rootHistoryFile(2));
    assert.deepEqual(bundleFrom(await snapshotOf(store)).roots.map(versionOf), [3]);
  });
});

describe('control socket', () => {
  let dir: string;
  let server: ControlServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dchat-ctl-'));
    server = new ControlServer(homePaths(dir), { echo: async (p) => ({ got: p }) });
    await server.start();
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const raw = (payload: string | Buffer) =>
    new Promise<string>((resolve, reject) => {
      const s = connect(server.socketPath);
      const parts: Buffer[] = [];
      s.on('data', (d) => parts.push(d));
      s.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
      s.on('error', reject);
      s.write(payload);
    });

  test('answers requests; refuses unknown methods, bad JSON and oversized requests', async () => {
    assert.deepEqual(await controlRequest(homePaths(dir), 'echo', { a: 1 }), { got: { a: 1 } });
    await assert.rejects(
      controlRequest(homePaths(dir), 'nope'),
      (e: { code?: string }) => e.code === 'E_USAGE',
    );
    assert.equal(JSON.parse(await raw('not json\n')).error.code, 'E_MALFORMED');
    assert.equal(JSON.parse(await raw(Buffer.alloc(MAX_REQUEST_BYTES + 10, 0x61))).error.code, 'E_TOO_LARGE');
  });

  test('a second server on the same home is refused while the first answers', async () => {
    const twin = new ControlServer(homePaths(dir), {});
    await assert.rejects(twin.start(), (e: { code?: string }) => e.code === 'E_BUSY');
  });
});
