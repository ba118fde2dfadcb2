/**
 * How much of the remaining work a source gets by its measured speed (pure). The seed's planner
 * takes chunks from every source at once "by priority and measured speed": a source several times
 * slower than the best must not hold a run as long as the best's, or the download ends waiting for
 * it (work stealing and hedging only rescue the tail), and on a busy machine every byte it fetches
 * costs CPU the fast source could have used. So a measured source gets a run it should finish in
 * about the time the fastest finishes a full one, and none at all when even one chunk from it would
 * take longer than the fastest needs for everything still unassigned. A source not measured yet
 * gets a short probe run once another source has been measured, and at the start too when a source
 * of a better priority is there (the seed's order, mirrors first, is the expected speed order: a
 * slow channel's first run must not be as long as the mirror's). Only when nothing is known and no
 * one ranks above it does a source start with a full run.
 */

/** Chunks of the probe run of a source not measured yet while another one is. */
export const PROBE_RUN_CHUNKS = 2;

/**
 * The run (in chunks) for a source whose verified chunks take `ownMs` each (undefined: not
 * measured), when the fastest available source's take `bestMs`, a full run is `base` chunks and
 * `unassigned` chunks are left to hand out; `outranked`: an available source has a better priority.
 * 0: give it nothing now.
 */
export function runForSpeed(
  base: number,
  ownMs: number | undefined,
  bestMs: number | undefined,
  unassigned: number,
  outranked = false,
): number {
  if (ownMs === undefined)
    return bestMs === undefined && !outranked ? base : Math.min(base, PROBE_RUN_CHUNKS);
  if (bestMs === undefined || ownMs <= bestMs) return base;
  if (ownMs > bestMs * Math.max(1, unassigned)) return 0;
  return Math.max(1, Math.min(base, Math.floor((base * bestMs) / ownMs)));
}
