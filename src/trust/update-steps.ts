/**
 * The TUF client update (§5.3-5.6) as one sans-IO sequence: a generator that yields what it needs
 * done (load or save a trusted role, remove one, fetch a file from the channel) and is resumed with
 * the answer. Two drivers run it: `updateTrust` (updater.ts) over async ports (a mirror, the
 * store on disk), and `applyBundle` (apply-bundle.ts) synchronously over bytes already in memory
 * (a gossip bundle against the node's in-memory trusted state). One sequence, so a bundle is
 * checked exactly as a mirror is.
 */
import { DchatError } from '../errors.ts';
import { LIMITS } from '../model/limits.ts';
import type { RoleName } from './metadata.ts';
import { TrustedSet } from './trusted-set.ts';

export type UpdateOp =
  | { op: 'load'; role: RoleName }
  | { op: 'fetch'; name: string; maxBytes: number }
  | { op: 'save'; role: RoleName; bytes: Uint8Array }
  | { op: 'remove'; role: RoleName };

export interface UpdateResult {
  trusted: TrustedSet;
  /** Root versions followed in this update. */
  rootsApplied: number[];
  /** True when the channel's timestamp was the one we already had. */
  unchanged: boolean;
}

/** `load` and `fetch` are resumed with bytes or undefined (none / 404); `save` and `remove` with undefined. */
export type UpdateSteps = Generator<UpdateOp, UpdateResult, Uint8Array | undefined>;

/**
 * Every newly trusted document is yielded as a `save` as soon as it is trusted, so a driver that
 * persists them keeps what was proven even if it crashes half-way, and anti-rollback state only
 * moves forward.
 */
export function* updateSteps(now: Date): UpdateSteps {
  const rootBytes = yield { op: 'load', role: 'root' };
  if (!rootBytes)
    throw new DchatError('E_NOT_INITIALIZED', 'no trusted root: run `dchat trust init --root FILE`');
  const ts = new TrustedSet(rootBytes, now);
  const startRoot = ts.root.signed;

  // §5.3: follow the root chain N+1, N+2, ... until the channel has no next one.
  const rootsApplied: number[] = [];
  for (let i = 0; i < LIMITS.maxRootRotations; i++) {
    const next = ts.root.signed.version + 1;
    const bytes = yield { op: 'fetch', name: `${next}.root.json`, maxBytes: LIMITS.rootBytes };
    if (!bytes) break;
    ts.updateRoot(bytes);
    yield { op: 'save', role: 'root', bytes };
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
      yield { op: 'remove', role };
      if (role === 'snapshot') yield { op: 'remove', role: 'targets' };
    }
  }

  // §5.4: local timestamp first (for its version), then the channel's.
  const localTs = yield { op: 'load', role: 'timestamp' };
  if (localTs) tryLoad(() => ts.updateTimestamp(localTs, true));
  const remoteTs = yield { op: 'fetch', name: 'timestamp.json', maxBytes: LIMITS.timestampBytes };
  if (!remoteTs) throw new DchatError('E_NOT_FOUND', 'the source has no timestamp.json');
  const outcome = ts.updateTimestamp(remoteTs);
  if (outcome === 'updated') yield { op: 'save', role: 'timestamp', bytes: remoteTs };
  else ts.checkTimestampFresh();

  // §5.5: snapshot, from the store when it is the one the timestamp names.
  const snapVersion = ts.timestamp!.signed.snapshotMeta.version;
  const localSnap = yield { op: 'load', role: 'snapshot' };
  if (localSnap) tryLoad(() => ts.updateSnapshot(localSnap, true));
  if (!ts.snapshot || ts.snapshot.signed.version !== snapVersion) {
    const bytes = yield {
      op: 'fetch',
      name: `${snapVersion}.snapshot.json`,
      maxBytes: ts.snapshotMaxBytes(),
    };
    if (!bytes) throw new DchatError('E_NOT_FOUND', `the source has no ${snapVersion}.snapshot.json`);
    ts.updateSnapshot(bytes);
    yield { op: 'save', role: 'snapshot', bytes };
  } else {
    ts.checkSnapshotFinal();
  }

  // §5.6: targets, likewise.
  const tMeta = ts.targetsMeta();
  const localTargets = yield { op: 'load', role: 'targets' };
  let haveTargets = false;
  if (localTargets) haveTargets = tryLoad(() => ts.updateTargets(localTargets, false));
  if (!haveTargets) {
    const bytes = yield {
      op: 'fetch',
      name: `${tMeta.version}.targets.json`,
      maxBytes: tMeta.length ?? LIMITS.targetsBytes,
    };
    if (!bytes) throw new DchatError('E_NOT_FOUND', `the source has no ${tMeta.version}.targets.json`);
    ts.updateTargets(bytes);
    yield { op: 'save', role: 'targets', bytes };
  }
  return { trusted: ts, rootsApplied, unchanged: outcome === 'unchanged' };
}

/** Loading our own stored copy may fail (expired, replaced root keys): then the channel decides. */
export function tryLoad(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof DchatError) return false;
    throw err;
  }
}
