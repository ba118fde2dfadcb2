/**
 * glibc malloc settings for the commands whose memory is a target (cli/dchat.ts favoursSize). With
 * glibc's defaults the memory a download, an IPFS import or module loading freed stays in the
 * process: the mmap threshold grows with each large block freed (up to 32 MiB), so later large
 * blocks come from the heap arenas, which are returned to the system only from their top.
 *  - `node start` runs for days, mostly idle: a fixed 64 KiB mmap threshold (64 KiB pieces and
 *    larger blocks mapped and unmapped on free) and a 128 KiB trim threshold kept an idle node that
 *    had fetched and held three releases at 117-120 MB resident instead of 135-143 MB, measured
 *    here (2 cores, same runs; `npm run bench -- node-rss --releases 3`).
 *  - `update download` streams 1 MiB pieces: a fixed 128 KiB threshold saves
 *    15-20 MB of a 1 GiB download's peak (bench/download.ts).
 *
 * glibc reads these variables once, when the process starts; so these commands (cli/dchat.ts)
 * replace their own image with the variables set (`process.execve`: same pid, same open
 * descriptors, nothing loaded yet, ~40 ms), as does the single executable's entry
 * (cli/sea/tune.ts), and the supervisor starts its node children with the node's (./child.ts).
 * An operator's own MALLOC_* settings win: then nothing is changed. Other C libraries (musl) ignore
 * the variables. This file must stay free of imports: it runs before the CLI loads.
 */

/** `node start`'s. */
export const MALLOC_TUNING: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '65536',
  MALLOC_TRIM_THRESHOLD_: '131072',
};

/** `update download`'s. */
export const STREAM_MALLOC_TUNING: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: String(128 * 1024),
};

/** The environment to restart with, or undefined when this process already runs as it should. */
export function tunedEnv(
  env: NodeJS.ProcessEnv,
  platform: string,
  tuning: Readonly<Record<string, string>> = MALLOC_TUNING,
): NodeJS.ProcessEnv | undefined {
  if (platform !== 'linux') return undefined;
  // Already restarted, or the operator chose: either way, leave it.
  if (Object.keys(env).some((k) => k.startsWith('MALLOC_'))) return undefined;
  return { ...env, ...tuning };
}

/** The tuning of a command line (its arguments after the program), or undefined for other commands. */
export function tuningFor(args: readonly string[]): Readonly<Record<string, string>> | undefined {
  const pair = (a: string, b: string) => {
    const at = args.indexOf(a);
    return at >= 0 && args[at + 1] === b;
  };
  if (pair('node', 'start')) return MALLOC_TUNING;
  if (pair('update', 'download')) return STREAM_MALLOC_TUNING;
  return undefined;
}

/**
 * Restarts this process in place with the tuning (returns only when it does not). `args` follow
 * the executable: Node's own flags and the script by default; a single executable passes only the
 * command's arguments (its script is inside it).
 */
export function execWithMallocTuning(
  tuning: Readonly<Record<string, string>> = MALLOC_TUNING,
  args: readonly string[] = [...process.execArgv, ...process.argv.slice(1)],
): void {
  const env = tunedEnv(process.env, process.platform, tuning);
  if (!env || typeof process.execve !== 'function') return;
  try {
    process.execve(process.execPath, [process.execPath, ...args], env);
  } catch {
    // execve failed (the binary was replaced meanwhile?): run on with glibc's defaults.
  }
}
