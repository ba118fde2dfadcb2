/**
 * Mirror health across runs (pure): what one run's outcomes do to the persisted records, and which
 * mirrors are pruned for failing too many times in a row. Generic over the record type so the
 * store's mirrors.toml records (seed DownloadSource + measurements) pass through unchanged.
 */

/** The seed fields health touches, plus the measurements dchat keeps beside them. */
export interface HealthFields {
  id: string;
  uri: string;
  failure_count: number;
  last_success?: string;
  latency_ms?: number;
  throughput_bps?: number;
}

/** What happened to one mirror in one run (a check, a download, a test). */
export interface MirrorOutcome {
  id: string;
  /** Delivered what was asked at least once (and nothing that contradicted signed metadata). */
  ok: boolean;
  latencyMs?: number;
  throughputBps?: number;
  error?: string;
}

export interface PrunedMirror {
  id: string;
  uri: string;
  failures: number;
  lastError?: string;
}

/**
 * Applies outcomes at `now`: success resets failure_count and stamps last_success (seed fields),
 * failure increments it; measurements are folded into moving averages. Mirrors that reach
 * `pruneAfter` failures in a row are removed and returned as pruned (`pruneAfter` 0: never).
 */
export function applyOutcomes<T extends HealthFields>(
  records: readonly T[],
  outcomes: readonly MirrorOutcome[],
  now: Date,
  pruneAfter: number,
): { records: T[]; pruned: PrunedMirror[] } {
  const byId = new Map(outcomes.map((o) => [o.id, o]));
  const kept: T[] = [];
  const pruned: PrunedMirror[] = [];
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  for (const r of records) {
    const o = byId.get(r.id);
    if (!o) {
      kept.push(r);
      continue;
    }
    const next: T = { ...r };
    if (o.ok) {
      next.failure_count = 0;
      next.last_success = stamp;
    } else {
      next.failure_count = r.failure_count + 1;
    }
    if (o.latencyMs !== undefined) next.latency_ms = Math.round(avg(r.latency_ms, o.latencyMs));
    if (o.throughputBps !== undefined)
      next.throughput_bps = Math.round(avg(r.throughput_bps, o.throughputBps));
    if (!o.ok && pruneAfter > 0 && next.failure_count >= pruneAfter) {
      pruned.push({
        id: r.id,
        uri: r.uri,
        failures: next.failure_count,
        ...(o.error !== undefined ? { lastError: o.error } : {}),
      });
      continue;
    }
    kept.push(next);
  }
  return { records: kept, pruned };
}

function avg(prev: number | undefined, sample: number): number {
  return prev === undefined ? sample : prev * 0.7 + sample * 0.3;
}
