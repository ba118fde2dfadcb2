import type { ErrorCode } from '../errors.ts';

/** What a governance check concludes: fine, or why not with a stable error code. */
export type Verdict = { ok: true } | { ok: false; code: ErrorCode; reason: string };

export const OK: Verdict = Object.freeze({ ok: true });

export function refuse(code: ErrorCode, reason: string): { ok: false; code: ErrorCode; reason: string } {
  return { ok: false, code, reason };
}
