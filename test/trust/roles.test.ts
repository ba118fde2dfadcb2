/**
 * Per-role keys and staged (detached) signing in the pure release layer (trust/repository.ts,
 * trust/rotation.ts), checked by our own client (updateTrust): each role's threshold counts only
 * its own keys; a staged document commits only at its threshold; signatures merged from copies
 * count once per key; a rotation of the targets keys stages a new targets that the NEW keys sign.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseMetadata, serializeMetadata } from '../../src/trust/metadata.ts';
import {
  addSignatures,
  commitStaged,
  mergeSignatures,
  prepareInit,
  type Repo,
  type RoleSpecs,
  roleSpecsOf,
  signedBytes,
} from '../../src/trust/repository.ts';
import { planRotation } from '../../src/trust/rotation.ts';
import { tallySignatures } from '../../src/trust/signatures.ts';
import { updateTrust } from '../../src/trust/updater.ts';
import { assertCode, DAY, InMemoryTrustStore, MapFetcher, makeKeys, NOW } from '../helpers/repo.ts';

const EXP = {
  now: NOW,
  rootExpiresSec: 365 * DAY,
  targetsExpiresSec: 30 * DAY,
  snapshotExpiresSec: 7 * DAY,
  timestampExpiresSec: 7 * DAY,
};
const [a, b, c, t1, t2, t3, online] = makeKeys(7);
const specs: RoleSpecs = {
  root: { keys: [a!, b!, c!], threshold: 2 },
  targets: { keys: [t1!, t2!], threshold: 2 },
  snapshot: { keys: [online!], threshold: 1 },
  timestamp: { keys: [online!], threshold: 1 },
};

/** A committed repository whose root and targets were each signed by separate signing rounds. */
function ceremonyRepo(): Repo {
  const staged = prepareInit(specs, [], EXP);
  // Each maintainer signs a copy; the copies are merged.
  for (const k of [a!, c!]) {
    const copy = structuredCloneMetadata(staged.root!);
    mergeSignatures(staged.root!, addSignatures(copy, [k]), k.keyId);
  }
  addSignatures(staged.targets!, [t1!]);
  addSignatures(staged.targets!, [t2!]);
  return commitStaged(undefined, staged, [online!], EXP);
}

/** A copy as a maintainer receives it: the file's bytes, parsed again. */
function structuredCloneMetadata<T extends Repo['root'] | Repo['targets']>(md: T): T {
  return parseMetadata(md.signed.type as 'root' | 'targets', serializeMetadata(md)) as T;
}

describe('per-role keys, staged signing', () => {
  test('a repository signed round by round verifies; each role counts only its own keys', async () => {
    const repo = ceremonyRepo();
    assert.equal(tallySignatures(repo.root.signed, 'root', repo.root).valid, 2);
    assert.equal(tallySignatures(repo.root.signed, 'timestamp', repo.timestamp).valid, 1);
    const m = new MapFetcher(repo);
    const r = await updateTrust(new InMemoryTrustStore(repo.root), m, NOW);
    assert.equal(r.trusted.requireTargets().signed.version, 1);
  });

  test('below threshold: nothing commits (E_THRESHOLD), and a root key cannot stand in for a targets key', () => {
    const staged = prepareInit(specs, [a!, t1!], EXP);
    return assertCode(() => commitStaged(undefined, staged, [online!], EXP), 'E_THRESHOLD').then(async () => {
      addSignatures(staged.root!, [b!]);
      addSignatures(staged.targets!, [a!]); // not a targets key: untrusted, does not count
      const e = await assertCode(() => commitStaged(undefined, staged, [online!], EXP), 'E_THRESHOLD');
      assert.match(e.message, /targets: signed by 1 of the 2/);
    });
  });

  test('the same signature merged twice counts once; a copy of other bytes is refused', async () => {
    const staged = prepareInit(specs, [], EXP);
    const copy = structuredCloneMetadata(staged.root!);
    addSignatures(copy, [a!]);
    mergeSignatures(staged.root!, copy, 'copy');
    mergeSignatures(staged.root!, copy, 'copy again');
    assert.equal(tallySignatures(staged.root!.signed, 'root', staged.root!).valid, 1);
    const other = prepareInit({ ...specs, root: { keys: [a!, b!], threshold: 2 } }, [a!], EXP).root!;
    assert.notDeepEqual(signedBytes(other), signedBytes(staged.root!));
    await assertCode(() => mergeSignatures(staged.root!, other, 'other'), 'E_WRONG_TARGET');
  });

  test('the online key alone refreshes; targets keys cannot sign the timestamp', async () => {
    const repo = ceremonyRepo();
    const next = commitStaged(repo, {}, [online!], { ...EXP, now: new Date(NOW.getTime() + 6 * DAY * 1000) });
    assert.equal(next.timestamp.signed.version, 2);
    assert.equal(next.targets.signed.version, 1);
    await assertCode(() => commitStaged(repo, {}, [t1!, t2!], EXP), 'E_UNTRUSTED_KEY');
  });

  test('rotating the targets keys stages root AND targets; the new targets needs the NEW keys', async () => {
    const repo = ceremonyRepo();
    const next: RoleSpecs = { ...roleSpecsOf(repo.root.signed), targets: { keys: [t2!, t3!], threshold: 2 } };
    const plan = planRotation(repo, next, [], EXP);
    assert.ok(plan.staged.root && plan.staged.targets, 'targets re-signed under the new keys');
    assert.equal(plan.staged.targets.signed.version, 2);
    addSignatures(plan.staged.root, [a!, b!]);
    addSignatures(plan.staged.targets, [t1!, t2!]); // t1 is retired: only t2 counts
    await assertCode(() => commitStaged(repo, plan.staged, [online!], EXP), 'E_THRESHOLD');
    addSignatures(plan.staged.targets, [t3!]);
    const rotated = commitStaged(repo, plan.staged, [online!], EXP);
    const m = new MapFetcher(rotated, [plan.staged.root]);
    const r = await updateTrust(new InMemoryTrustStore(repo.root), m, NOW);
    assert.deepEqual(r.rootsApplied, [2]);
  });

  test('rotating only the online key stages the root alone (the current targets stays valid)', async () => {
    const repo = ceremonyRepo();
    const [online2] = makeKeys(1);
    const cur = roleSpecsOf(repo.root.signed);
    const plan = planRotation(
      repo,
      { ...cur, snapshot: { keys: [online2!], threshold: 1 }, timestamp: { keys: [online2!], threshold: 1 } },
      [],
      EXP,
    );
    assert.equal(plan.staged.targets, undefined);
    addSignatures(plan.staged.root!, [b!]);
    const e = await assertCode(() => commitStaged(repo, plan.staged, [online2!], EXP), 'E_THRESHOLD');
    assert.match(e.message, /new root \(old keys\)/);
    addSignatures(plan.staged.root!, [c!]);
    const rotated = commitStaged(repo, plan.staged, [online2!], EXP);
    await assertCode(() => commitStaged(rotated, {}, [online!], EXP), 'E_UNTRUSTED_KEY');
    const r = await updateTrust(
      new InMemoryTrustStore(repo.root),
      new MapFetcher(rotated, [plan.staged.root!]),
      NOW,
    );
    assert.deepEqual(r.rootsApplied, [2]);
  });
});
