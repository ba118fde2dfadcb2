import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** CPU time the whole machine spent busy (every process and the kernel), in ms, from /proc/stat. */
export function machineBusyMs(): number {
  const cpu =
    readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
  const busy = cpu.slice(0, 8).reduce((n, v, i) => (i === 3 || i === 4 ? n : n + v), 0);
  hz ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return (busy * 1000) / hz;
}
let hz: number | undefined;

export const CORES = availableParallelism();

/** Wall time and the machine's busy CPU time (all cores, ms) while a command runs. */
export function measureCommand(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; expectStatus?: number } = {},
): { ms: number; busyMs: number } {
  const b0 = machineBusyMs();
  const ms = timeCommand(cmd, args, opts);
  return { ms, busyMs: machineBusyMs() - b0 };
}

/** Wall time of a command (ms), failing loudly if it fails: a benchmark of a failure is no number. */
export function timeCommand(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; expectStatus?: number } = {},
): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = performance.now() - t0;
  if (r.status !== (opts.expectStatus ?? 0)) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
  }
  return ms;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** A file of pseudo-random bytes (incompressible, so no layer can shortcut it). */
export function writeRandomFile(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  const buf = Buffer.allocUnsafe(8 * 1024 * 1024);
  try {
    for (let done = 0; done < bytes; ) {
      const n = Math.min(buf.byteLength, bytes - done);
      randomFillSync(buf, 0, n);
      writeSync(fd, buf, 0, n);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** Interleaves runs of A and B so drift (thermal, page cache, neighbours) hits both alike. */
export function compare(runs: number, a: () => number, b: () => number): { a: number[]; b: number[] } {
  const out = { a: [] as number[], b: [] as number[] };
  for (let i = 0; i < runs; i++) {
    out.a.push(a());
    out.b.push(b());
  }
  return out;
}

export function report(
  name: string,
  oursLabel: string,
  refLabel: string,
  r: { a: number[]; b: number[] },
  target: number,
): boolean {
  const ours = median(r.a);
  const ref = median(r.b);
  const ratio = ours / ref;
  console.log(`${name}: ${oursLabel} median ${ours.toFixed(0)} ms, ${refLabel} median ${ref.toFixed(0)} ms`);
  console.log(
    `${name}: ratio ${ratio.toFixed(3)}x (target <= ${target}x) ${ratio <= target ? 'MET' : 'NOT MET'}`,
  );
  console.log(
    `${name}: runs ours=[${r.a.map((x) => x.toFixed(0)).join(', ')}] ref=[${r.b.map((x) => x.toFixed(0)).join(', ')}]`,
  );
  return ratio <= target;
}

const TIME = '/usr/bin/time';

/**
 * Wall time (ms) and peak resident set size (bytes, from GNU time's %M: the kernel's maxrss of the
 * child, sampled by nothing) of a command; rss is undefined where /usr/bin/time is missing.
 */
export function timeCommandRss(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): { ms: number; rss: number | undefined } {
  if (!existsSync(TIME)) return { ms: timeCommand(cmd, args, opts), rss: undefined };
  const out = join(mkdtempSync(join(tmpdir(), 'dchat-bench-rss-')), 'rss');
  try {
    const ms = timeCommand(TIME, ['-f', '%M', '-o', out, cmd, ...args], opts);
    const kib = Number(readFileSync(out, 'utf8').trim().split('\n').pop());
    return { ms, rss: Number.isFinite(kib) ? kib * 1024 : undefined };
  } finally {
    rmSync(dirname(out), { recursive: true, force: true });
  }
}

/** DESIGN's memory target: peak RSS of a download process. */
export const RSS_TARGET_MB = 150;

/** One line: the largest peak RSS of `label`'s runs against the 150 MB target; true if met. */
export function reportRss(name: string, label: string, rss: (number | undefined)[]): boolean {
  const known = rss.filter((x): x is number => x !== undefined);
  if (known.length === 0) {
    console.log(`${name}: peak RSS of ${label}: unknown (no /usr/bin/time)`);
    return true;
  }
  const mb = Math.max(...known) / 1e6;
  const ok = mb <= RSS_TARGET_MB;
  console.log(
    `${name}: peak RSS of ${label} ${mb.toFixed(0)} MB (max of ${known.length} runs; target <= ${RSS_TARGET_MB} MB) ${ok ? 'PASS' : 'FAIL'}`,
  );
  return ok;
}

/** A size such as `256M`, `1G`, `65536` (bytes), or a bare number with `unit` bytes each. */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]i?B?)?$/i.exec(text.trim());
  if (!m) throw new Error(`${what}: not a size: '${text}' (e.g. 256M, 1G)`);
  const mult: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
  const n = Math.round(Number(m[1]) * (m[2] ? (mult[m[2][0]?.toUpperCase() ?? ''] ?? 1) : 1));
  if (!(n > 0)) throw new Error(`${what}: size must be positive: '${text}'`);
  return n;
}

/** aria2c writing one plain file where told: no renaming, no preallocation, no extras. */
export const ARIA2_PLAIN = [
  '-q',
  '--allow-overwrite=true',
  '--auto-file-renaming=false',
  '--file-allocation=none',
  '--console-log-level=error',
];

export const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(', ');

/**
 * The built testnet modules (dist/), so the nodes a bench starts run dist/cli/dchat.js as
 * installed, not src/ under type stripping (which costs each node 10-60 MB of its own).
 */
export async function builtTestnet(): Promise<{
  LocalTestnet: typeof import('../src/testnet/local-net.ts').LocalTestnet;
  hostPlatform: typeof import('../src/model/platform.ts').hostPlatform;
}> {
  const dist = resolve(import.meta.dirname, '..', 'dist');
  if (!existsSync(join(dist, 'testnet', 'local-net.js')))
    throw new Error(`${dist} missing: run \`npm run build\``);
  const { LocalTestnet } = (await import(
    join(dist, 'testnet', 'local-net.js')
  )) as typeof import('../src/testnet/local-net.ts');
  const { hostPlatform } = (await import(
    join(dist, 'model', 'platform.js')
  )) as typeof import('../src/model/platform.ts');
  return { LocalTestnet, hostPlatform };
}
