/**
 * Mirrors learned from peers (issue 5 item 3), kept in $DCHAT_HOME/mirrors.toml beside the ones
 * the operator configured, through store/mirrors.ts's own load and save, so `dchat update
 * list-mirrors` ("Learned from peers") and downloads see them after a node ran. A learned mirror
 * is untrusted transport (every byte is verified anyway); the file keeps it apart:
 *  - origin 'learned', at most MAX_LEARNED_MIRRORS of them (and never past the file's cap);
 *  - ranked below every default and configured mirror: its priority is above all of theirs;
 *  - never replacing a mirror the operator has (same URI), never reusing one of their ids;
 *  - only records loadMirrors accepts (URI normalised for its type, schema), so nothing a peer
 *    says can make mirrors.toml unreadable; the result is parsed back before it is written.
 * Measurements and failure counts that downloads recorded on a learned mirror are kept.
 */
import { randomUUID } from 'node:crypto';
import { DchatError } from '../errors.ts';
import type { DownloadSource } from '../model/download-source.ts';
import { LIMITS } from '../model/limits.ts';
import type { HomePaths } from './home.ts';
import {
  type MirrorRecord,
  MirrorRecordSchema,
  normalizeMirrorUri,
  parseMirrorsToml,
  serializeMirrors,
  updateMirrors,
} from './mirrors.ts';

export const MAX_LEARNED_MIRRORS = 32;
const PRIORITY_MAX = 1_000_000;

/**
 * The records of `records` with the learned ones replaced by `learned` (the node's current list,
 * best first) followed by those learned earlier and still kept, capped at `max`.
 */
export function mergeLearnedMirrors(
  records: readonly MirrorRecord[],
  learned: readonly DownloadSource[],
  max: number = MAX_LEARNED_MIRRORS,
  newId: () => string = randomUUID,
): MirrorRecord[] {
  const operator = records.filter((m) => m.origin !== 'learned');
  const before = new Map(records.filter((m) => m.origin === 'learned').map((m) => [m.uri, m]));
  const floor = Math.min(PRIORITY_MAX, Math.max(-1, ...operator.map((m) => m.priority)) + 1);
  const taken = new Set(operator.map((m) => m.uri));
  const ids = new Set(operator.map((m) => m.id));
  const room = Math.max(0, Math.min(max, LIMITS.maxMirrors - operator.length));
  const out: MirrorRecord[] = [];
  const add = (r: MirrorRecord) => {
    if (out.length >= room || taken.has(r.uri)) return;
    const record = { ...r, priority: Math.max(floor, r.priority), origin: 'learned' as const };
    if (ids.has(record.id)) record.id = newId();
    const ok = MirrorRecordSchema.safeParse(record);
    if (!ok.success) return;
    taken.add(record.uri);
    ids.add(record.id);
    out.push(ok.data);
  };
  for (const s of learned) {
    if (s.origin !== 'learned') continue;
    let uri: string;
    try {
      uri = normalizeMirrorUri(s.source_type, s.uri);
    } catch {
      continue;
    }
    const kept = before.get(uri);
    add(
      kept ?? {
        id: s.id,
        source_type: s.source_type,
        uri,
        ...(s.region === undefined ? {} : { region: s.region }),
        priority: s.priority,
        failure_count: 0,
        origin: 'learned',
      },
    );
  }
  for (const r of before.values()) add(r);
  return [...operator, ...out];
}

/**
 * Merges the node's learned mirrors into mirrors.toml (re-read first, so the operator's concurrent
 * edits are kept). Writes only when something changed; returns whether it wrote. E_CONFIG if the
 * file as it stands cannot be read: it is then left for its owner to fix.
 */
export async function persistLearnedMirrors(
  paths: HomePaths,
  learned: readonly DownloadSource[],
): Promise<boolean> {
  let wrote = false;
  await updateMirrors(paths, (cfg) => {
    const mirrors = mergeLearnedMirrors(cfg.mirrors, learned);
    const next = { settings: cfg.settings, mirrors };
    const text = serializeMirrors(next);
    if (cfg.fromFile && text === serializeMirrors(cfg)) return undefined;
    if (!cfg.fromFile && !mirrors.some((m) => m.origin === 'learned')) return undefined;
    try {
      parseMirrorsToml(text, paths.mirrorsToml);
    } catch (cause) {
      throw new DchatError('E_INTERNAL', 'learned mirrors would make mirrors.toml unreadable', { cause });
    }
    wrote = true;
    return next;
  });
  return wrote;
}
