/**
 * What to do with a source that failed (pure). The engine reports the failure's code; this decides
 * between resuming on the same source at once (a dropped connection: spec/CLI.md "a dropped
 * connection resumes from the last verified chunk before another source is tried"), backing off
 * (the source may recover; others take its chunks meanwhile) and banning it for the run (it
 * served bytes that contradict the signed metadata, or does not have the file).
 */
import { ewma, type SourceHealth } from './ranking.ts';

export type FailureKind = 'corrupt' | 'missing' | 'unavailable' | 'dropped' | 'slow';

/** Maps an error code (and HTTP status, if any) to the kind of failure. */
export function classifyFailure(code: string, status?: number): FailureKind {
  switch (code) {
    case 'E_CHUNK_MISMATCH':
    case 'E_HASH_MISMATCH':
    case 'E_TOO_LARGE':
    case 'E_MALFORMED':
    case 'E_SIZE_MISMATCH':
    case 'E_WRONG_TARGET':
      return 'corrupt';
    case 'E_NOT_FOUND':
      return 'missing';
    case 'E_SLOW_SOURCE':
      return 'slow';
    case 'E_NETWORK':
    case 'E_TIMEOUT':
      return 'dropped';
    case 'E_HTTP':
      return status === 404 || status === 410 ? 'missing' : 'unavailable';
    default:
      return 'unavailable';
  }
}

export interface PenaltyPolicy {
  /** Immediate resumptions on the same source after a dropped connection without progress. */
  resumeRetries: number;
  /** First backoff; doubles with each failure in this run. */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** A source failing this many times in one run is not tried again in it. */
  maxRunFailures: number;
}

export const DEFAULT_PENALTY_POLICY: PenaltyPolicy = {
  resumeRetries: 2,
  baseBackoffMs: 250,
  maxBackoffMs: 15_000,
  maxRunFailures: 4,
};

export type FailureAction = 'resume' | 'backoff' | 'ban';

export interface FailureDecision {
  action: FailureAction;
  health: SourceHealth;
}

/**
 * The new health of a source after a failure of `kind` at `now`, and the action. `progressed`:
 * the failed attempt delivered at least one verified chunk (then a drop is not the source's fault
 * alone, and resumptions start over).
 */
export function onSourceFailure(
  h: SourceHealth,
  kind: FailureKind,
  now: number,
  progressed: boolean,
  policy: PenaltyPolicy = DEFAULT_PENALTY_POLICY,
): FailureDecision {
  const base: SourceHealth = {
    ...h,
    consecutiveFailures: h.consecutiveFailures + 1,
    runFailures: h.runFailures + 1,
    resumesWithoutProgress: progressed ? 0 : h.resumesWithoutProgress,
  };
  if (kind === 'corrupt' || kind === 'missing') {
    return { action: 'ban', health: { ...base, banned: true } };
  }
  if (kind === 'dropped' && base.resumesWithoutProgress < policy.resumeRetries) {
    // Same source, from the last verified chunk, right away; not counted against the run budget.
    return {
      action: 'resume',
      health: {
        ...base,
        runFailures: h.runFailures,
        resumesWithoutProgress: base.resumesWithoutProgress + 1,
      },
    };
  }
  if (base.runFailures >= policy.maxRunFailures) {
    return { action: 'ban', health: { ...base, banned: true } };
  }
  const backoff = Math.min(policy.maxBackoffMs, policy.baseBackoffMs * 2 ** (base.runFailures - 1));
  // A slow source is not retried before the others had a fair chance.
  const wait = kind === 'slow' ? Math.max(backoff, policy.maxBackoffMs / 2) : backoff;
  return { action: 'backoff', health: { ...base, penaltyUntil: now + wait } };
}

/** After a source delivered: failures in a row reset, measurements folded into the averages. */
export function onSourceSuccess(
  h: SourceHealth,
  sample: { latencyMs?: number; bytes?: number; ms?: number },
): SourceHealth {
  const next: SourceHealth = { ...h, consecutiveFailures: 0, resumesWithoutProgress: 0 };
  delete next.penaltyUntil;
  if (sample.latencyMs !== undefined) next.latencyMs = ewma(h.latencyMs, sample.latencyMs);
  // Rates measured over tiny transfers are mostly latency: only fold in meaningful samples.
  if (sample.bytes !== undefined && sample.ms !== undefined && sample.bytes >= 64 * 1024 && sample.ms > 0) {
    next.throughputBps = ewma(h.throughputBps, (sample.bytes / sample.ms) * 1000);
  }
  return next;
}
