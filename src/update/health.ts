/**
 * Mirror health, recorded once per operation (DESIGN.md `update/`): every step of a run (the TUF
 * refresh, the download, a probe) adds its outcomes to one RunHealth, and `commit` stores them in
 * a single locked update at the end (store/mirrors.ts `updateMirrors`: health goes to the state
 * file, mirrors.toml changes only when a mirror is pruned), success or failure, pruning mirrors that failed
 * `prune_after_failures` times in a row. Nothing is written for a home without a mirrors.toml: the
 * shipped defaults are derived from the trust origin at each start, not configuration to persist.
 */
import type { SourceReport } from '../download/engine.ts';
import { applyOutcomes, type MirrorOutcome, type PrunedMirror } from '../download/planner/pruning.ts';
import type { SourcesUpdate } from '../sources/mirror-fetcher.ts';
import type { HomePaths } from '../store/home.ts';
import { updateMirrors } from '../store/mirrors.ts';

export type { MirrorOutcome, PrunedMirror };

export class RunHealth {
  private readonly outcomes: MirrorOutcome[] = [];
  private committed: Promise<PrunedMirror[]> | undefined;

  add(list: readonly MirrorOutcome[]): void {
    this.outcomes.push(...list);
  }

  /** The run's outcomes merged per mirror. */
  merged(): MirrorOutcome[] {
    return mergeOutcomes(this.outcomes);
  }

  /** Writes the run's health once (later calls return the first result). */
  commit(paths: HomePaths, now: Date): Promise<PrunedMirror[]> {
    this.committed ??= recordHealth(paths, this.merged(), now);
    return this.committed;
  }
}

/** Outcomes of the TUF refresh attempts. */
export function attemptOutcomes(attempts: SourcesUpdate['attempts']): MirrorOutcome[] {
  return attempts.map((a) => ({
    id: a.source.id,
    ok: a.ok,
    ...(a.latencyMs !== undefined ? { latencyMs: a.latencyMs } : {}),
    ...(a.error ? { error: `${a.error.code} ${a.error.message}` } : {}),
  }));
}

/** What each mirror did in a download, as health outcomes (the cache and peers are not mirrors). */
export function downloadOutcomes(reports: readonly SourceReport[]): MirrorOutcome[] {
  return reports
    .filter((r) => r.type !== 'cache' && r.type !== 'peer' && (r.chunks > 0 || r.failures.length > 0))
    .map((r) => {
      const last = r.failures.at(-1);
      return {
        id: r.id,
        ok: r.ok && !r.banned,
        ...(r.latencyMs !== undefined ? { latencyMs: r.latencyMs } : {}),
        ...(r.throughputBps !== undefined ? { throughputBps: r.throughputBps } : {}),
        ...(last ? { error: `${last.code} ${last.message}` } : {}),
      };
    });
}

/**
 * Merges outcomes of one run (several steps may report the same mirror: a failure anywhere that
 * was not made good by a success counts as a failure; corrupt data always counts).
 */
export function mergeOutcomes(...lists: (readonly MirrorOutcome[])[]): MirrorOutcome[] {
  const out = new Map<string, MirrorOutcome>();
  for (const o of lists.flat()) {
    const prev = out.get(o.id);
    if (!prev) {
      out.set(o.id, { ...o });
      continue;
    }
    const latencyMs = o.latencyMs ?? prev.latencyMs;
    const throughputBps = o.throughputBps ?? prev.throughputBps;
    const error = o.error ?? prev.error;
    out.set(o.id, {
      id: o.id,
      ok: prev.ok && o.ok,
      ...(latencyMs !== undefined ? { latencyMs } : {}),
      ...(throughputBps !== undefined ? { throughputBps } : {}),
      ...(error !== undefined ? { error } : {}),
    });
  }
  return [...out.values()];
}

/**
 * Applies outcomes under the mirrors lock (re-read first, so concurrent edits are kept) and prunes
 * mirrors that failed `prune_after_failures` times in a row. Returns what was pruned.
 */
export async function recordHealth(
  paths: HomePaths,
  outcomes: readonly MirrorOutcome[],
  now: Date,
): Promise<PrunedMirror[]> {
  if (outcomes.length === 0) return [];
  let pruned: PrunedMirror[] = [];
  await updateMirrors(paths, (cfg) => {
    if (!cfg.fromFile) return undefined;
    if (!cfg.mirrors.some((m) => outcomes.some((o) => o.id === m.id))) return undefined;
    const r = applyOutcomes(cfg.mirrors, outcomes, now, cfg.settings.prune_after_failures);
    pruned = r.pruned;
    return { settings: cfg.settings, mirrors: r.records };
  });
  return pruned;
}
