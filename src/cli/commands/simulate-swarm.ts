/**
 * `dchat-test simulate --swarm`: the swarm mode of the simulator (src/sim/swarm.ts): F bytes to
 * N nodes over the real download machine, against the Kumar-Ross bound; `--swarm-sweep` repeats
 * it for several N to show how the ratio changes; `--out` plots the completion curve as SVG.
 */
import { UsageError } from '../../errors.ts';
import { formatSwarm, runSwarm, type SwarmReport } from '../../sim/swarm.ts';
import { renderSwarmSvg } from '../../sim/swarm-svg.ts';
import { type SimulateFlags, type SimulateOutput, writePlot } from './simulate.ts';

export const MAX_SWARM_NODES = 10_000;

export async function runSwarmCommand(
  opts: SimulateFlags,
  out: SimulateOutput,
  env: { cwd?: string } = {},
): Promise<number> {
  const nodes = count(opts.nodes, '--nodes') ?? 1000;
  const seed = count(opts.seed, '--seed') ?? 1;
  const sweep = opts.swarmSweep === undefined ? [] : list(opts.swarmSweep);
  const outFile = typeof opts.out === 'string' ? opts.out.trim() : undefined;
  if (opts.out !== undefined && !outFile) throw new UsageError('--out', 'needs a file name');
  const report = runSwarm({ nodes, seed });
  out.line(formatSwarm(report));
  const rows: Pick<SwarmReport, 'ratio' | 'ms' | 'boundMs'>[] = [];
  if (sweep.length > 0) {
    out.line('\n   nodes   time (s)   bound (s)   ratio');
    for (const n of sweep) {
      const r = n === nodes ? report : runSwarm({ nodes: n, seed });
      rows.push({ ratio: r.ratio, ms: r.ms, boundMs: r.boundMs });
      out.line(
        `   ${String(n).padStart(5)}   ${(r.ms / 1000).toFixed(2).padStart(8)}   ${(r.boundMs / 1000).toFixed(2).padStart(9)}   ${r.ratio.toFixed(3)}x`,
      );
    }
  }
  const svg = outFile ? await writePlot(env.cwd, outFile, renderSwarmSvg(report)) : undefined;
  if (svg) out.line(`   plot: ${svg}`);
  out.result({
    ...report,
    ...(sweep.length > 0 ? { sweep: sweep.map((n, k) => ({ nodes: n, ...rows[k] })) } : {}),
    ...(svg ? { svg } : {}),
  });
  return 0;
}

function count(v: string | boolean | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : Number.NaN;
  if (
    !Number.isSafeInteger(n) ||
    n < 1 ||
    n > MAX_SWARM_NODES * 1000 ||
    (flag === '--nodes' && n > MAX_SWARM_NODES)
  )
    throw new UsageError(
      flag,
      `must be an integer 1..${flag === '--nodes' ? MAX_SWARM_NODES : MAX_SWARM_NODES * 1000}`,
    );
  return n;
}

function list(v: string | boolean): number[] {
  const parts = typeof v === 'string' ? v.split(',') : [];
  const ns = parts.map((p) => count(p.trim(), '--nodes'));
  if (ns.length === 0 || ns.length > 8 || ns.some((n) => n === undefined))
    throw new UsageError(
      '--swarm-sweep',
      `must be up to 8 node counts 1..${MAX_SWARM_NODES}, e.g. 10,100,1000`,
    );
  return ns as number[];
}
