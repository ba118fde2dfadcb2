import { runProtocol } from './engine.ts';
import { plotHorizon, type ProtocolReport, summarize } from './metrics.ts';
import { resolveSimOptions, type SimOptions } from './options.ts';
import { type DegreeStats, degreeStats } from './topology.ts';
import { buildWorld } from './world.ts';

export const SIM_REPORT_FORMAT = 'dchat.sim-report/1';

export interface SimReport {
  format: typeof SIM_REPORT_FORMAT;
  options: SimOptions;
  topology: DegreeStats & { kind: SimOptions['topology'] };
  world: {
    nodes: number;
    honest: number;
    malicious: number;
    origin: number;
    lateJoiners: number;
    leavers: number;
    partitioned: number;
  };
  /** One entry per protocol, in the order of options.protocols, all on the same world. */
  results: ProtocolReport[];
  /** Wall-clock duration of the run, filled in by a caller that owns a clock (the CLI). */
  wallMs?: number;
}

/**
 * Builds the world from the options' seed once, runs every requested protocol on it, and
 * summarises. Pure: same options, same report (no clock, no I/O; the CLI adds wall time).
 */
export function runSimulation(options: Partial<SimOptions> = {}): SimReport {
  const opts = resolveSimOptions(options);
  const world = buildWorld(opts);
  const runs = opts.protocols.map((p) => runProtocol(world, p));
  const horizon = plotHorizon(runs);
  let lateJoiners = 0;
  let leavers = 0;
  let partitioned = 0;
  for (let i = 0; i < opts.nodes; i++) {
    if ((world.joinAt[i] as number) >= world.publishAt) lateJoiners++;
    if (Number.isFinite(world.leaveAt[i])) leavers++;
    partitioned += world.side[i] as number;
  }
  return {
    format: SIM_REPORT_FORMAT,
    options: opts,
    topology: { kind: opts.topology, ...degreeStats(world.topo) },
    world: {
      nodes: opts.nodes,
      honest: world.honestCount,
      malicious: opts.nodes - world.honestCount,
      origin: world.origin,
      lateJoiners,
      leavers,
      partitioned,
    },
    results: runs.map((r) => summarize(r, world.honestCount, horizon)),
  };
}
