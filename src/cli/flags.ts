import { UsageError } from '../errors.ts';
import { isValidPlatform } from '../model/platform.ts';
import { isValidVersion } from '../model/version.ts';

/** Flag value validators: each names its flag in the error, as spec/CLI.md requires (exit 2). */
export function requireFlag<T>(value: T | undefined, flag: string): T {
  if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0))
    throw new UsageError(flag, 'is required');
  return value;
}

export function versionFlag(value: string | undefined, flag = '--version'): string {
  const v = requireFlag(value, flag);
  if (!isValidVersion(v))
    throw new UsageError(flag, `'${v.slice(0, 64)}' is not a SemVer version like 1.2.3`);
  return v;
}

export function platformFlag(value: string | undefined, flag = '--platform'): string {
  const p = requireFlag(value, flag);
  if (!isValidPlatform(p)) throw new UsageError(flag, `'${p.slice(0, 64)}' is not a platform like linux-x64`);
  return p;
}

export function intFlag(
  value: string | undefined,
  flag: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d{1,15}$/.test(value.trim()))
    throw new UsageError(flag, `'${value.slice(0, 40)}' is not an integer`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(flag, `${n} is out of range (${min} to ${max})`);
  return n;
}

export function boolFlag(value: string | undefined, flag: string): boolean | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (['true', 'yes', '1', 'on'].includes(v)) return true;
  if (['false', 'no', '0', 'off'].includes(v)) return false;
  throw new UsageError(flag, `'${value.slice(0, 40)}' is not true or false`);
}

/** Commander collector for repeatable flags (`--key A --key B`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
