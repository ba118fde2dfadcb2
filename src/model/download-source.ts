import { z } from 'zod';
import { LIMITS } from './limits.ts';
import { boundedString, isoDate, parseWith, safeUint } from './schema-util.ts';

/** Seed SourceType names (DownloadSource.source_type), plus the channels later phases add. */
export const SOURCE_TYPES = [
  'HttpsMirror',
  'Ipfs',
  'BitTorrent',
  'Gossip',
  'Peer',
  'GitHub',
  'FDroid',
] as const;
export type SeedSourceType = (typeof SOURCE_TYPES)[number];

/** `--mirror-type` spelling to seed spelling. */
export const MIRROR_TYPE_FLAGS: Record<string, SeedSourceType> = {
  https: 'HttpsMirror',
  ipfs: 'Ipfs',
  bittorrent: 'BitTorrent',
  github: 'GitHub',
  fdroid: 'FDroid',
  peer: 'Peer',
  gossip: 'Gossip',
};

/** Seed DownloadSource, as stored in mirrors.toml and shared over gossip. */
export const DownloadSourceSchema = z.object({
  id: z.uuid(),
  source_type: z.enum(SOURCE_TYPES),
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
