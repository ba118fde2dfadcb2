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

/** Where the client keeps what it trusts: root.json, timestamp.json, snapshot.json, targets.json. */
export interface TrustStore {
  load(role: RoleName): Promise<Uint8Array | undefined>;
  save(role: RoleName, bytes: Uint8Array): Promise<void>;
  remove(role: RoleName): Promise<void>;
}

export type { UpdateResult } from './update-steps.ts';

/**
 * Runs the client workflow (update-steps.ts) against `fetcher` and persists every newly trusted
 * document in `store` as soon as it is trusted. For bytes already in memory (a gossip bundle),
 * `applyBundle` runs the same steps synchronously.
 */
export async function updateTrust(
  store: TrustStore,
  fetcher: MetadataFetcher,
  now: Date,
): Promise<UpdateResult> {
  const steps = updateSteps(now);
  let r = steps.next();
  while (!r.done) {
    const op = r.value;
    let answer: Uint8Array | undefined;
    if (op.op === 'load') answer = await store.load(op.role);
    else if (op.op === 'fetch') answer = await fetcher.fetch(op.name, op.maxBytes);
    else if (op.op === 'save') await store.save(op.role, op.bytes);
    else await store.remove(op.role);
    r = steps.next(answer);
  }
  return r.value;
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
