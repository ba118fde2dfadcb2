/**
 * The TUF client update (§5.3-5.6) over two injected async ports: where metadata comes from (a
 * mirror, a directory) and where trusted metadata is kept. The sequence itself is update-steps.ts;
 * this file only drives it, so the node, the CLI and the simulator share it.
 */
import { DchatError } from '../errors.ts';
import type { RoleName } from './metadata.ts';
import { TrustedSet } from './trusted-set.ts';
import { type UpdateResult, updateSteps } from './update-steps.ts';

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

export type { UpdateResult } from './update-steps.ts';

const SET_ROLES: readonly RoleName[] = ['root', 'timestamp', 'snapshot', 'targets'];

/**
 * Runs the client workflow (update-steps.ts) against `fetcher` as one transaction of `store`: its
 * loads and saves go to a staged copy of the set, committed once, complete, at the end. When it
 * fails after following new roots, the roots it proved are committed with the rest of the old set
 * (as TUF 5.3 persists each root; minus the roles whose keys they replaced), so anti-rollback state
 * only moves forward and is never mixed (a new timestamp beside the old snapshot). For bytes
 * already in memory (a gossip bundle), `applyBundle` runs the same steps synchronously.
 */
export function updateTrust(store: TrustStore, fetcher: MetadataFetcher, now: Date): Promise<UpdateResult> {
  return store.transact(async (current, commit) => {
    const staged: TrustDocs = { ...current };
    const newRoots: Uint8Array[] = [];
    const removed = new Set<RoleName>();
    const steps = updateSteps(now);
    try {
      let r = steps.next();
      while (!r.done) {
        const op = r.value;
        let answer: Uint8Array | undefined;
        if (op.op === 'load') answer = staged[op.role];
        else if (op.op === 'fetch') answer = await fetcher.fetch(op.name, op.maxBytes);
        else if (op.op === 'save') {
          staged[op.role] = op.bytes;
          if (op.role === 'root') newRoots.push(op.bytes);
        } else {
          delete staged[op.role];
          removed.add(op.role);
        }
        r = steps.next(answer);
      }
      if (newRoots.length > 0 || SET_ROLES.some((role) => staged[role] !== current[role]))
        await commit(staged, newRoots);
      return r.value;
    } catch (err) {
      if (newRoots.length > 0) {
        const rootsOnly: TrustDocs = { ...current, root: newRoots.at(-1) };
        for (const role of removed) delete rootsOnly[role];
        await commit(rootsOnly, newRoots);
      }
      throw err;
    }
  });
}

/**
 * Builds the trusted set from the store alone (offline `verify`): the same checks, the same
 * expiry rules, no channel, over one read of the set. Fails with E_EXPIRED when the kept metadata
 * is no longer fresh.
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
