import { type ProtocolRun, runProtocol } from './engine.ts';
import { type ProtocolReport, plotHorizon, summarize } from './metrics.ts';
import { resolveSimOptions, type SimOptions, type SimProtocol } from './options.ts';
import { type DegreeStats, degreeStats } from './topology.ts';
import { buildWorld, type World } from './world.ts';

export const SIM_REPORT_FORMAT = 'dchat.sim-report/1';

/** What the report says about the world (the same for every protocol run on it). */
export interface WorldSummary {
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
}

export interface SimReport extends WorldSummary {
  format: typeof SIM_REPORT_FORMAT;
  options: SimOptions;
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
  return buildReport(
    opts,
    summarizeWorld(world),
    opts.protocols.map((p) => runProtocol(world, p)),
  );
}

/**
 * One protocol of a simulation on its own, for hosts that run protocols in parallel (the CLI
 * uses one worker thread per protocol): the world is rebuilt from the same seed, so it is the
 * same world, and `buildReport` over the pieces equals `runSimulation`.
 */
export function runSimulationPart(
  options: Partial<SimOptions>,
  protocol: SimProtocol,
): { summary: WorldSummary; run: ProtocolRun } {
  const opts = resolveSimOptions(options);
  const world = buildWorld(opts);
  return { summary: summarizeWorld(world), run: runProtocol(world, protocol) };
}

export function summarizeWorld(world: World): WorldSummary {
  const opts = world.opts;
  let lateJoiners = 0;
  let leavers = 0;
  let partitioned = 0;
  for (let i = 0; i < opts.nodes; i++) {
    if ((world.joinAt[i] as number) >= world.publishAt) lateJoiners++;
    if (Number.isFinite(world.leaveAt[i])) leavers++;
    partitioned += world.side[i] as number;
  }
  return {
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
  };
}

/** The report over runs of the same world; every curve shares one time axis. */
export function buildReport(
  opts: SimOptions,
  summary: WorldSummary,
  runs: readonly ProtocolRun[],
): SimReport {
  const horizon = plotHorizon(runs);
  return {
    format: SIM_REPORT_FORMAT,
    options: opts,
    ...summary,
    results: runs.map((r) => summarize(r, summary.world.honest, horizon)),
  };
}
