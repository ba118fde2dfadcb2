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

/** Where the client keeps what it trusts: root.json, timestamp.json, snapshot.json, targets.json. */
export interface TrustStore {
  load(role: RoleName): Promise<Uint8Array | undefined>;
  save(role: RoleName, bytes: Uint8Array): Promise<void>;
  remove(role: RoleName): Promise<void>;
}

export interface UpdateResult {
  trusted: TrustedSet;
  /** Root versions followed in this update. */
  rootsApplied: number[];
  /** True when the channel's timestamp was the one we already had. */
  unchanged: boolean;
}

/**
 * Runs the client workflow against `fetcher` and persists every newly trusted document in
 * `store` as soon as it is trusted, so a crash keeps what was proven and anti-rollback state
 * only moves forward.
 */
export async function updateTrust(
  store: TrustStore,
  fetcher: MetadataFetcher,
  now: Date,
): Promise<UpdateResult> {
  const rootBytes = await store.load('root');
  if (!rootBytes)
    throw new DchatError('E_NOT_INITIALIZED', 'no trusted root: run `dchat trust init --root FILE`');
  const ts = new TrustedSet(rootBytes, now);
  const startRoot = ts.root.signed;

  // §5.3: follow the root chain N+1, N+2, ... until the channel has no next one.
  const rootsApplied: number[] = [];
  for (let i = 0; i < LIMITS.maxRootRotations; i++) {
    const next = ts.root.signed.version + 1;
    const bytes = await fetcher.fetch(`${next}.root.json`, LIMITS.rootBytes);
    if (!bytes) break;
    ts.updateRoot(bytes);
    await store.save('root', bytes);
    rootsApplied.push(next);
  }
  ts.checkRootFresh();

  // §5.3.11: if the timestamp or snapshot keys changed, forget those roles' local copies, so a
  // fast-forwarded version signed by a compromised old key cannot block the new keys forever.
  const endRoot = ts.root.signed;
  for (const role of ['timestamp', 'snapshot'] as const) {
    const before = startRoot.roles[role]?.keyIDs.join(',');
    const after = endRoot.roles[role]?.keyIDs.join(',');
    if (before !== after) {
      await store.remove(role);
      if (role === 'snapshot') await store.remove('targets');
    }
  }

  // §5.4: local timestamp first (for its version), then the channel's.
  const localTs = await store.load('timestamp');
  if (localTs) tryLoad(() => ts.updateTimestamp(localTs, true));
  const remoteTs = await fetcher.fetch('timestamp.json', LIMITS.timestampBytes);
  if (!remoteTs) throw new DchatError('E_NOT_FOUND', 'the source has no timestamp.json');
  const outcome = ts.updateTimestamp(remoteTs);
  if (outcome === 'updated') await store.save('timestamp', remoteTs);
  else ts.checkTimestampFresh();

  // §5.5: snapshot, from the store when it is the one the timestamp names.
  const snapVersion = ts.timestamp!.signed.snapshotMeta.version;
  const localSnap = await store.load('snapshot');
  if (localSnap) tryLoad(() => ts.updateSnapshot(localSnap, true));
  if (!ts.snapshot || ts.snapshot.signed.version !== snapVersion) {
    const bytes = await fetcher.fetch(`${snapVersion}.snapshot.json`, ts.snapshotMaxBytes());
    if (!bytes) throw new DchatError('E_NOT_FOUND', `the source has no ${snapVersion}.snapshot.json`);
    ts.updateSnapshot(bytes);
    await store.save('snapshot', bytes);
  } else {
    ts.checkSnapshotFinal();
  }

  // §5.6: targets, likewise.
  const tMeta = ts.targetsMeta();
  const localTargets = await store.load('targets');
  let haveTargets = false;
  if (localTargets) {
    haveTargets = tryLoad(() => ts.updateTargets(localTargets, false));
  }
  if (!haveTargets) {
    const bytes = await fetcher.fetch(`${tMeta.version}.targets.json`, tMeta.length ?? LIMITS.targetsBytes);
    if (!bytes) throw new DchatError('E_NOT_FOUND', `the source has no ${tMeta.version}.targets.json`);
    ts.updateTargets(bytes);
    await store.save('targets', bytes);
  }
  return { trusted: ts, rootsApplied, unchanged: outcome === 'unchanged' };
}

/**
 * Builds the trusted set from the store alone (offline `verify`): the same checks, the same
 * expiry rules, no channel. Fails with E_EXPIRED when the kept metadata is no longer fresh.
 */
export async function loadTrustOffline(store: TrustStore, now: Date): Promise<TrustedSet> {
  const rootBytes = await store.load('root');
  if (!rootBytes)
    throw new DchatError('E_NOT_INITIALIZED', 'no trusted root: run `dchat trust init --root FILE`');
  const ts = new TrustedSet(rootBytes, now);
  ts.checkRootFresh();
  const [tsBytes, snap, targets] = await Promise.all([
    store.load('timestamp'),
    store.load('snapshot'),
    store.load('targets'),
  ]);
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
