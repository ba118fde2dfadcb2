/**
 * Crash-safe file writes: temp file in the same directory, fsync, rename over the final name, fsync
 * the directory. After a kill -9 at any instant the final path holds the old complete file, the new
 * complete file, or nothing; only `.tmp-` files can be partial, and `sweepTemp` removes them.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DchatError } from '../errors.ts';

export const TEMP_MARK = '.tmp-';

export function tempPathFor(finalPath: string): string {
  return join(
    dirname(finalPath),
    `.${basename(finalPath)}${TEMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`,
  );
}

export function fsyncDir(dir: string): Promise<void> {
  return fsyncOpened(dir, constants.O_RDONLY | constants.O_DIRECTORY);
}

/** Flushes a file written elsewhere (a decoded package) to disk, before it is renamed into place. */
export function fsyncFile(path: string): Promise<void> {
  return fsyncOpened(path, constants.O_RDONLY);
}

async function fsyncOpened(path: string, flags: number): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export interface WriteOptions {
  mode?: number;
}

/** Writes `data` to `path` atomically (see file comment). Creates parent directories. */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  opts: WriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = tempPathFor(path);
  try {
    const fh = await open(tmp, 'wx', opts.mode ?? 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (cause) {
    await rm(tmp, { force: true });
    throw new DchatError('E_IO', `cannot write ${path}: ${(cause as Error).message}`, { cause });
  }
  await fsyncDir(dir);
}

/** Moves a complete, fsynced temp file to its final name atomically and syncs the directory. */
export async function commitFile(tmpPath: string, finalPath: string): Promise<void> {
  await mkdir(dirname(finalPath), { recursive: true });
  await rename(tmpPath, finalPath);
  await fsyncDir(dirname(finalPath));
}

/** Copies a file into place atomically (data fsynced before the rename). */
export async function copyFileAtomic(src: string, finalPath: string, mode = 0o644): Promise<void> {
  const tmp = tempPathFor(finalPath);
  await mkdir(dirname(finalPath), { recursive: true });
  const inp = await open(src, 'r').catch((cause: NodeJS.ErrnoException) => {
    throw new DchatError(
      cause.code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO',
      `cannot read ${src}: ${cause.message}`,
      { cause },
    );
  });
  try {
    const out = await open(tmp, 'wx', mode);
    try {
      const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
      let pos = 0;
      for (;;) {
        const { bytesRead } = await inp.read(buf, 0, buf.byteLength, pos);
        if (bytesRead === 0) break;
        await out.write(buf, 0, bytesRead, pos);
        pos += bytesRead;
      }
      await out.sync();
    } finally {
      await out.close();
    }
    await commitFile(tmp, finalPath);
  } catch (cause) {
    await rm(tmp, { force: true });
    throw new DchatError('E_IO', `cannot copy ${src} to ${finalPath}: ${(cause as Error).message}`, {
      cause,
    });
  } finally {
    await inp.close();
  }
}

/** Hard-links `src` at `finalPath` atomically (replacing what was there); copies across devices. */
export async function linkFileAtomic(src: string, finalPath: string): Promise<void> {
  const tmp = tempPathFor(finalPath);
  try {
    await mkdir(dirname(finalPath), { recursive: true });
    await link(src, tmp);
    await commitFile(tmp, finalPath);
  } catch (cause) {
    await rm(tmp, { force: true });
    if (
      (cause as NodeJS.ErrnoException).code === 'EXDEV' ||
      (cause as NodeJS.ErrnoException).code === 'EPERM'
    ) {
      await copyFileAtomic(src, finalPath);
      return;
    }
    throw new DchatError('E_IO', `cannot link ${finalPath}: ${(cause as Error).message}`, { cause });
  }
}

/** Removes leftover temp files (from a killed process) in `dir`, older than `minAgeMs`. */
export async function sweepTemp(dir: string, minAgeMs = 0, now = Date.now()): Promise<number> {
  return sweepWhere(dir, async (_name, path) => now - (await stat(path)).mtimeMs >= minAgeMs);
}

/**
 * Removes the temp files in `dir` left by processes that no longer run (the writer's pid is in
 * the name, see tempPathFor): safe beside a live writer, whose temp files are kept whatever their
 * age. A publish calls it on the directories it writes, so a killed publish costs disk only until
 * the next one.
 */
export async function sweepDeadTemp(dir: string): Promise<number> {
  return sweepWhere(dir, (name) => {
    const at = name.lastIndexOf(TEMP_MARK);
    const pid = Number(/^(\d+)-[0-9a-f]+$/.exec(name.slice(at + TEMP_MARK.length))?.[1]);
    return Number.isSafeInteger(pid) && pid > 0 && !isAlive(pid);
  });
}

/** Unlinks the temp files of `dir` (dot-named, with the temp mark) that `doomed` picks. */
async function sweepWhere(
  dir: string,
  doomed: (name: string, path: string) => boolean | Promise<boolean>,
): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith('.') || !name.includes(TEMP_MARK)) continue;
    const path = join(dir, name);
    try {
      if (!(await doomed(name, path))) continue;
      await unlink(path);
      removed++;
    } catch {
      // Raced with another sweeper: fine.
    }
  }
  return removed;
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
