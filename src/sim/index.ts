/** The discrete-event simulator of the gossip core (issue 5 item 7). */
export type { ProtocolRun } from './engine.ts';
export { runProtocol } from './engine.ts';
export type { CoverageCurve, ProtocolReport } from './metrics.ts';
export type { SimOptions, SimProtocol, SimTopologyKind } from './options.ts';
export { defaultSimOptions, MAX_SIM_NODES, resolveSimOptions } from './options.ts';
export { formatReport } from './report.ts';
export type { SimReport, WorldSummary } from './run.ts';
export { buildReport, runSimulation, runSimulationPart, SIM_REPORT_FORMAT, summarizeWorld } from './run.ts';
export { renderSvg } from './svg.ts';
export type { Topology } from './topology.ts';
export { lineTopology, randomTopology, ringTopology } from './topology.ts';
export type { TtlSweepRow } from './ttl-sweep.ts';
export { formatTtlSweep, ttlSweep } from './ttl-sweep.ts';
export type { World } from './world.ts';
export { buildWorld } from './world.ts';
