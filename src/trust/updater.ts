/**
 * The TUF client update (§5.3-5.6) as one sequence over two injected ports: where metadata comes
 * from (a mirror, a directory, a gossip bundle) and where trusted metadata is kept. It does no I/O
 * of its own, so the node, the CLI and the simulator share it.
 */
import { DchatError } from '../errors.ts';
import { LIMITS } from '../model/limits.ts';
import type { RoleName } from './metadata.ts';
import { TrustedSet } from './trusted-set.ts';

export interface MetadataFetcher {
  /** Bytes of a repository metadata file, or undefined if the channel does not have it (404). */
  fetch(name: string, maxBytes: number): Promise<Uint8Array | undefined>;
}

/** Trusted metadata bytes by role: one consistent set, as stored. */
export type TrustDocs = Partial<Record<RoleName, Uint8Array>>;

/**
 * Where the client keeps what it trusts: root, timestamp, snapshot and targets, as ONE set. There
 * is no per-role save: a writer reads the set, verifies, and commits the next set in one step, with
 * every other writer of the store excluded for the whole cycle (an inter-process lock for a home),
 * so neither a concurrent update nor a crash can leave versions mixed or moved backwards.
 */
export interface TrustStore {
  /** The stored set, read at one instant (the default root stands in when none is kept). */
  loadSet(): Promise<TrustDocs>;
  /**
   * Runs `cycle` on the current set as the only writer. `commit(next, roots)` replaces the set
   * atomically (all of it or none of it survives a crash) and keeps `roots` (each root of the chain
   * followed, oldest first) in the root history; a cycle may commit at most once.
   */
  transact<T>(cycle: (current: TrustDocs, commit: TrustCommit) => Promise<T>): Promise<T>;
}

export type TrustCommit = (next: TrustDocs, roots: readonly Uint8Array[]) => Promise<void>;

export interface UpdateResult {
  trusted: TrustedSet;
  /** Root versions followed in this update. */
  rootsApplied: number[];
  /** True when the channel's timestamp was the one we already had. */
  unchanged: boolean;
}

/**
 * Runs the client workflow against `fetcher` as one transaction of `store`: the set it ends with is
 * committed once, complete. When it fails after following new roots, the roots it proved are
 * committed with the rest of the old set (as TUF 5.3 persists each root), so anti-rollback state
 * only moves forward and is never mixed (a new timestamp beside the old snapshot).
 */
export function updateTrust(store: TrustStore, fetcher: MetadataFetcher, now: Date): Promise<UpdateResult> {
  return store.transact((current, commit) => updateCycle(current, commit, fetcher, now));
}

