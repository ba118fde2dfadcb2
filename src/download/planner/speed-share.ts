/**
 * How much of the remaining work a source gets by its measured speed (pure). The seed's planner
 * takes chunks from every source at once "by priority and measured speed", but adding a slower
 * channel must never make the download slower than its fastest one:
 * - A measured source gets a run it should finish in about the time the fastest finishes a full
 *   one, so the download does not end waiting for it (the machine's end-game takes over the rest
 *   of a slower source's run when the fast one is idle).
 * - A source more than MAX_SLOWDOWN times slower than the fastest gets no new work: it would add
 *   at most a fifth to the speed, while each of its chunks costs requests, reordering memory and,
 *   on a machine where the download is CPU-bound (loopback, a small box), protocol work the fast
 *   source needed (bench channels measured libp2p/bitswap and BitTorrent at ~8x the CPU per byte
 *   of HTTPS: every chunk they carried made the whole slower). It still hedges a stalled fetch.
 * - A source not measured yet that a better priority outranks (the seed's order, mirrors first, is
 *   the expected speed order) is probed with a short run only when the fastest measured source
 *   would still need PROBE_HORIZON_MS for what is left: starting a channel costs seconds of CPU
 *   (bench channels on 2 busy cores: the mirror's first 4 MiB took 2.5-4.7 s instead of ~0.1 s
 *   while Helia and a peer stream started), which a download about to end never earns back. While no
 *   better source has been measured it waits PROBE_GRACE_MS (a top source that stalls from its
 *   first byte must not keep the others idle). One of equal priority is probed at once.
 * - Only when nothing is known and no one ranks above it does a source start with a full run.
 */

/** Chunks of the probe run of a source not measured yet. */
export const PROBE_RUN_CHUNKS = 2;
/** A source whose chunks take more than this many times the fastest's gets no new work. */
export const MAX_SLOWDOWN = 4;
/** An outranked channel is tried only if the fastest would need at least this long for the rest. */
export const PROBE_HORIZON_MS = 8000;
/** How long an outranked channel waits for a better source's first measurement. */
export const PROBE_GRACE_MS = 500;

export interface ShareInput {
  /** A full run, in chunks. */
  base: number;
  /** What a verified chunk from this source costs (undefined: not measured). */
  ownMs: number | undefined;
  /** ... and from the fastest measured source (undefined: none measured). */
  bestMs: number | undefined;
  /** Chunks left to hand out. */
  unassigned: number;
  /**
   * What the fastest measured source would need for the rest, once its data flows (default:
   * bestMs x unassigned).
   */
  restMs?: number;
  /** An available source has a better priority. */
  outranked?: boolean;
  /** Since work was first handed out. */
  sinceBeginMs?: number;
  horizonMs?: number;
}

/** The run (in chunks) for a source; 0: give it nothing now. */
export function runForSpeed(o: ShareInput): number {
  const { base, ownMs, bestMs, unassigned } = o;
  if (ownMs === undefined) {
    if (!o.outranked) return bestMs === undefined ? base : Math.min(base, PROBE_RUN_CHUNKS);
    if (bestMs === undefined)
      return (o.sinceBeginMs ?? 0) >= PROBE_GRACE_MS ? Math.min(base, PROBE_RUN_CHUNKS) : 0;
    const rest = o.restMs ?? bestMs * unassigned;
    return rest >= (o.horizonMs ?? PROBE_HORIZON_MS) ? Math.min(base, PROBE_RUN_CHUNKS) : 0;
  }
  if (bestMs === undefined || ownMs <= bestMs) return base;
  if (ownMs > bestMs * MAX_SLOWDOWN || ownMs > bestMs * Math.max(1, unassigned)) return 0;
  return Math.max(1, Math.min(base, Math.floor((base * bestMs) / ownMs)));
}
