/**
 * Expiry warnings (pure): which of a set of metadata documents expire within their role's warning
 * window at `now`, or already have. Renewing a role takes its keys: a root needs a ceremony of
 * offline keys, targets k-of-n maintainers, snapshot and timestamp the online key; the windows
 * (release/defaults.ts) leave time for each. A warning is advice, never a verdict: verification
 * alone decides what is accepted (trusted-set.ts).
 */
import type { RoleName } from './metadata.ts';

export type ExpiryWarningCode = 'W_EXPIRES_SOON' | 'W_EXPIRED';

export interface ExpiryWarning {
  code: ExpiryWarningCode;
  role: RoleName;
  version: number;
  expires: string;
  /** Whole days left (0 on the last day; negative once expired). */
  days_left: number;
}

export interface ExpiryItem {
  role: RoleName;
  version: number;
  expires: string;
}

export function expiryWarnings(
  items: readonly ExpiryItem[],
  now: Date,
  windowSec: Readonly<Record<RoleName, number>>,
): ExpiryWarning[] {
  const out: ExpiryWarning[] = [];
  for (const it of items) {
    const at = Date.parse(it.expires);
    if (Number.isNaN(at)) continue;
    const left = (at - now.getTime()) / 1000;
    if (left > windowSec[it.role]) continue;
    out.push({
      code: left <= 0 ? 'W_EXPIRED' : 'W_EXPIRES_SOON',
      role: it.role,
      version: it.version,
      expires: it.expires,
      days_left: Math.floor(left / 86_400),
    });
  }
  return out;
}
