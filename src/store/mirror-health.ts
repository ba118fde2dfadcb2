/**
 * $DCHAT_HOME/state/mirror-health.json: what downloads learned about each mirror (last success,
 * failures in a row, latency, throughput), by mirror id. State, not configuration: kept out of
 * mirrors.toml so a download never rewrites the operator's file. Written under the home's mirrors
 * lock, with mirrors.toml (store/mirrors.ts). A missing or damaged file means "nothing measured
 * yet": health only ranks mirrors, it never decides trust.
 */
import { z } from 'zod';
import { isoDate, safeUint } from '../model/schema-util.ts';
import { writeFileAtomic } from './atomic.ts';
import type { HomePaths } from './home.ts';
import type { MirrorRecord } from './mirrors.ts';
import { readCappedIfExists } from './read-capped.ts';

export const HEALTH_FORMAT = 'dchat-mirror-health/1';
const MAX_BYTES = 1_000_000;

const HealthSchema = z.object({
  last_success: isoDate.optional(),
  failure_count: safeUint.default(0),
  latency_ms: z.number().int().nonnegative().max(3_600_000).optional(),
  throughput_bps: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
});
export type MirrorHealth = z.infer<typeof HealthSchema>;

const FileSchema = z.object({
  format: z.literal(HEALTH_FORMAT),
  mirrors: z.record(z.string().max(64), HealthSchema),
});

export async function loadMirrorHealth(paths: HomePaths): Promise<Map<string, MirrorHealth>> {
  try {
    const bytes = await readCappedIfExists(paths.mirrorHealth, MAX_BYTES);
    if (!bytes) return new Map();
    const r = FileSchema.safeParse(JSON.parse(bytes.toString('utf8')));
    return r.success ? new Map(Object.entries(r.data.mirrors)) : new Map();
  } catch {
    return new Map();
  }
}

export function healthOf(m: MirrorRecord): MirrorHealth {
  return {
    ...(m.last_success !== undefined ? { last_success: m.last_success } : {}),
    failure_count: m.failure_count,
    ...(m.latency_ms !== undefined ? { latency_ms: m.latency_ms } : {}),
    ...(m.throughput_bps !== undefined ? { throughput_bps: m.throughput_bps } : {}),
  };
}

/** `m` with its measured fields taken from `h` (the state file is newer than any copy in TOML). */
export function withHealth(m: MirrorRecord, h: MirrorHealth | undefined): MirrorRecord {
  if (!h) return m;
  const { last_success: _s, latency_ms: _l, throughput_bps: _t, ...config } = m;
  return { ...config, ...h };
}

/** Writes the health of `mirrors` (only theirs: removed mirrors are forgotten). */
export async function saveMirrorHealth(paths: HomePaths, mirrors: readonly MirrorRecord[]): Promise<void> {
  const doc = { format: HEALTH_FORMAT, mirrors: Object.fromEntries(mirrors.map((m) => [m.id, healthOf(m)])) };
  await writeFileAtomic(paths.mirrorHealth, `${JSON.stringify(doc, null, 1)}\n`);
}
