/**
 * Opens the node's trust for one operation: the store under $DCHAT_HOME (with the shipped default
 * root when none was pinned) and, when given a channel, a TUF client update through it first.
 */

import { loadDefaultRoot } from '../store/default-root.ts';
import type { HomePaths } from '../store/home.ts';
import { FileTrustStore } from '../store/trust-store.ts';
import type { TrustedSet } from '../trust/trusted-set.ts';
import { loadTrustOffline, type MetadataFetcher, type UpdateResult, updateTrust } from '../trust/updater.ts';

export async function openTrustStore(paths: HomePaths): Promise<FileTrustStore> {
  return new FileTrustStore(paths, await loadDefaultRoot());
}

/** Trust from the store only (offline). */
export async function trustOffline(paths: HomePaths, now: Date): Promise<TrustedSet> {
  return loadTrustOffline(await openTrustStore(paths), now);
}

/** TUF client update through `fetcher`, persisting what it accepts. */
export async function trustUpdate(
  paths: HomePaths,
  fetcher: MetadataFetcher,
  now: Date,
): Promise<UpdateResult> {
  return updateTrust(await openTrustStore(paths), fetcher, now);
}
