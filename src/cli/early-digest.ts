/**
 * `update verify` spends nearly all its time hashing the package; the rest is the CLI loading its
 * modules (commander, zod, the TUF models: ~40 ms here) before the command starts the hash. So the
 * bin starts the hash of `--package FILE` first, from argv, and the command takes that run over
 * instead of starting its own: the loading then overlaps the hash (npm run bench -- verify).
 * Nothing is decided here: the command still parses and checks every flag, and a run it does not
 * take is stopped when the command ends.
 */
import { stat } from 'node:fs';
import { resolve } from 'node:path';
import type { FileDigestRun } from '../store/file-digest.ts';
import { LAGGING_NICE, readerThreadsFor } from '../store/reader-threads.ts';
import { lowerThisThread } from '../util/thread-priority.ts';

const early = new Map<string, FileDigestRun>();

/** `--package FILE` (or `--package=FILE`) of an `update verify` command line, else undefined. */
export function verifyPackageArg(argv: readonly string[]): string | undefined {
  const at = argv.indexOf('update');
  if (at < 0 || argv[at + 1] !== 'verify') return undefined;
  for (let i = at + 2; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') return undefined;
    if (a === '--package') return argv[i + 1];
    if (a.startsWith('--package=')) return a.slice('--package='.length);
  }
  return undefined;
}

/**
 * Starts hashing the package an `update verify` command line names, when it is large enough for
 * the reader threads (no-op otherwise: a small file hashes in less time than the threads start).
 * Only the threads are loaded here; they load the hash modules themselves.
 */
export function startEarlyDigest(argv: readonly string[], cwd: string): FileDigestRun | undefined {
  const file = verifyPackageArg(argv);
  if (!file) return undefined;
  const path = resolve(cwd, file);
  const run = readerThreadsFor(path, Number.POSITIVE_INFINITY);
  if (run) {
    early.set(path, run);
    yieldToHashing(path);
  }
  return run;
}

/**
 * While the threads hash, this thread only loads the CLI and checks signatures, work that fits
 * in the hash's time; at a lower priority it no longer takes the reading thread's core (bench
 * verify ~2.5% faster on 2 cores, interleaved A/B). The process ends with the command, so the
 * priority staying low costs nothing. libuv's I/O threads, which do the reads, inherit the
 * priority of the thread that starts them: one request starts them first, at the normal priority.
 */
function yieldToHashing(path: string): void {
  stat(path, () => {});
  lowerThisThread(LAGGING_NICE);
}

/** The run started for `path`, handed over once (undefined when none was). */
export function takeEarlyDigest(path: string): FileDigestRun | undefined {
  const run = early.get(path);
  early.delete(path);
  return run;
}

/** Stops the runs no command took (the command failed first, or named another file). */
export function stopEarlyDigests(): void {
  for (const run of early.values()) run.stop();
  early.clear();
}
