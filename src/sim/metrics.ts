import { GOSSIP_MESSAGE_TYPES, type GossipMessageType } from '../gossip/core/messages.ts';
import type { ProtocolRun } from './engine.ts';
import type { SimProtocol } from './options.ts';

/** Coverage sampled over virtual time: coverage[k] is the fraction covered at tMs[k] after publication. */
export interface CoverageCurve {
  tMs: number[];
  coverage: number[];
}

export interface ProtocolReport {
  protocol: SimProtocol;
  label: string;
  /** Honest nodes online at the end: the denominator of every coverage figure. */
  honestNodes: number;
  covered: number;
  coverage: number;
  /** Virtual ms after publication to reach 50/90/99/99.9% coverage; null if never reached. */
  msTo50: number | null;
  msTo90: number | null;
  msTo99: number | null;
  msTo999: number | null;
  /** Gossip rounds (hops from the origin) to reach 99% / 99.9% coverage; null if never reached. */
  hopsTo99: number | null;
  hopsTo999: number | null;
  maxHop: number;
  /** Per honest node, since publication. `messagesPerNode` counts what spreads the release
   * (announce, bundle, ihave, iwant, want); `maintenancePerNode` the rest (hello, graft, prune,
   * periodic digests, mirror lists), which the network pays whether or not a release is spreading. */
  messagesPerNode: number;
  payloadPerNode: number;
  controlPerNode: number;
  maintenancePerNode: number;
  bytesPerNode: number;
  messagesByType: Record<GossipMessageType, number>;
  lostMessages: number;
  attackerMessages: number;
  rejected: {
    invalid: number;
    replaysIgnored: number;
    rateLimited: number;
    tooLarge: number;
    brokenPromises: number;
    graylisted: number;
    disconnects: number;
  };
  duplicates: number;
  stopReason: ProtocolRun['stopReason'];
  endedAtMs: number;
  events: number;
  /** Cumulative coverage by hop: byHop[h] = fraction covered within h hops of the origin. */
  byHop: number[];
  curve: CoverageCurve;
}

const LABELS: Record<SimProtocol, string> = {
  ours: 'ours (mesh push + IHAVE/IWANT + anti-entropy)',
  flood: 'seed TTL flooding',
};
const PAYLOAD: readonly GossipMessageType[] = ['announce', 'bundle'];
const CONTROL: readonly GossipMessageType[] = ['ihave', 'iwant', 'want'];

/** Sorted delivery times (ms after publication) of the counted nodes. */
export function deliveryTimes(run: ProtocolRun): Float64Array {
  const times: number[] = [];
  for (let i = 0; i < run.counted.length; i++)
    if (run.counted[i] && !Number.isNaN(run.deliveredAt[i])) times.push(run.deliveredAt[i] as number);
  return Float64Array.from(times).sort();
}

export function countedNodes(run: ProtocolRun): number {
  let n = 0;
  for (let i = 0; i < run.counted.length; i++) n += run.counted[i] as number;
  return n;
}

/** The time by which a fraction q of `total` nodes was covered, or null. */
export function timeToFraction(sorted: Float64Array, total: number, q: number): number | null {
  const need = Math.ceil(q * total - 1e-9);
  if (need <= 0) return 0;
  return need <= sorted.length ? (sorted[need - 1] as number) : null;
}

/** Cumulative coverage by hop count. */
export function coverageByHop(run: ProtocolRun, total: number): number[] {
  const counts: number[] = [];
  for (let i = 0; i < run.counted.length; i++) {
    const h = run.hop[i] as number;
    if (!run.counted[i] || h < 0) continue;
    while (counts.length <= h) counts.push(0);
    counts[h] = (counts[h] as number) + 1;
  }
  const out: number[] = [];
  let acc = 0;
  for (const c of counts) {
    acc += c;
    out.push(total === 0 ? 0 : acc / total);
  }
  return out;
}

/** Coverage at `points` evenly spaced times over [0, horizonMs]. */
export function sampleCurve(
  sorted: Float64Array,
  total: number,
  horizonMs: number,
  points = 240,
): CoverageCurve {
  const tMs: number[] = [];
  const coverage: number[] = [];
  let k = 0;
  for (let p = 0; p <= points; p++) {
    const t = (horizonMs * p) / points;
    while (k < sorted.length && (sorted[k] as number) <= t) k++;
    tMs.push(Math.round(t * 10) / 10);
    coverage.push(total === 0 ? 0 : k / total);
  }
  return { tMs, coverage };
}

function hopsTo(byHop: readonly number[], q: number): number | null {
  const h = byHop.findIndex((c) => c >= q - 1e-12);
  return h < 0 ? null : h;
}

export function summarize(run: ProtocolRun, honestCount: number, horizonMs: number): ProtocolReport {
  const total = countedNodes(run);
  const sorted = deliveryTimes(run);
  const byHop = coverageByHop(run, total);
  const byType = Object.fromEntries(
    GOSSIP_MESSAGE_TYPES.map((t, i) => [t, run.sentByType[i] as number]),
  ) as Record<GossipMessageType, number>;
  const sum = (types: readonly GossipMessageType[]) => types.reduce((s, t) => s + byType[t], 0);
  const perNode = (x: number) => (honestCount === 0 ? 0 : round(x / honestCount, 3));
  const all = sum(GOSSIP_MESSAGE_TYPES);
  const payload = sum(PAYLOAD);
  const control = sum(CONTROL);
  const s = run.stats;
  return {
    protocol: run.protocol,
    label: LABELS[run.protocol],
    honestNodes: total,
    covered: sorted.length,
    coverage: total === 0 ? 0 : sorted.length / total,
    msTo50: roundOrNull(timeToFraction(sorted, total, 0.5)),
    msTo90: roundOrNull(timeToFraction(sorted, total, 0.9)),
    msTo99: roundOrNull(timeToFraction(sorted, total, 0.99)),
    msTo999: roundOrNull(timeToFraction(sorted, total, 0.999)),
    hopsTo99: hopsTo(byHop, 0.99),
    hopsTo999: hopsTo(byHop, 0.999),
    maxHop: byHop.length - 1,
    messagesPerNode: perNode(payload + control),
    payloadPerNode: perNode(payload),
    controlPerNode: perNode(control),
    maintenancePerNode: perNode(all - payload - control),
    bytesPerNode: perNode(run.bytesSent),
    messagesByType: byType,
    lostMessages: run.lostMessages,
    attackerMessages: run.attackerMessages,
    rejected: {
      invalid: s.invalid,
      replaysIgnored: s.replaysIgnored,
      rateLimited: s.rateLimited,
      tooLarge: s.tooLarge,
      brokenPromises: s.brokenPromises,
      graylisted: s.graylisted,
      disconnects: s.disconnects,
    },
    duplicates: s.duplicates,
    stopReason: run.stopReason,
    endedAtMs: roundOrNull(run.endedAt) ?? 0,
    events: run.events,
    byHop: byHop.map((c) => round(c, 6)),
    curve: sampleCurve(sorted, total, horizonMs),
  };
}

/** Where the plot's time axis should end: a little past the last delivery of any protocol. */
export function plotHorizon(runs: readonly ProtocolRun[]): number {
  let last = 0;
  for (const r of runs) {
    const t = deliveryTimes(r);
    if (t.length > 0) last = Math.max(last, t[t.length - 1] as number);
  }
  return Math.max(100, Math.ceil(last * 1.1));
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function roundOrNull(x: number | null): number | null {
  return x === null ? null : round(x, 1);
}
