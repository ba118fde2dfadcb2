/**
 * What a supervisor does first, and what `update rollback` does under the same lock: bring the
 * home to a consistent state after a kill -9 at any instant of a switch (versions.ts: the link and
 * the version directories are always complete; the journal says what was under way).
 *  - a trial whose version `current` does not name: the switch never happened, the trial is void;
 *  - a trial already recorded as rolled back: the rollback is finished (current -> previous);
 *  - a trial still open: kept, with a fresh deadline (the new child gets its full health bound);
 *  - `current` missing, dangling or failing its signed hash: the previous or newest verified version.
 */
import { DchatError } from '../errors.ts';
import { compareVersions } from '../model/version.ts';
import { acquire, LOCK_WAIT_MS } from '../store/lock.ts';
import {
  type Journal,
  listInstalled,
  readCurrent,
  readJournal,
  setCurrent,
  sweepLeftovers,
  type VersionPaths,
  verifyInstalled,
  writeJournal,
} from './versions.ts';

export interface Recovered {
  current: string | null;
  journal: Journal;
  /** What was repaired, for the log. */
  repairs: string[];
}

/** Runs `fn` as the one writer of versions/, `current` and the journal. */
export async function withSwitchLock<T>(
  vp: VersionPaths,
  fn: () => Promise<T>,
  waitMs = LOCK_WAIT_MS,
): Promise<T> {
  const release = await acquire(vp.switchLock, waitMs);
  try {
    return await fn();
  } finally {
    await release();
  }
}

/** Call under the switch lock. `nowMs`: the time a kept trial's health deadline restarts from. */
export async function recover(vp: VersionPaths, nowMs: number): Promise<Recovered> {
  const repairs: string[] = [];
  await sweepLeftovers(vp);
  const journal = await readJournal(vp);
  let current = await readCurrent(vp);
  const trial = journal.trial;
  if (trial) {
    if (current !== trial.version) {
      journal.trial = null;
      repairs.push(`switch to ${trial.version} had not happened: trial dropped`);
    } else if (journal.rolled_back.some((r) => r.version === trial.version) && trial.previous !== null) {
      await setCurrent(vp, trial.previous);
      current = trial.previous;
      journal.trial = null;
      repairs.push(`rollback of ${trial.version} to ${trial.previous} finished`);
    } else {
      journal.trial = { ...trial, started_ms: nowMs, healthy: false };
      repairs.push(`${trial.version} still on trial: health checked again`);
    }
  }
  const installed = await listInstalled(vp);
  if (current !== null) {
    const ok =
      installed.includes(current) &&
      (await verifyInstalled(vp, current, { reuseStamp: true }).then(
        () => true,
        () => false,
      ));
    if (!ok) {
      repairs.push(`current ${current} is missing or fails its signed hash`);
      current = null;
    }
  }
  if (current === null && installed.length) {
    const order = [
      ...(journal.trial?.previous ? [journal.trial.previous] : []),
      ...[...installed].sort((a, b) => compareVersions(b, a)),
    ];
    for (const v of order) {
      if (!installed.includes(v)) continue;
      if (
        !(await verifyInstalled(vp, v).then(
          () => true,
          () => false,
        ))
      )
        continue;
      await setCurrent(vp, v);
      current = v;
      journal.trial = null;
      repairs.push(`current set to verified ${v}`);
      break;
    }
    if (current === null)
      throw new DchatError(
        'E_HASH_MISMATCH',
        `no installed version under ${vp.versionsDir} passes its signed hash`,
      );
  }
  if (repairs.length) await writeJournal(vp, journal);
  return { current, journal, repairs };
}
