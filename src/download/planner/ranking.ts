/**
 * Source ranking (pure). The seed's priority order stays the first key (cache 0, HTTPS 10, IPFS 20,
 * peers 30, BitTorrent 40 by default; lower is tried first); within one priority, what was measured
 * (latency, throughput), the operator's region and recent failures re-rank the sources. Sources
 * under a penalty come after every available one; banned sources are left out.
 */

/** What the planner knows about one source in this run (no I/O handle, only numbers). */
export interface SourceHealth {
  id: string;
  priority: number;
  region?: string;
  /** Moving average of the time to response headers, ms (undefined: never measured). */
  latencyMs?: number;
  /** Moving average of the body transfer rate, bytes/s (undefined: never measured). */
  throughputBps?: number;
  /** Failures in a row, across runs (the seed's failure_count) and within this run. */
  consecutiveFailures: number;
  /** Failures within this run (drives backoff and the per-run ban). */
  runFailures: number;
  /** Dropped connections resumed on this source since it last delivered a chunk. */
  resumesWithoutProgress: number;
  /** Not to be used before this instant (ms since epoch): backoff after a failure. */
  penaltyUntil?: number;
  /** Refused for the rest of this run (served bytes that contradict signed metadata, lacks the file...). */
  banned: boolean;
}

export function newHealth(
  id: string,
  priority: number,
  o: { region?: string; latencyMs?: number; throughputBps?: number; failureCount?: number } = {},
): SourceHealth {
  return {
    id,
    priority,
    ...(o.region !== undefined ? { region: o.region } : {}),
    ...(o.latencyMs !== undefined ? { latencyMs: o.latencyMs } : {}),
    ...(o.throughputBps !== undefined ? { throughputBps: o.throughputBps } : {}),
    consecutiveFailures: o.failureCount ?? 0,
    runFailures: 0,
    resumesWithoutProgress: 0,
    banned: false,
  };
}

/** Assumed for a source never measured: neither favoured nor punished against measured ones. */
export const DEFAULT_LATENCY_MS = 150;
export const DEFAULT_THROUGHPUT_BPS = 8 * 1024 * 1024;
/** The amount of data a score estimates the fetch time of (a typical multi-chunk request). */
export const SCORE_REFERENCE_BYTES = 4 * 1024 * 1024;
/** A source in the operator's region is assumed this much faster (its measurements still count). */
export const REGION_BONUS = 0.8;

/** Estimated milliseconds to fetch SCORE_REFERENCE_BYTES from `h`; lower is better. */
export function sourceScore(h: SourceHealth, preferredRegion?: string): number {
  const latency = h.latencyMs ?? DEFAULT_LATENCY_MS;
  const rate = Math.max(1, h.throughputBps ?? DEFAULT_THROUGHPUT_BPS);
  let ms = latency + (SCORE_REFERENCE_BYTES / rate) * 1000;
  if (preferredRegion && h.region && h.region === preferredRegion) ms *= REGION_BONUS;
  // Each failure in a row doubles the estimate: a flaky source costs retries.
  ms *= 2 ** Math.min(h.consecutiveFailures, 16);
  return ms;
}

export function isAvailable(h: SourceHealth, now: number): boolean {
  return !h.banned && (h.penaltyUntil === undefined || h.penaltyUntil <= now);
}

/**
 * Sources in the order to use them at `now`: available before penalised, then by priority, then
 * by score, then by id (deterministic). Banned sources are not returned.
 */
export function rankSources(
  sources: readonly SourceHealth[],
  now: number,
  preferredRegion?: string,
): SourceHealth[] {
  return sources
    .filter((h) => !h.banned)
    .map((h) => ({ h, avail: isAvailable(h, now) ? 0 : 1, score: sourceScore(h, preferredRegion) }))
    .sort(
      (a, b) =>
        a.avail - b.avail ||
        a.h.priority - b.h.priority ||
        a.score - b.score ||
        (a.h.id < b.h.id ? -1 : a.h.id > b.h.id ? 1 : 0),
    )
    .map((x) => x.h);
}

/** Exponentially weighted moving average; the first sample is taken as is. */
export function ewma(prev: number | undefined, sample: number, alpha = 0.3): number {
  return prev === undefined ? sample : prev * (1 - alpha) + sample * alpha;
}
