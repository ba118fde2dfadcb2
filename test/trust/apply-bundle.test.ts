/**
 * Synchronous trust (trust/apply-bundle.ts): the TUF update over a bundle in memory runs the same
 * sequence as the async refresh from a mirror (trust/update-steps.ts), so both reach the same
 * trusted state; it never touches its input; it says exactly which documents to persist, in order
 * (roots first); and the node commits those bytes once, without a second verification.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BundleFetcher, bundleFrom, MemoryTrustStore } from '../../src/gossip/libp2p/bundle.ts';
import { NodeTrust } from '../../src/gossip/libp2p/node-trust.ts';
import { ANNOUNCE_FORMAT, type TufBundle } from '../../src/model/announcement.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import {
  forgeBundle,
  prepareReleases,
  rotateAndPublish,
  type TestRelease,
} from '../../src/testnet/release.ts';
import { applyBundle, type TrustDocs } from '../../src/trust/apply-bundle.ts';
import type { RoleName } from '../../src/trust/metadata.ts';
import { parseMetadata } from '../../src/trust/metadata.ts';
import { type TrustStore, updateTrust } from '../../src/trust/updater.ts';

const now = new Date();
const versionOf = (role: RoleName, b: Uint8Array | undefined) =>
  b ? parseMetadata(role, b).signed.version : undefined;

describe('applyBundle', () => {
  let dir: string;
  let rel: TestRelease;
  let rotated: TestRelease;
  let rootV1: Buffer;
  let relRoot: Buffer;
  let rotatedBundle: TufBundle;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dchat-apply-'));
    const common = { platform: 'linux-x64', packageBytes: 2000, chunkSize: 16 * 1024, now };
    [rel] = (await prepareReleases({ dir: join(dir, 'a'), versions: ['1.0.0'], ...common })) as [TestRelease];
    relRoot = await readFile(join(rel.repoDir, 'root.json'));
    // A second repository that rotated its keys twice after 1.0.0, then published 2.0.0.
    const [first] = (await prepareReleases({ dir: join(dir, 'b'), versions: ['1.0.0'], ...common })) as [
      TestRelease,
    ];
    const firstRoot = await readFile(join(first.repoDir, 'root.json'));
    rotated = await rotateAndPublish(first, { times: 2, version: '2.0.0', ...common });
    // The sender updated from the mirror, following v2 and v3 (kept, as a node keeps them).
    const sender = new MemoryTrustStore({ root: firstRoot });
    await updateTrust(sender, new DirectoryFetcher(rotated.repoDir), now);
    rotatedBundle = bundleFrom({ ...sender.docs, previousRoots: sender.roots.slice(0, -1) });
    assert.deepEqual(
      rotatedBundle.roots.map((b) => versionOf('root', Buffer.from(b, 'base64'))),
      [2, 3],
    );
    rootV1 = firstRoot;
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('the same trusted state as the async update over the same bytes; the input is untouched', async () => {
    const input: TrustDocs = { root: relRoot };
    const r = applyBundle(input, rel.bundle, now);
    assert.deepEqual(Object.keys(input), ['root']);
    const store = new MemoryTrustStore({ root: relRoot });
    const async = await updateTrust(store, new BundleFetcher(rel.bundle), now);
    for (const role of ['root', 'timestamp', 'snapshot', 'targets'] as const)
      assert.deepEqual(r.docs[role], store.docs[role], role);
    assert.equal(r.unchanged, async.unchanged);
    assert.deepEqual(
      r.changes.map((c) => c.role),
      ['timestamp', 'snapshot', 'targets'],
    );
    assert.equal(r.trusted.requireTargets().signed.version, async.trusted.requireTargets().signed.version);
    // Applying it again to the new state changes nothing.
    const again = applyBundle(r.docs, rel.bundle, now);
    assert.equal(again.unchanged, true);
    assert.deepEqual(again.changes, []);
  });

  test('a key rotation: roots are followed and listed first, then what the new keys replace', () => {
    const r = applyBundle({ root: rootV1 }, rotatedBundle, now);
    assert.deepEqual(r.rootsApplied, [2, 3]);
    assert.deepEqual(
      r.changes.map((c) =>
        c.bytes ? `${c.role}${c.role === 'root' ? versionOf('root', c.bytes) : ''}` : `-${c.role}`,
      ),
      // The rotation replaced the timestamp and snapshot keys: their old copies are forgotten (§5.3.11).
      ['root2', 'root3', '-timestamp', '-snapshot', '-targets', 'timestamp', 'snapshot', 'targets'],
    );
    assert.equal(versionOf('root', r.docs.root), 3);
  });

  test('a forged or foreign bundle throws a security code and leaves the input as it was', () => {
    const input: TrustDocs = { root: relRoot };
    assert.throws(
      () => applyBundle(input, forgeBundle(rel.bundle, '9.0.0'), now),
      (e: { code?: string }) =>
        ['E_HASH_MISMATCH', 'E_SIGNATURE', 'E_SIZE_MISMATCH', 'E_TOO_LARGE'].includes(e.code ?? ''),
    );
    assert.throws(
      () => applyBundle(input, rotated.bundle, now),
      (e: { code?: string }) => ['E_UNTRUSTED_KEY', 'E_SIGNATURE'].includes(e.code ?? ''),
    );
    assert.deepEqual(Object.keys(input), ['root']);
  });

  test('the node verifies once and persists what it verified: one set written once, nothing re-read', async () => {
    const writes: string[] = [];
    const store = new MemoryTrustStore({ root: rootV1 });
    const spy: TrustStore = {
      loadSet: () => store.loadSet(),
      transact: (cycle) =>
        store.transact((current, commit) =>
          cycle(current, async (next, roots) => {
            writes.push(
              ...roots.map((b) => `root${versionOf('root', b)}`),
              ...(['root', 'timestamp', 'snapshot', 'targets'] as const).map(
                (r) => `${r}${r === 'root' ? versionOf('root', next.root) : next[r] ? '' : ' (none)'}`,
              ),
            );
            await commit(next, roots);
          }),
        ),
    };
    const trust = new NodeTrust(spy, () => now);
    await trust.load();
    const v = trust.validate({
      format: ANNOUNCE_FORMAT,
      id: '7d1f0e4a-6b7c-4d8e-9f01-23456789abcd',
      node_id: 'x',
      version: '2.0.0',
      metadata: rotatedBundle,
      sources: [],
      timestamp: now.toISOString(),
      ttl: 3,
    });
    assert.ok(v.ok && v.proof, JSON.stringify(v));
    assert.deepEqual(writes, [], 'a check writes nothing');
    const commit = trust.commit(v.proof as Parameters<NodeTrust['commit']>[0]);
    // The verified state is the trusted one at once: the next check runs against it.
    assert.equal(trust.highest, '2.0.0');
    await commit;
    // One commit: the roots followed (kept for the chain), then the whole new set.
    assert.deepEqual(writes, ['root2', 'root3', 'root3', 'timestamp', 'snapshot', 'targets']);
    for (const role of ['root', 'timestamp', 'snapshot', 'targets'] as const)
      assert.deepEqual(store.docs[role], trust.docs[role], role);
    assert.equal(trust.docs.previousRoots?.length, 1, 'root v2 kept below v3 to hand on');
  });
});
