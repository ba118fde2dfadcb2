#!/usr/bin/env node
// The version check comes first and alone: everything else is imported only once it passed.
import { checkNode } from './node-check.ts';

/**
 * Commands whose memory is a target of their own (DESIGN.md, performance targets): `node start`
 * runs for days, mostly idle (<= 100 MB; `npm run bench -- node-rss`), and `update download` /
 * `update verify` stream a whole package (peak <= 150 MB whatever its size; `npm run bench --
 * download`). V8 is told to favour size over speed before any module loads: smaller heap growth
 * steps and eager collection of the external (Buffer) memory that streaming churns through, about
 * 20 MB less at idle and 35-40 MB less at a 1 GiB download's peak, measured here. Their heavy work
 * (hashing, TLS, noise) is native, which the flag does not touch. Set here because the flag only
 * shapes heap growth from now on: once the command's modules have loaded it no longer helps.
 */
function favoursSize(argv: readonly string[]): boolean {
  const pair = (a: string, b: string) => {
    const at = argv.indexOf(a);
    return at >= 0 && argv[at + 1] === b;
  };
  return pair('node', 'start') || pair('update', 'download') || pair('update', 'verify');
}

/**
 * glibc's malloc raises its mmap threshold to the largest block freed so far (up to 32 MiB); from
 * then on the 1 MiB piece buffers a stream churns through are carved from its arenas and stay there
 * once freed: 15-20 MB of a 1 GiB download's peak, measured here (bench/download.ts). The threshold
 * can only be fixed before the process starts (MALLOC_MMAP_THRESHOLD_), so these commands replace
 * their own process image once with it set: same pid, arguments and open files, ~40 ms.
 */
function fixMmapThreshold(): void {
  if (process.platform !== 'linux' || process.env.MALLOC_MMAP_THRESHOLD_ !== undefined) return;
  if (typeof process.execve !== 'function') return;
  const argv = [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  try {
    process.execve(process.execPath, argv, { ...process.env, MALLOC_MMAP_THRESHOLD_: String(128 * 1024) });
  } catch {
    // Not replaced (e.g. no permission to execute): run as we are, only with more memory.
  }
}

if (checkNode('dchat')) {
  if (favoursSize(process.argv.slice(2))) {
    fixMmapThreshold();
    (await import('node:v8')).setFlagsFromString('--optimize-for-size');
  }
  const { runBin } = await import('./compile-cache.ts');
  await runBin(async () => (await import('./dchat-program.ts')).buildDchat);
}
