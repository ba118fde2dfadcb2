/**
 * One writer per home for each kind of state (trust, mirrors, auto-update config, packages): an
 * inter-process lock held across a whole read-modify-write cycle, so two commands (or a command
 * and the node) can never interleave their load and their save and lose or roll back what the
 * other stored. A waiting writer polls for a bounded time, then fails with E_BUSY; it never
 * writes without the lock.
 *
 * Why our own O_EXCL lock file rather than a library: the only maintained-enough candidate,
 * proper-lockfile, decides staleness by mtime (a holder killed with -9 blocks every writer for
 * the stale period, and a live holder must keep touching the file); here the file names its
 * holder (pid, process start time, host), so a lock left by a dead process is broken at once,
 * which is what crash recovery needs, and no timer runs while it is held.
 *
 * Protocol: the lock file is created complete with link(2) of a written temp file (EEXIST if held),
 * so nobody ever sees a half-written lock. A lock whose holder is provably dead (same host, pid
 * gone or reused by a process that started later) is broken under a second short-lived guard file,
 * so two waiters can never both break it and one delete the other's fresh lock.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DchatError } from '../errors.ts';
import type { HomePaths } from './home.ts';

export type LockKind = 'trust' | 'mirrors' | 'auto-update' | 'packages';

/** How long a writer waits for another to finish before E_BUSY (a trust update may fetch). */
export const LOCK_WAIT_MS = 60_000;
/** A break guard older than this belongs to a waiter that died while breaking: removed. */
const GUARD_STALE_MS = 10_000;

export interface LockOptions {
  waitMs?: number;
}

export function lockFile(paths: HomePaths, kind: LockKind): string {
  return join(paths.home, 'locks', `${kind}.lock`);
}

/** Runs `fn` holding `kind`'s lock of this home; E_BUSY after `waitMs` of waiting. */
export async function withHomeLock<T>(
  paths: HomePaths,
  kind: LockKind,
  fn: () => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const release = await acquire(lockFile(paths, kind), opts.waitMs ?? LOCK_WAIT_MS);
  try {
    return await fn();
  } finally {
    await release();
  }
}

interface Holder {
  pid: number;
  start: string;
  host: string;
  nonce: string;
}

/** Acquires the lock at `file`, returning its release function. */
export async function acquire(file: string, waitMs: number): Promise<() => Promise<void>> {
  const me: Holder = { pid: process.pid, start: startTimeOf(process.pid) ?? '', host: hostname(), nonce: '' };
  me.nonce = randomBytes(8).toString('hex');
  await mkdir(join(file, '..'), { recursive: true });
  const tmp = await writeTemp(file, `${JSON.stringify(me)}\n`);
  const deadline = Date.now() + waitMs;
  let delay = 2;
  try {
    for (;;) {
      try {
        await link(tmp, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(file, err);
      }
      if (await breakIfStale(file)) continue;
      if (Date.now() >= deadline) {
        const holder = await readHolder(file);
        throw new DchatError(
          'E_BUSY',
          `${file} is held by another dchat process${holder ? ` (pid ${holder.pid})` : ''}; waited ${Math.round(waitMs / 1000)} s`,
          { details: { lock: file, ...(holder ? { pid: holder.pid } : {}) } },
        );
      }
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 50);
    }
  } finally {
    await unlink(tmp).catch(() => {});
  }
  return async () => {
    // Only our own lock is removed (it cannot have been broken: we are alive).
    const h = await readHolder(file);
    if (h?.nonce === me.nonce) await unlink(file).catch(() => {});
  };
}

/** Removes `file` when its holder is provably dead; true when it did (or the lock vanished). */
async function breakIfStale(file: string): Promise<boolean> {
  const h = await readHolder(file);
  if (h === undefined) {
    // Not a lock we can read (e.g. emptied by a power loss): stale once clearly abandoned.
    const st = await stat(file).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > LOCK_WAIT_MS) await unlink(file).catch(() => {});
    return false;
  }
  if (h === null) return true; // released meanwhile
  if (!isDead(h)) return false;
  const guard = `${file}.break`;
  const tmp = await writeTemp(guard, '');
  try {
    await link(tmp, guard);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(guard, err);
    const st = await stat(guard).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > GUARD_STALE_MS) await unlink(guard).catch(() => {});
    return false;
  } finally {
    await unlink(tmp).catch(() => {});
  }
  try {
    // Under the guard nobody else removes the lock, and its dead holder cannot: if it still names
    // the same holder, it is the stale one.
    const again = await readHolder(file);
    if (again && again.nonce === h.nonce) await unlink(file).catch(() => {});
    return true;
  } finally {
    await unlink(guard).catch(() => {});
  }
}

/** A complete file beside `file`, to be link(2)ed into place: the final name never looks partial. */
async function writeTemp(file: string, content: string): Promise<string> {
  const tmp = `${file}.${process.pid}-${randomBytes(6).toString('hex')}`;
  const fh = await open(tmp, 'wx', 0o644);
  try {
    await fh.writeFile(content);
  } finally {
    await fh.close();
  }
  return tmp;
}

/** The holder named in the lock file: null if there is none, undefined if it cannot be read yet. */
async function readHolder(file: string): Promise<Holder | null | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return undefined;
  }
  try {
    const h = JSON.parse(text) as Holder;
    if (typeof h.pid === 'number' && typeof h.nonce === 'string') return h;
  } catch {
    // A lock file we did not write: never treat as stale.
  }
  return undefined;
}

function isDead(h: Holder): boolean {
  if (h.host !== hostname()) return false; // another machine's process: cannot tell
  if (h.pid === process.pid) return h.start !== (startTimeOf(process.pid) ?? '');
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  // The pid is alive: it is our holder unless it was reused by a later process.
  const start = startTimeOf(h.pid);
  return start !== undefined && h.start !== '' && start !== h.start;
}

/** Process start time in clock ticks since boot (Linux /proc), to tell a reused pid. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the parenthesised command name (which may hold spaces).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

function ioError(file: string, cause: unknown): DchatError {
  return new DchatError('E_IO', `cannot lock ${file}: ${(cause as Error).message}`, { cause });
}
