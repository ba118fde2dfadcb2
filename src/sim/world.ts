import type { ValidateAnnouncement } from '../gossip/core/actions.ts';
import { deriveSeed, Rng } from '../gossip/core/rng.ts';
import { ANNOUNCE_FORMAT, type VersionAnnouncement } from '../model/announcement.ts';
import type { SimOptions } from './options.ts';
import { lineTopology, randomTopology, ringTopology, type Topology } from './topology.ts';

/** Version every node already trusts, the release being spread, and the attackers' forgery. */
export const SIM_OLD_VERSION = '1.0.0';
export const SIM_NEW_VERSION = '1.1.0';
export const SIM_FORGED_VERSION = '9.9.9';

/**
 * Everything about a scenario that does not depend on the protocol: the graph, who is malicious,
 * who joins late or leaves and when, who is cut off by the partition, who publishes. Built once
 * from the seed and replayed for each protocol.
 */
export interface World {
  opts: SimOptions;
  topo: Topology;
  malicious: Uint8Array;
  honestCount: number;
  origin: number;
  /** 1 for nodes on the far side of the partition. */
  side: Uint8Array;
  /** When each node comes online: within the first third of the warm-up for the nodes present
   * from the start (nodes boot at different times; it also keeps the start-up burst of HELLOs in
   * flight small), after publication for churn's late joiners. */
  joinAt: Float64Array;
  /** When each node leaves for good (Infinity: never). */
  leaveAt: Float64Array;
  publishAt: number;
  splitAt: number;
  healAt: number;
  /** No churn, split or heal is scheduled after this. */
  lastScenarioAt: number;
  release: VersionAnnouncement;
  oldRelease: VersionAnnouncement;
  validate: ValidateAnnouncement;
}

/** Stream numbers for deriveSeed, so each use of randomness is independent of the others. */
export const STREAM = { topology: 1, roles: 2, positions: 3, network: 4, nodes: 5, adversary: 6 } as const;

export function buildWorld(opts: SimOptions): World {
  const n = opts.nodes;
  const topoRng = new Rng(deriveSeed(opts.seed, STREAM.topology));
  const topo =
    opts.topology === 'line'
      ? lineTopology(n)
      : opts.topology === 'ring'
        ? ringTopology(n)
        : randomTopology(n, opts.minDegree, opts.maxDegree, topoRng);
  const rng = new Rng(deriveSeed(opts.seed, STREAM.roles));
  // The origin is node 0 on line and ring (so hop distance is the index); random otherwise.
  const origin = opts.topology === 'random' ? rng.int(n) : 0;
  const others = rng.shuffle(Array.from({ length: n }, (_, i) => i).filter((i) => i !== origin));
  let next = 0;
  const take = (count: number): number[] => {
    const picked = others.slice(next, next + count);
    next += picked.length;
    return picked;
  };
  const malicious = new Uint8Array(n);
  for (const i of take(Math.round(opts.malicious * n))) malicious[i] = 1;
  const honestCount = n - malicious.reduce((s, v) => s + v, 0);

  const publishAt = opts.warmupMs;
  const joinAt = new Float64Array(n);
  for (let i = 0; i < n; i++) joinAt[i] = (rng.next() * opts.warmupMs) / 3;
  const leaveAt = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const churners = Math.round(opts.churn * honestCount);
  for (const i of take(churners)) joinAt[i] = publishAt + rng.next() * opts.churnWindowMs;
  for (const i of take(churners)) leaveAt[i] = publishAt + rng.next() * opts.churnWindowMs;

  // The partition cuts a random set off (honest and malicious alike), never the origin.
  const side = new Uint8Array(n);
  const splitCount = Math.min(n - 1, Math.round(opts.partition * n));
  for (const i of rng.sample(others, splitCount)) side[i] = 1;
  const splitAt = splitCount > 0 ? publishAt / 2 : Number.POSITIVE_INFINITY;
  const healAt = splitCount > 0 ? publishAt + opts.partitionMs : Number.POSITIVE_INFINITY;

  const lastScenarioAt = Math.max(
    publishAt,
    churners > 0 ? publishAt + opts.churnWindowMs : 0,
    splitCount > 0 ? healAt : 0,
  );
  const idRng = new Rng(deriveSeed(opts.seed, STREAM.adversary + 100));
  return {
    opts,
    topo,
    malicious,
    honestCount,
    origin,
    side,
    joinAt,
    leaveAt,
    publishAt,
    splitAt,
    healAt,
    lastScenarioAt,
    release: simAnnouncement(idRng.uuid(), SIM_NEW_VERSION, opts.ttl, true),
    oldRelease: simAnnouncement(idRng.uuid(), SIM_OLD_VERSION, opts.ttl, true),
    validate: simValidate,
  };
}

/**
 * A release announcement as the simulator carries it: the TUF bundle is a marker, not real
 * metadata, and `simValidate` stands in for the TUF check (genuine marker: valid; anything
 * else: E_SIGNATURE). The real check is tested in trust/; here only its verdict matters.
 */
export function simAnnouncement(
  id: string,
  version: string,
  ttl: number,
  genuine: boolean,
): VersionAnnouncement {
  return {
    format: ANNOUNCE_FORMAT,
    id,
    node_id: genuine ? 'publisher' : 'attacker',
    version,
    metadata: {
      roots: [],
      timestamp: 'c2lt',
      snapshot: 'c2lt',
      targets: genuine ? signedMark(version) : 'Zm9yZ2Vk',
    },
    sources: [],
    timestamp: '2025-01-01T00:00:00.000Z',
    ttl,
  };
}

function signedMark(version: string): string {
  return btoa(`signed:${version}`);
}

const marks = new Map<string, string>();
export const simValidate: ValidateAnnouncement = (a) => {
  let mark = marks.get(a.version);
  if (mark === undefined) {
    mark = signedMark(a.version);
    marks.set(a.version, mark);
  }
  return a.metadata.targets === mark
    ? { ok: true }
    : { ok: false, code: 'E_SIGNATURE', reason: 'targets not signed by a trusted key' };
};
