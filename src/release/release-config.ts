/**
 * A release repository's own defaults for `release publish`: DIR/release.toml.
 *
 *   [delta]
 *   from_last = 3        # patches from the last 3 releases of the same platform (--delta-from)
 *   [targets]
 *   keep_releases = 10   # the targets document lists the newest 10 releases per platform
 *                        # (--keep-releases; 0 or absent: every release)
 *
 * A missing file means no defaults; a malformed one is E_CONFIG, never a silent default.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { DchatError } from '../errors.ts';
import { LIMITS } from '../model/limits.ts';

export const RELEASE_CONFIG = 'release.toml';
/** Most bases one publish diffs from. */
export const MAX_DELTA_FROM = 16;
/** The largest keep_releases (targets-retention.ts: far beyond what one gossip message holds). */
export const MAX_KEEP_RELEASES = 1000;

export interface ReleaseConfig {
  /** `[delta] from_last`: 0 for none. */
  deltaFromLast: number;
  /** `[targets] keep_releases`: 0 for every release. */
  keepReleases: number;
}

export async function loadReleaseConfig(dir: string): Promise<ReleaseConfig> {
  let text: string;
  try {
    text = await readFile(join(dir, RELEASE_CONFIG), 'utf8');
  } catch {
    return { deltaFromLast: 0, keepReleases: 0 };
  }
  if (text.length > LIMITS.configBytes) throw new DchatError('E_CONFIG', `${RELEASE_CONFIG} is too large`);
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new DchatError('E_CONFIG', `${RELEASE_CONFIG}: ${(err as Error).message}`, { cause: err });
  }
  return {
    deltaFromLast: count(doc, 'delta', 'from_last', MAX_DELTA_FROM),
    keepReleases: count(doc, 'targets', 'keep_releases', MAX_KEEP_RELEASES),
  };
}

function count(doc: Record<string, unknown>, table: string, key: string, max: number): number {
  const t = doc[table];
  if (t === undefined) return 0;
  if (typeof t !== 'object' || t === null || Array.isArray(t))
    throw new DchatError('E_CONFIG', `${RELEASE_CONFIG}: [${table}] must be a table`);
  const n = (t as Record<string, unknown>)[key];
  if (n === undefined) return 0;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > max)
    throw new DchatError('E_CONFIG', `${RELEASE_CONFIG}: [${table}] ${key} must be an integer 0..${max}`);
  return n;
}
