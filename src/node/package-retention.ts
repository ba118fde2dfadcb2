/**
 * Keep-N for packages/ on a node (apt's autoclean, for a process that runs for months and fetches
 * every release it hears of): per platform, the `keep_versions` newest verified packages stay,
 * and so do the version this node runs, the one `current` names and every release governance
 * approved (the activation pre-downloads it and installs from packages/). The rest is removed and
 * no longer served; the BitTorrent seeder leaves its torrent at its next sync.
 */
import type { Logger } from 'pino';
import { versionsToPrune } from '../activation/schedule/schedule.ts';
import { readCurrent, versionPaths } from '../activation/versions.ts';
import { loadAutoUpdateConfig } from '../store/auto-update-config.ts';
import type { HomePaths } from '../store/home.ts';
import { removePackage } from '../store/packages.ts';
import type { PackageStore, StoredPackage } from './package-store.ts';

export interface RetentionInput {
  paths: HomePaths;
  store: PackageStore;
  keep: number;
  /** Versions never removed (running, approved): `current` is added here. */
  protect: readonly string[];
}

/** Removes the packages beyond keep-N; returns their target paths. */
export async function prunePackages(o: RetentionInput): Promise<string[]> {
  const current = await readCurrent(versionPaths(o.paths)).catch(() => null);
  const protect = [...o.protect, current];
  // Per platform, by version (one package per version and platform).
  const byPlatform = new Map<string, Map<string, StoredPackage>>();
  for (const p of o.store.list()) {
    const held = byPlatform.get(p.target.custom.platform) ?? new Map<string, StoredPackage>();
    byPlatform.set(p.target.custom.platform, held.set(p.target.custom.version, p));
  }
  const gone: string[] = [];
  for (const held of byPlatform.values()) {
    for (const v of versionsToPrune([...held.keys()], protect, o.keep)) {
      const p = held.get(v);
      if (!p) continue;
      o.store.forget(p.target.path);
      await removePackage(o.paths, p.target);
      gone.push(p.target.path);
    }
  }
  return gone;
}

/** prunePackages with the home's `keep_versions`; logs what went, never throws (best effort). */
export async function retainPackages(o: Omit<RetentionInput, 'keep'> & { log: Logger }): Promise<void> {
  try {
    const { config } = await loadAutoUpdateConfig(o.paths);
    const gone = await prunePackages({ ...o, keep: config.keep_versions });
    if (gone.length) o.log.info({ pruned: gone, keep: config.keep_versions }, 'packages pruned to keep-N');
  } catch (err) {
    o.log.warn({ error: (err as Error).message }, 'packages not pruned');
  }
}
