/**
 * Partial downloads under $DCHAT_HOME/partial, per target `<name>`:
 *   <name>.part          the package being assembled (chunks written at their offsets)
 *   <name>.resume.json   resume state: which chunks are verified AND durable (fsynced before the
 *                        state naming them was written, atomically)
 *   <name>.chunks        the chunk table in use (checked against the signed Merkle root on every run)
 *   <name>.lock          the pid of the process downloading it
 *   <name>.suspect       a file that sat at the final path but failed verification (a cache source)
 * After a kill -9 at any instant, every chunk the state lists is on disk as verified; chunks
 * written after the last checkpoint are simply fetched again. The engine re-checks each recorded
 * chunk as it reads it back for the whole-file hashes, so a damaged partial file costs only its
 * damaged chunks.
 */
import { open, readFile, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { DchatError } from '../errors.ts';
import type { PackageTarget } from '../model/package.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import type { HomePaths } from '../store/home.ts';
import { fromRanges, toRanges } from './planner/schedule.ts';

export const RESUME_FORMAT = 'dchat.resume/1';

const ResumeStateSchema = z.object({
  format: z.literal(RESUME_FORMAT),
  target: z.string().max(256),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  chunk_size: z.number().int().positive(),
  chunks_root: z.string().regex(/^[0-9a-f]{64}$/),
  verified: z.array(z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()])).max(1_100_000),
  updated_at: z.string().max(64),
});
export type ResumeState = z.infer<typeof ResumeStateSchema>;

export interface PartialPaths {
  dir: string;
  part: string;
  state: string;
  table: string;
  lock: string;
  suspect: string;
}

export function partialPaths(paths: HomePaths, target: string): PartialPaths {
  const dir = paths.partialDir;
  return {
    dir,
    part: join(dir, `${target}.part`),
    state: join(dir, `${target}.resume.json`),
    table: join(dir, `${target}.chunks`),
    lock: join(dir, `${target}.lock`),
    suspect: join(dir, `${target}.suspect`),
  };
}

/**
 * Takes the per-target lock (O_EXCL file holding our pid). A lock left by a dead process is taken
 * over; one held by a live process is E_BUSY. Returns the release function.
 */
export async function acquireLock(p: PartialPaths, pid = process.pid): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(p.lock, 'wx', 0o644);
      await fh.writeFile(`${pid}\n`);
      await fh.close();
      return async () => {
        await unlink(p.lock).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number((await readFile(p.lock, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== pid && isAlive(holder)) {
        throw new DchatError('E_BUSY', `another dchat process (pid ${holder}) is downloading this package`, {
          details: { pid: holder },
        });
      }
      await unlink(p.lock).catch(() => {});
    }
  }
  throw new DchatError('E_BUSY', `cannot take the download lock ${p.lock}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Chunks a previous run recorded as verified and durable for this very target (same name, hash,
 * size and chunk table). State for anything else, or unreadable state, is discarded with the
 * partial file: starting over is always safe.
 */
export async function loadResume(p: PartialPaths, target: PackageTarget): Promise<number[]> {
  let state: ResumeState | undefined;
  try {
    const r = ResumeStateSchema.safeParse(JSON.parse(await readFile(p.state, 'utf8')));
    if (r.success) state = r.data;
  } catch {
    state = undefined;
  }
  const info = target.custom.chunks;
  const partSize = (await stat(p.part).catch(() => undefined))?.size;
  if (
    !state ||
    partSize === undefined ||
    state.target !== target.path ||
    state.sha256 !== target.sha256 ||
    state.size !== target.length ||
    state.chunk_size !== info.size ||
    state.chunks_root !== info.root
  ) {
    await discardPartial(p);
    return [];
  }
  // A chunk whose bytes lie beyond the end of the partial file cannot be there.
  return fromRanges(state.verified, info.count).filter(
    (i) => Math.min((i + 1) * info.size, target.length) <= partSize,
  );
}

export async function saveResume(
  p: PartialPaths,
  target: PackageTarget,
  verified: Iterable<number>,
  now: Date,
): Promise<void> {
  const state: ResumeState = {
    format: RESUME_FORMAT,
    target: target.path,
    sha256: target.sha256,
    size: target.length,
    chunk_size: target.custom.chunks.size,
    chunks_root: target.custom.chunks.root,
    verified: toRanges(verified),
    updated_at: now.toISOString(),
  };
  await writeFileAtomic(p.state, `${JSON.stringify(state)}\n`);
}

/** Removes the partial file, its state and its chunk table copy. */
export async function discardPartial(p: PartialPaths): Promise<void> {
  await rm(p.state, { force: true });
  await rm(p.part, { force: true });
  await rm(p.table, { force: true });
}