async function updateCycle(
  current: TrustDocs,
  commit: TrustCommit,
  fetcher: MetadataFetcher,
  now: Date,
): Promise<UpdateResult> {
  const rootBytes = current.root;
  if (!rootBytes)
    throw new DchatError('E_NOT_INITIALIZED', 'no trusted root: run `dchat trust init --root FILE`');
  const ts = new TrustedSet(rootBytes, now);
  const startRoot = ts.root.signed;
  const newRoots: Uint8Array[] = [];
  const rootsApplied: number[] = [];

  // The old set under the newest proven root, without the roles whose keys that root replaced
  // (§5.3.11: a fast-forwarded version signed by a compromised old key must not block new keys).
  const rebased = (): TrustDocs => {
    const docs: TrustDocs = { ...current, root: newRoots.at(-1) ?? rootBytes };
    const endRoot = ts.root.signed;
    for (const role of ['timestamp', 'snapshot'] as const) {
      if (startRoot.roles[role]?.keyIDs.join(',') !== endRoot.roles[role]?.keyIDs.join(',')) {
        delete docs[role];
        if (role === 'snapshot') delete docs.targets;
      }
    }
    return docs;
  };

  try {
    // §5.3: follow the root chain N+1, N+2, ... until the channel has no next one.
    for (let i = 0; i < LIMITS.maxRootRotations; i++) {
      const next = ts.root.signed.version + 1;
      const bytes = await fetcher.fetch(`${next}.root.json`, LIMITS.rootBytes);
      if (!bytes) break;
      ts.updateRoot(bytes);
      newRoots.push(bytes);
      rootsApplied.push(next);
    }
    ts.checkRootFresh();
  } catch (err) {
    if (newRoots.length > 0) await commit(rebased(), newRoots);
    throw err;
  }
  const base = rebased();
  const next: TrustDocs = { ...base };
  let outcome: 'updated' | 'unchanged';
  try {
    // §5.4: local timestamp first (for its version), then the channel's.
    if (base.timestamp) tryLoad(() => ts.updateTimestamp(base.timestamp!, true));
    const remoteTs = await fetcher.fetch('timestamp.json', LIMITS.timestampBytes);
    if (!remoteTs) throw new DchatError('E_NOT_FOUND', 'the source has no timestamp.json');
    outcome = ts.updateTimestamp(remoteTs);
    if (outcome === 'updated') next.timestamp = remoteTs;
    else ts.checkTimestampFresh();

    // §5.5: snapshot, from the store when it is the one the timestamp names.
    const snapVersion = ts.timestamp!.signed.snapshotMeta.version;
    if (base.snapshot) tryLoad(() => ts.updateSnapshot(base.snapshot!, true));
    if (!ts.snapshot || ts.snapshot.signed.version !== snapVersion) {
      const bytes = await fetcher.fetch(`${snapVersion}.snapshot.json`, ts.snapshotMaxBytes());
      if (!bytes) throw new DchatError('E_NOT_FOUND', `the source has no ${snapVersion}.snapshot.json`);
      ts.updateSnapshot(bytes);
      next.snapshot = bytes;
    } else {
      ts.checkSnapshotFinal();
    }

    // §5.6: targets, likewise.
    const tMeta = ts.targetsMeta();
    const haveTargets = base.targets ? tryLoad(() => ts.updateTargets(base.targets!, false)) : false;
    if (!haveTargets) {
      const bytes = await fetcher.fetch(`${tMeta.version}.targets.json`, tMeta.length ?? LIMITS.targetsBytes);
      if (!bytes) throw new DchatError('E_NOT_FOUND', `the source has no ${tMeta.version}.targets.json`);
      ts.updateTargets(bytes);
      next.targets = bytes;
    }
  } catch (err) {
    if (newRoots.length > 0) await commit(base, newRoots);
    throw err;
  }
  if (newRoots.length > 0 || ROLES_OF_SET.some((r) => next[r] !== current[r])) await commit(next, newRoots);
  return { trusted: ts, rootsApplied, unchanged: outcome === 'unchanged' };
}

const ROLES_OF_SET: readonly RoleName[] = ['root', 'timestamp', 'snapshot', 'targets'];

/**
 * Builds the trusted set from the store alone (offline `verify`): the same checks, the same
 * expiry rules, no channel. Fails with E_EXPIRED when the kept metadata is no longer fresh.
 */
export async function loadTrustOffline(store: Pick<TrustStore, 'loadSet'>, now: Date): Promise<TrustedSet> {
  const docs = await store.loadSet();
  if (!docs.root)
    throw new DchatError('E_NOT_INITIALIZED', 'no trusted root: run `dchat trust init --root FILE`');
  const ts = new TrustedSet(docs.root, now);
  ts.checkRootFresh();
  const { timestamp: tsBytes, snapshot: snap, targets } = docs;
  if (!tsBytes || !snap || !targets) {
    throw new DchatError(
      'E_NOT_INITIALIZED',
      'no trusted release metadata yet: run `dchat update check` or pass --metadata DIR',
    );
  }
  ts.updateTimestamp(tsBytes);
  ts.updateSnapshot(snap);
  ts.updateTargets(targets);
  return ts;
}

/** Loading our own stored copy may fail (expired, replaced root keys): then the channel decides. */
function tryLoad(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof DchatError) return false;
    throw err;
  }
}
