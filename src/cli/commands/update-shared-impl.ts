/** Pieces the `dchat update` command bodies share: the service, sizes, rates, pruning reports. */
import { UsageError } from '../../errors.ts';
import { parseRate } from '../../model/rate.ts';
import type { Discovery } from '../../update/discover.ts';
import type { PrunedMirror } from '../../update/health.ts';
import { UpdateService } from '../../update/service.ts';
import type { CommandEnv } from '../program.ts';

export { formatRate } from '../../model/rate.ts';

/** The update service of this command's home, clock and environment. */
export function updateService(env: CommandEnv): UpdateService {
  return new UpdateService({ paths: env.paths, env: env.ctx.env, clock: env.ctx.now });
}

/** Signed targets that are not dchat packages are ignored; a debug line says which. */
export function logIgnored(env: CommandEnv, d: Discovery): void {
  if (d.ignored.length > 0)
    env.logs
      .forComponent('update')
      .debug({ targets: d.ignored }, 'signed targets that are not dchat packages, ignored');
}

/** "45 MB", "5.2 MB", "812 KB" (decimal units, as the seed prints package sizes). */
export function formatSize(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(bytes >= 1e10 ? 0 : 1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(bytes >= 1e7 ? 0 : 1)} MB`;
  if (bytes >= 1e3) return `${Math.round(bytes / 1e3)} KB`;
  return `${bytes} B`;
}

/** A rate flag (`--limit-rate 10M`, binary units: model/rate.ts) in bytes/s. */
export function rateValue(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = parseRate(value);
  if (n === undefined)
    throw new UsageError(
      flag,
      `'${value.slice(0, 40)}' is not a rate like 500K, 10M (KiB/s, MiB/s) or 1048576 (bytes/s)`,
    );
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
