/**
 * `npm run bench -- delta [--corpus DIR]`: delta updates over the public corpus made by
 * `../shared/bench/delta-corpus.sh DIR` (consecutive releases of real native binaries from npm:
 * DIR/<id>/{old,new}). Per pair, in the same run:
 *   - references: `zstd -19` of the new file (what every share is of), plain `bsdiff`, plain
 *     `zstd -19 --long --patch-from` (the Debian tools), and their apply times (`bspatch`,
 *     `zstd -d --patch-from`);
 *   - dchat: the patch `release publish --delta-from` makes (best of its differs, run at once), its share of
 *     zstd -19, whether it would be published (<= 80%), the time and peak memory to make it, and
 *     the apply speed (MB/s of output) and peak memory of `update download`'s decoder.
 * Each dchat step runs in its own process under /usr/bin/time (peak RSS). Targets (issue 14):
 * median share <= 18% (an unpublished pair counts as 100%: its node downloads the full file), none published > 80%, apply >= 100 MB/s, making a patch of a 35 MB binary
 * <= 2 min and <= 1.5 GB.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PATCH_SHARE, windowLog } from '../src/release/delta.ts';
import { median } from './util.ts';

interface Timed {
  ms: number;
  /** User + system CPU time: what the step costs, whatever else the machine runs meanwhile. */
  cpuMs: number;
  peakMiB: number;
  stdout: string;
}

/** Runs a command under GNU time: wall time and peak resident memory; fails loudly. */
function timed(cmd: string, args: string[], dir: string): Timed {
  const out = join(dir, 'time.txt');
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M %U %S', '-o', out, cmd, ...args], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
  const [secs, kib, user, sys] =
    readFileSync(out, 'utf8').trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
  return {
    ms: (secs ?? 0) * 1000,
    cpuMs: ((user ?? 0) + (sys ?? 0)) * 1000,
    peakMiB: (kib ?? 0) / 1024,
    stdout: r.stdout,
  };
}

/**
 * `timed` for a step GNU time's 10 ms steps would swamp (a reference apply of a 2 MB program takes
 * about that): run back to back for about half a second, and reported per run.
 */
function timedShort(cmd: string, args: string[], dir: string): Timed {
  const once = timed(cmd, args, dir);
  if (once.cpuMs >= 200) return once;
  const runs = Math.min(50, Math.ceil(500 / Math.max(once.ms, 5)));
  const all = timed(
    'sh',
    ['-c', `for i in $(seq ${runs}); do "$@" || exit 1; done`, 'sh', cmd, ...args],
    dir,
  );
  return {
    ms: all.ms / runs,
    cpuMs: all.cpuMs / runs,
    peakMiB: Math.max(once.peakMiB, all.peakMiB),
    stdout: once.stdout,
  };
}

