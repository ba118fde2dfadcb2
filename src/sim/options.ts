import { UsageError } from '../errors.ts';
import type { GossipConfig } from '../gossip/core/config.ts';
import type { LinkModel } from './network.ts';

export type SimProtocol = 'ours' | 'flood';
export type SimTopologyKind = 'random' | 'line' | 'ring';

/**
 * One simulated scenario. Times are virtual milliseconds; fractions are of all nodes. The same
 * world (graph, positions, malicious set, churn and partition schedule) is replayed for every
 * protocol, so their curves differ only by the protocol.
 */
export interface SimOptions {
  nodes: number;
  seed: number;
  topology: SimTopologyKind;
  /** Degree range of the random graph (peers a node keeps). */
  minDegree: number;
  maxDegree: number;
  /** Hop budget of the announcement (seed: 10 in its broadcast example, 5 in its diagram). */
  ttl: number;
  /** Fraction of nodes that are malicious: they swallow everything (never relay) and, in 'mixed'
   * mode, also forge announcements, replay an old release, spam IHAVEs and send oversized messages. */
  malicious: number;
  maliciousMode: 'mixed' | 'silent';
  /** Junk messages each mixed-mode attacker sends to each of its peers. */
  spamPerPeer: number;
  /** Probability that any one message is lost. */
  loss: number;
  /** Fraction of honest nodes that join late, and again that leave, at random times within
   * `churnWindowMs` after the release is published. */
  churn: number;
  churnWindowMs: number;
  /** Fraction of nodes cut off from the rest (before publication) for `partitionMs`, then healed. */
  partition: number;
  partitionMs: number;
  /** Periodic anti-entropy (our protocol; on-connect digests are always exchanged). */
  antiEntropy: boolean;
  protocols: SimProtocol[];
  /** Size of one announcement on the wire (it embeds the TUF timestamp, snapshot and targets). */
  announcementBytes: number;
  link: LinkModel;
  /** Overrides of the gossip core's config, for both protocols (mode is set per protocol). */
  gossip: Partial<GossipConfig>;
  /** Time for connections and the mesh to form before the release is published. */
  warmupMs: number;
  /** Stop this long after publication at the latest. */
  maxTimeMs: number;
  /** Stop when coverage has not moved for this long and no scheduled churn or heal is pending. */
  stallMs: number;
}

export const defaultSimOptions: Readonly<SimOptions> = {
  nodes: 1000,
  seed: 1,
  topology: 'random',
  minDegree: 8,
  maxDegree: 12,
  ttl: 10,
  malicious: 0,
  maliciousMode: 'mixed',
  spamPerPeer: 4,
  loss: 0,
  churn: 0,
  churnWindowMs: 10_000,
  partition: 0,
  partitionMs: 15_000,
  antiEntropy: true,
  protocols: ['ours', 'flood'],
  announcementBytes: 8192,
  link: { baseLatencyMs: 10, distanceLatencyMs: 120, jitterMs: 10, uplinkMbps: 20, loss: 0 },
  gossip: {},
  warmupMs: 1500,
  maxTimeMs: 120_000,
  stallMs: 30_000,
};

export const MAX_SIM_NODES = 1_000_000;

/** Fills defaults and checks ranges; a bad value is a usage error naming the option. */
export function resolveSimOptions(partial: Partial<SimOptions> = {}): SimOptions {
  const o: SimOptions = {
    ...defaultSimOptions,
    ...stripUndefined(partial),
    link: { ...defaultSimOptions.link, ...stripUndefined(partial.link ?? {}) },
    gossip: { ...(partial.gossip ?? {}) },
    protocols: [...(partial.protocols ?? defaultSimOptions.protocols)],
  };
  o.link.loss = o.loss;
  int('nodes', o.nodes, 1, MAX_SIM_NODES);
  int('seed', o.seed, 0, 2 ** 32 - 1);
  int('minDegree', o.minDegree, 1, 1000);
  int('maxDegree', o.maxDegree, o.minDegree, 1000);
  int('ttl', o.ttl, 0, 255);
  num('malicious', o.malicious, 0, 0.95);
  num('loss', o.loss, 0, 0.9);
  num('churn', o.churn, 0, 0.9);
  num('partition', o.partition, 0, 0.9);
  int('spamPerPeer', o.spamPerPeer, 0, 10_000);
  int('announcementBytes', o.announcementBytes, 64, 16 * 1024 * 1024);
  for (const k of ['churnWindowMs', 'partitionMs', 'warmupMs', 'maxTimeMs', 'stallMs'] as const)
    num(k, o[k], 0, 1e9);
  num('link.baseLatencyMs', o.link.baseLatencyMs, 0, 1e6);
  num('link.distanceLatencyMs', o.link.distanceLatencyMs, 0, 1e6);
  num('link.jitterMs', o.link.jitterMs, 0, 1e6);
  num('link.uplinkMbps', o.link.uplinkMbps, 0.001, 1e6);
  if (!['random', 'line', 'ring'].includes(o.topology))
    throw new UsageError('topology', 'must be random, line or ring');
  if (!['mixed', 'silent'].includes(o.maliciousMode))
    throw new UsageError('maliciousMode', 'must be mixed or silent');
  if (o.protocols.length === 0 || o.protocols.some((p) => p !== 'ours' && p !== 'flood'))
    throw new UsageError('protocols', "must list 'ours' and/or 'flood'");
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function int(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max)
    throw new UsageError(name, `must be an integer ${min}..${max}, got ${String(v)}`);
}

function num(name: string, v: number, min: number, max: number): void {
  if (typeof v !== 'number' || !(v >= min && v <= max))
    throw new UsageError(name, `must be a number ${min}..${max}, got ${String(v)}`);
}
