/** Pieces the `dchat update` command bodies share: discovery, sizes, rates, pruning reports. */
import {
  type MirrorSession,
  openMirrors,
  recordHealth,
  refreshTrust,
} from '../../download/mirror-session.ts';
import type { MirrorOutcome, PrunedMirror } from '../../download/planner/pruning.ts';
import { parseRate } from '../../download/planner/rate.ts';
import { DchatError, UsageError } from '../../errors.ts';
import type { SeedSourceType } from '../../model/download-source.ts';
import type { SourcesUpdate } from '../../sources/mirror-fetcher.ts';
import { otherTargets } from '../../trust/package-check.ts';
import type { TrustedSet } from '../../trust/trusted-set.ts';
import type { CommandEnv } from '../program.ts';

/** "45 MB", "5.2 MB", "812 KB" (decimal units, as the seed prints sizes). */
export function formatSize(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(bytes >= 1e10 ? 0 : 1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(bytes >= 1e7 ? 0 : 1)} MB`;
  if (bytes >= 1e3) return `${Math.round(bytes / 1e3)} KB`;
  return `${bytes} B`;
}

export function formatRate(bps: number): string {
  return `${formatSize(bps)}/s`;
}

/** A rate flag (`--limit-rate 10M`) or mirrors.toml setting, in bytes/s. */
export function rateValue(value: string | number | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  const n = parseRate(value);
  if (n === undefined)
    throw new UsageError(flag, `'${value.slice(0, 40)}' is not a rate like 500K, 10M or 1048576`);
  return n;
}

/** Tells the operator which mirrors were pruned (stdout for humans; --json documents carry them). */
export function reportPruned(env: CommandEnv, pruned: readonly PrunedMirror[], threshold: number): void {
  for (const p of pruned) {
    env.out.line(
      `🗑️  Pruned mirror ${p.uri}: failed ${p.failures} times in a row (prune_after_failures = ${threshold})${p.lastError ? `; last error: ${p.lastError}` : ''}`,
    );
  }
}

export function prunedJson(
  pruned: readonly PrunedMirror[],
): { url: string; failures: number; last_error?: string }[] {
  return pruned.map((p) => ({
    url: p.uri,
    failures: p.failures,
    ...(p.lastError ? { last_error: p.lastError } : {}),
  }));
}

export interface Discovery {
  session: MirrorSession;
  update: SourcesUpdate;
  trusted: TrustedSet;
  pruned: PrunedMirror[];
  outcomes: MirrorOutcome[];
}

/**
 * Opens the configured mirrors and runs the TUF refresh through them (persisting what is trusted
 * in $DCHAT_HOME/trust), records each mirror's health and reports pruning. The caller closes
 * `session` (a download keeps using it).
 */
export async function discover(env: CommandEnv, type?: SeedSourceType): Promise<Discovery> {
  const now = env.ctx.now();
  const session = await openMirrors(env.paths, {
    now: now.getTime(),
    env: env.ctx.env,
    ...(type ? { type } : {}),
  });
  try {
    const r = await refreshTrust(env.paths, session, now);
    if (r.error || !r.update) {
      const pruned = await recordHealth(env.paths, r.outcomes, now);
      reportPruned(env, pruned, session.config.settings.prune_after_failures);
      throw r.error ?? new DchatError('E_INTERNAL', 'refresh returned nothing');
    }
    const ignored = otherTargets(r.update.trusted.requireTargets());
    if (ignored.length > 0)
      env.logs
        .forComponent('update')
        .debug({ targets: ignored }, 'signed targets that are not dchat packages, ignored');
    return { session, update: r.update, trusted: r.update.trusted, pruned: [], outcomes: r.outcomes };
  } catch (err) {
    await session.close();
    throw err;
  }
}
