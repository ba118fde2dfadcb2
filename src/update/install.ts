/**
 * Install, roll back and list installed versions (DESIGN.md `update/`: the use cases the CLI and
 * the node share, over activation/versions.ts). Install takes a package that passes the full
 * check against the trusted metadata (offline) into versions/<v>; rollback points `current` at an
 * installed version that still passes its signed hash and is still listed by the trusted
 * metadata, never one below a hard fork already activated; old versions are pruned to keep-N, and
 * so are the patches kept for peers.
 */
import { readFile } from 'node:fs/promises';
import { recover, withSwitchLock } from '../activation/recover.ts';
import { type ActivatedFork, rollbackBarrier, versionsToPrune } from '../activation/schedule/schedule.ts';
import {
  historyEntry,
  installVersion,
  type Journal,
  listInstalled,
  readCurrent,
  readJournal,
  removeVersion,
  setCurrent,
  type VersionPaths,
  verifyInstalled,
  versionPaths,
  writeJournal,
} from '../activation/versions.ts';
import { trustOffline } from '../download/trust-session.ts';
import { DchatError } from '../errors.ts';
import { compareVersions } from '../model/version.ts';
import { pruneEncoded } from '../store/encoded.ts';
import type { HomePaths } from '../store/home.ts';
import { findPackage } from '../trust/package-check.ts';
import { verifyPackage } from './verify.ts';

export interface Installed {
  version: string;
  /** True when this install made it current (nothing was installed before). */
  current: boolean;
  pruned: string[];
}

/** Installs packages/dchat-<v>-<p> (verified offline first) into versions/<v>; prunes to `keep`. */
export async function installRelease(
  paths: HomePaths,
  r: { version: string; platform: string; now: Date; keep: number },
): Promise<Installed> {
  const file = paths.packageFile(r.version, r.platform);
  const { verdict, trusted } = await verifyPackage(
    paths,
    { file, version: r.version, platform: r.platform },
    r.now,
  );
  if (!verdict.ok) throw new DchatError(verdict.code, `${file}: ${verdict.message}`);
  const vp = versionPaths(paths);
  await installVersion(vp, file, verdict.target);
  return withSwitchLock(vp, async () => {
    const { current } = await recover(vp, r.now.getTime());
    let made = false;
    if (current === null) {
      await setCurrent(vp, r.version);
      made = true;
    }
    const pruned = await prune(vp, await readJournal(vp), r.keep);
    if (trusted.targets) await pruneEncoded(paths, trusted.targets, r.keep);
    return { version: r.version, current: made, pruned };
  });
}

/** Keep-N: removes the oldest installed versions beyond `keep` (never current, previous, on trial). */
export async function prune(vp: VersionPaths, j: Journal, keep: number): Promise<string[]> {
  const current = await readCurrent(vp);
  const previous = j.history.at(-1)?.from ?? null;
  const gone = versionsToPrune(
    await listInstalled(vp),
    [current, previous, j.trial?.version ?? null, j.trial?.previous ?? null],
    keep,
  );
  for (const v of gone) await removeVersion(vp, v);
  return gone;
}

export interface RolledBack {
  from: string | null;
  to: string;
  /** The pid of the running supervisor that was told to restart on `to`, if any. */
  signalled: number | null;
}

/**
 * `update rollback [--to V]`: to V, or to the version before the current one (the last switch's
 * `from`, else the newest installed below current). `height` is the network height when known
 * (a hard fork counts as activated when it is not).
 */
export async function rollbackTo(
  paths: HomePaths,
  r: { to?: string; now: Date; height: number | null; forks?: readonly ActivatedFork[] },
): Promise<RolledBack> {
  const vp = versionPaths(paths);
  const out = await withSwitchLock(vp, async () => {
    const { current, journal } = await recover(vp, r.now.getTime());
    const installed = await listInstalled(vp);
    const to = r.to ?? previousOf(current, journal, installed);
    if (to === null) throw new DchatError('E_NOT_FOUND', 'no earlier installed version to roll back to');
    if (!installed.includes(to))
      throw new DchatError(
        'E_NOT_FOUND',
        `${to} is not installed (installed: ${installed.sort(compareVersions).join(', ') || 'none'})`,
      );
    const forks = [...(r.forks ?? []), ...journal.forks];
    const barrier = rollbackBarrier(to, forks, r.height);
    if (barrier)
      throw new DchatError(
        'E_BELOW_HARD_FORK',
        `${to} is below the hard fork to ${barrier.version} activated at height ${barrier.activation_height}: it would leave the network`,
        { details: { fork_version: barrier.version, activation_height: barrier.activation_height } },
      );
    const target = await verifyInstalled(vp, to);
    // Still trusted: the release is listed with the same hash by the metadata trusted now.
    const trusted = await trustOffline(paths, r.now);
    const listed = findPackage(trusted.requireTargets(), to, target.custom.platform);
    if (listed.sha256 !== target.sha256)
      throw new DchatError('E_HASH_MISMATCH', `${to}: the trusted metadata now lists another hash for it`);
    if (to === current) return { from: current, to };
    await setCurrent(vp, to);
    journal.trial = null;
    journal.history.push(historyEntry('rollback', current, to, r.now));
    await writeJournal(vp, journal);
    return { from: current, to };
  });
  return { ...out, signalled: await signalSupervisor(vp) };
}

function previousOf(current: string | null, j: Journal, installed: string[]): string | null {
  const last = [...j.history].reverse().find((h) => h.to === current && h.from !== null);
  if (last?.from && installed.includes(last.from)) return last.from;
  if (current === null) return null;
  return (
    installed
      .filter((v) => compareVersions(v, current) < 0)
      .sort(compareVersions)
      .at(-1) ?? null
  );
}

/** Tells a running supervisor (the holder of locks/supervisor.lock) to restart on `current`. */
async function signalSupervisor(vp: VersionPaths): Promise<number | null> {
  try {
    const holder = JSON.parse(await readFile(vp.supervisorLock, 'utf8')) as { pid?: unknown };
    if (typeof holder.pid !== 'number') return null;
    process.kill(holder.pid, 'SIGHUP');
    return holder.pid;
  } catch {
    return null;
  }
}

export interface LocalVersion {
  version: string;
  installed: true;
  current: boolean;
  /** On trial after a switch (not yet marked successful), or installed above current (awaiting activation). */
  pending: boolean;
  verified: boolean;
  rolled_back: boolean;
}

/** What versions/ holds, marked installed/current/pending, each rechecked against its signed hash. */
export async function localVersions(
  paths: HomePaths,
): Promise<{ current: string | null; versions: LocalVersion[]; journal: Journal }> {
  const vp = versionPaths(paths);
  const [current, installed, journal] = await Promise.all([
    readCurrent(vp),
    listInstalled(vp),
    readJournal(vp),
  ]);
  const versions: LocalVersion[] = [];
  for (const v of installed.sort(compareVersions)) {
    const verified = await verifyInstalled(vp, v).then(
      () => true,
      () => false,
    );
    versions.push({
      version: v,
      installed: true,
      current: v === current,
      pending:
        journal.trial?.version === v ||
        (current !== null &&
          compareVersions(v, current) > 0 &&
          !journal.rolled_back.some((r) => r.version === v)),
      verified,
      rolled_back: journal.rolled_back.some((r) => r.version === v),
    });
  }
  return { current, versions, journal };
}
