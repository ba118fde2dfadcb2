import { UsageError } from '../errors.ts';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** DURATION is `<n>s|m|h|d` (spec/CLI.md); returns seconds, or a usage error naming the flag. */
export function parseDuration(value: string, flag: string, maxSeconds = 20 * 365 * 86400): number {
  const m = /^(\d{1,9})([smhd])$/.exec(value.trim());
  if (!m) throw new UsageError(flag, `'${value.slice(0, 40)}' is not a duration like 30s, 15m, 12h or 7d`);
  const seconds = Number(m[1]) * (UNIT_SECONDS[m[2] as string] as number);
  if (seconds < 1 || seconds > maxSeconds)
    throw new UsageError(flag, `${value} is out of range (1s to ${Math.floor(maxSeconds / 86400)}d)`);
  return seconds;
}
