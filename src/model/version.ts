// The two functions alone: the package index loads all 45 of its modules (20 ms of every start).
import semverCompare from 'semver/functions/compare.js';
import semverValid from 'semver/functions/valid.js';
import { DchatError } from '../errors.ts';

/** Release versions are strict SemVer 2.0 without build metadata ("1.2.3", "2.0.0-rc.1"). */
export function isValidVersion(v: string): boolean {
  return v.length <= 64 && semverValid(v) === v && !v.includes('+');
}

export function parseVersion(v: string, what = 'version'): string {
  if (!isValidVersion(v))
    throw new DchatError('E_MALFORMED', `${what} '${v.slice(0, 80)}' is not a SemVer version like 1.2.3`);
  return v;
}

export function compareVersions(a: string, b: string): number {
  return semverCompare(a, b);
}

export function sortVersions(vs: Iterable<string>): string[] {
  return [...vs].sort(compareVersions);
}
