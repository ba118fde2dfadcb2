/**
 * Renders expiry warnings (trust/expiry.ts) the same way for `trust show` and every `release`
 * command: one coded line per role on stderr (`warning[W_EXPIRES_SOON]: ...`, never on stdout, so
 * --json output stays one document) and the list for the command's `warnings` JSON field.
 */
import { EXPIRY_WARNING_SEC } from '../../release/defaults.ts';
import { type ExpiryItem, type ExpiryWarning, expiryWarnings } from '../../trust/expiry.ts';
import type { RoleName } from '../../trust/metadata.ts';
import type { CommandEnv } from '../program.ts';

const RENEW: Record<RoleName, string> = {
  root: 'root keys must sign a new root (dchat release rotate-keys)',
  targets: 'targets keys must sign a new targets (dchat release publish, or refresh --targets)',
  snapshot: 'the online key must re-sign it (dchat release refresh)',
  timestamp: 'the online key must re-sign it (dchat release refresh)',
};

export function reportExpiry(
  env: CommandEnv,
  items: readonly ExpiryItem[],
  advice: 'release' | 'node' = 'release',
): ExpiryWarning[] {
  const warnings = expiryWarnings(items, env.ctx.now(), EXPIRY_WARNING_SEC);
  for (const w of warnings) {
    const when =
      w.code === 'W_EXPIRED'
        ? 'has expired'
        : w.days_left === 0
          ? 'expires within a day'
          : `expires in ${w.days_left} day${w.days_left === 1 ? '' : 's'}`;
    const hint =
      advice === 'release'
        ? RENEW[w.role]
        : 'the next `dchat update check` fetches newer metadata if the release team renewed it';
    env.out.note(`warning[${w.code}]: ${w.role} v${w.version} ${when} (${w.expires}): ${hint}`);
  }
  return warnings;
}

/** The four roles of a repository as expiry items. */
export function repoExpiryItems(repo: {
  root: { signed: { version: number; expires: string } };
  targets: { signed: { version: number; expires: string } };
  snapshot: { signed: { version: number; expires: string } };
  timestamp: { signed: { version: number; expires: string } };
}): ExpiryItem[] {
  return (['root', 'targets', 'snapshot', 'timestamp'] as const).map((role) => ({
    role,
    version: repo[role].signed.version,
    expires: repo[role].signed.expires,
  }));
}
