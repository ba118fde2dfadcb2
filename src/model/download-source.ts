import { z } from 'zod';
import { LIMITS } from './limits.ts';
import { boundedString, isoDate, parseWith, safeUint } from './schema-util.ts';
import { SEED_SOURCE_TYPES } from './source-kind.ts';

/** The seed's spelling of source kinds lives with the one vocabulary (model/source-kind.ts). */
export type { SeedSourceType } from './source-kind.ts';

/** Seed DownloadSource, as stored in mirrors.toml and shared over gossip. */
export const DownloadSourceSchema = z.object({
  id: z.uuid(),
  source_type: z.enum(SEED_SOURCE_TYPES),
  uri: boundedString.min(1),
  region: boundedString.optional(),
  priority: safeUint.max(1_000_000),
  last_success: isoDate.optional(),
  failure_count: safeUint,
  /** dchat addition: configured by the operator, or learned from a peer (untrusted, ranked lower). */
  origin: z.enum(['default', 'configured', 'learned']).default('configured'),
});
export type DownloadSource = z.infer<typeof DownloadSourceSchema>;

export const DownloadSourceListSchema = z.array(DownloadSourceSchema).max(LIMITS.maxMirrors);

export function parseDownloadSource(data: unknown): DownloadSource {
  return parseWith(DownloadSourceSchema, data, 'download source');
}
