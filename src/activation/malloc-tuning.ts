/**
 * glibc malloc settings for `dchat node start`, a process that runs for days mostly idle. With
 * glibc's defaults the memory a download, an IPFS import or module loading freed stays in the
 * process: the mmap threshold grows with each large block freed (up to 32 MiB), so later large
 * blocks come from the heap arenas, which are returned to the system only from their top. A fixed
 * 64 KiB mmap threshold (large blocks mapped and unmapped on free) and a 128 KiB trim threshold
 * kept an idle node that had fetched and held three releases at 117-120 MB resident instead of
 * 135-143 MB, measured here (2 cores, same runs; `npm run bench -- node-rss --releases 3`).
 *
 * glibc reads these variables once, when the process starts; so `dchat node start` (cli/dchat.ts)
 * replaces its own image (`process.execve`: same pid, same open descriptors, nothing loaded yet)
 * with the variables set, and the supervisor starts its node children with them (./child.ts).
 * An operator's own MALLOC_* settings win: then nothing is changed. Other C libraries (musl) ignore
 * the variables. This file must stay free of imports: it runs before the CLI loads.
 */

export const MALLOC_TUNING: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '65536',
  MALLOC_TRIM_THRESHOLD_: '131072',
};

/** The environment to restart with, or undefined when this process already runs as it should. */
export function tunedEnv(env: NodeJS.ProcessEnv, platform: string): NodeJS.ProcessEnv | undefined {
  if (platform !== 'linux') return undefined;
  // Already restarted, or the operator chose: either way, leave it.
  if (Object.keys(env).some((k) => k.startsWith('MALLOC_'))) return undefined;
  return { ...env, ...MALLOC_TUNING };
}

/** Restarts this process in place with the tuning (returns only when it does not). */
export function execWithMallocTuning(): void {
  const env = tunedEnv(process.env, process.platform);
  if (!env || typeof process.execve !== 'function') return;
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], env);
  } catch {
    // execve failed (the binary was replaced meanwhile?): run on with glibc's defaults.
  }
}