const size = (f: string) => statSync(f).size;
/** A ratio to a reference (GNU time counts in 10 ms steps: one that still reads 0 is n/a). */
const times = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}x` : 'n/a (reference read 0)');
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export async function benchDelta(argv: string[]): Promise<boolean> {
  const { values } = parseArgs({
    args: argv,
    options: { corpus: { type: 'string', default: '../delta-corpus' } },
  });
  const corpus = resolve(values.corpus as string);
  for (const tool of ['zstd', 'bsdiff', 'bspatch', 'bzip2', '/usr/bin/time']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      console.error(`error[E_NOT_FOUND]: ${tool} is missing (bash scripts/setup-system.sh installs it)`);
      return false;
    }
  }
  if (!existsSync(corpus)) {
    console.error(
      `error[E_NOT_FOUND]: no corpus at ${corpus}: make it with ../shared/bench/delta-corpus.sh ${corpus} (or pass --corpus DIR)`,
    );
    return false;
  }
  const ids = readdirSync(corpus).filter(
    (id) => existsSync(join(corpus, id, 'old')) && existsSync(join(corpus, id, 'new')),
  );
  const node = process.execPath;
  const child = resolve(import.meta.dirname, 'delta-child.ts');
  const rows: Record<string, number | string | boolean>[] = [];
  // Smallest first: the figures of the small pairs come early.
  ids.sort((a, b) => size(join(corpus, a, 'new')) - size(join(corpus, b, 'new')));
  for (const id of ids) {
    const oldF = join(corpus, id, 'old');
    const newF = join(corpus, id, 'new');
    const n = size(newF);
    const dir = mkdtempSync(join(tmpdir(), `dchat-bench-delta-${id}-`));
    try {
      const long = `--long=${windowLog(Math.max(n, size(oldF)))}`;
      console.log(`delta: ${id}: ${size(oldF)} -> ${n} bytes`);
      timed('zstd', ['-q', '-19', '-f', newF, '-o', join(dir, 'full.zst')], dir);
      const full = size(join(dir, 'full.zst'));
      const bs = timed('bsdiff', [oldF, newF, join(dir, 'p.bsdiff')], dir);
      const zp = timed(
        'zstd',
        ['-q', '-19', long, '-f', `--patch-from=${oldF}`, newF, '-o', join(dir, 'p.zst')],
        dir,
      );
      const bsApply = timedShort('bspatch', [oldF, join(dir, 'r1'), join(dir, 'p.bsdiff')], dir);
      const zpApply = timedShort(
        'zstd',
        ['-q', '-d', long, '-f', `--patch-from=${oldF}`, join(dir, 'p.zst'), '-o', join(dir, 'r2')],
        dir,
      );
      const make = timed(node, [child, 'make', oldF, newF, join(dir, 'ours')], dir);
      const m = JSON.parse(make.stdout.trim()) as {
        algorithm: string;
        size: number;
        zstd_patch_from: number;
        bsdiff: number;
        bsdiff_kind: string;
      };
      // Nine applies, each in a fresh process; the one of median CPU time is reported (a 20 ms
      // apply right after the make step varied by a quarter between runs; on this VM a page fault
      // alone costs 1.5-2.7 us, and how many a run pays varies with what ran before it). Each
      // writes a new file, as a node does (update/delta.ts): truncating the last run's output
      // inside the next one's timing cost that one 0.2 ms of CPU (0.6 ms wall) no node pays.
      const want = readFileSync(newF);
      const applies = Array.from({ length: 9 }, () => {
        const out = join(dir, 'out');
        const t = timed(
          node,
          ['--expose-gc', child, 'apply', m.algorithm, oldF, join(dir, 'ours'), out, String(n)],
          dir,
        );
        if (!readFileSync(out).equals(want)) throw new Error(`${id}: dchat's patch does not apply to new`);
        rmSync(out);
        return { t, a: JSON.parse(t.stdout.trim()) as { ms: number; cpu_ms: number } };
      });
      applies.sort((x, y) => x.a.cpu_ms - y.a.cpu_ms);
      const { t: apply, a } = applies[4] as (typeof applies)[number];
      const applyMs = a.ms;
      const row = {
        id,
        new_bytes: n,
        zstd19_full: full,
        share: m.size / full,
        algorithm: m.algorithm,
        published: m.size <= PATCH_SHARE * full,
        bsdiff_share: size(join(dir, 'p.bsdiff')) / full,
        zstd_patch_from_share: size(join(dir, 'p.zst')) / full,
        ours_zstd_pf_share: m.zstd_patch_from / full,
        ours_bsdiff_share: m.bsdiff / full,
        ours_bsdiff_kind: m.bsdiff_kind,
        make_s: make.ms / 1000,
        make_cpu_s: make.cpuMs / 1000,
        // GNU time gives the largest single process; bsdiff runs beside dchat's own differ, so
        // the machine's peak is bounded by the two added (bsdiff's own peak measured above).
        make_peak_mib: make.peakMiB + bs.peakMiB,
        bsdiff_s: bs.ms / 1000,
        bsdiff_cpu_s: bs.cpuMs / 1000,
        zstd_pf_s: zp.ms / 1000,
        zstd_pf_cpu_s: zp.cpuMs / 1000,
        apply_mbps: n / 1e6 / (applyMs / 1000),
        apply_cpu_mbps: n / 1e6 / (a.cpu_ms / 1000),
        apply_peak_mib: apply.peakMiB,
        apply_vs_bspatch: applyMs / bsApply.ms,
        apply_vs_zstd: applyMs / zpApply.ms,
        apply_cpu_vs_bspatch: a.cpu_ms / bsApply.cpuMs,
        apply_cpu_vs_zstd: a.cpu_ms / zpApply.cpuMs,
      };
      rows.push(row);
      console.log(
        `  dchat patch ${m.size} B (${m.algorithm}) = ${pct(row.share)} of zstd -19 full (${full} B); plain bsdiff ${pct(row.bsdiff_share)}, plain zstd --patch-from ${pct(row.zstd_patch_from_share)}`,
      );
      console.log(
        `  make ${row.make_s.toFixed(1)} s wall, ${row.make_cpu_s.toFixed(1)} s CPU, peak ${row.make_peak_mib.toFixed(0)} MiB with bsdiff's (CPU ${(row.make_cpu_s / (row.bsdiff_cpu_s + row.zstd_pf_cpu_s)).toFixed(2)}x plain bsdiff + plain zstd --patch-from: ${row.bsdiff_cpu_s.toFixed(1)} s + ${row.zstd_pf_cpu_s.toFixed(1)} s)`,
      );
      console.log(
        `  apply ${row.apply_cpu_mbps.toFixed(0)} MB/s of output per CPU second (${row.apply_mbps.toFixed(0)} MB/s wall), peak ${row.apply_peak_mib.toFixed(0)} MiB; CPU ${times(row.apply_cpu_vs_bspatch)} bspatch, ${times(row.apply_cpu_vs_zstd)} zstd -d --patch-from (wall ${times(row.apply_vs_bspatch)}, ${times(row.apply_vs_zstd)})`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (rows.length === 0) {
    console.error(`error[E_NOT_FOUND]: ${corpus} holds no <id>/{old,new} pair`);
    return false;
  }
  const shares = rows.map((r) => r.share as number);
  // Every pair counts: one whose patch is not published costs its node the full download
  // (100% of zstd -19). The median over published pairs alone is printed beside it.
  const med = median(rows.map((r) => (r.published ? (r.share as number) : 1)));
  const publishedShares = rows.filter((r) => r.published).map((r) => r.share as number);
  const medPublished = publishedShares.length > 0 ? median(publishedShares) : Number.NaN;
  const biggest = rows.reduce((a, b) => ((a.new_bytes as number) >= (b.new_bytes as number) ? a : b));
  const minApply = Math.min(...rows.map((r) => r.apply_cpu_mbps as number));
  const checks = [
    [
      `median patch share ${pct(med)} <= 18% over all ${rows.length} pairs, unpublished ones as 100% (${pct(medPublished)} over the ${publishedShares.length} published)`,
      med <= 0.18,
    ],
    [`no published patch > 80% (largest ${pct(Math.max(...shares))}, published only if <= 80%)`, true],
    [`apply >= 100 MB/s per CPU second (slowest ${minApply.toFixed(0)} MB/s)`, minApply >= 100],
    [
      `make for the largest (${biggest.id}, ${((biggest.new_bytes as number) / 1e6).toFixed(0)} MB) <= 120 s CPU and <= 1536 MiB (${(biggest.make_s as number).toFixed(0)} s wall, ${(biggest.make_cpu_s as number).toFixed(0)} s CPU, ${(biggest.make_peak_mib as number).toFixed(0)} MiB; load average ${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} cores)`,
      (biggest.make_cpu_s as number) <= 120 && (biggest.make_peak_mib as number) <= 1536,
    ],
  ] as const;
  for (const [what, ok] of checks) console.log(`delta: ${ok ? 'PASS' : 'MISS'} ${what}`);
  console.log(
    JSON.stringify({ bench: 'delta', median_share: med, median_published_share: medPublished, rows }),
  );
  return checks.every(([, ok]) => ok);
}
