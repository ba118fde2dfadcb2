import { z } from 'zod';
import { BuildProvenanceSchema } from './build-info.ts';
import { DEFAULT_CHUNK_SIZE, LIMITS, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from './limits.ts';
import {
  base64,
  boundedString,
  hex64,
  isoDate,
  parseWith,
  platformString,
  safeUint,
  versionString,
} from './schema-util.ts';

export const TARGET_FORMAT = 'dchat.target/1';

/** Seed PackageType, spelled as the seed's metadata JSON spells it. */
export const PACKAGE_TYPES = ['Binary', 'Source', 'Docker', 'APK'] as const;
export type PackageType = (typeof PACKAGE_TYPES)[number];
export const CHANNELS = ['stable', 'beta', 'nightly'] as const;
export type Channel = (typeof CHANNELS)[number];

/** CLI spelling (`--type binary|source|docker|apk`) to seed spelling. */
export function packageTypeFromFlag(flag: string): PackageType | undefined {
  return PACKAGE_TYPES.find((t) => t.toLowerCase() === flag.toLowerCase());
}

const chunkSize = z
  .number()
  .int()
  .min(MIN_CHUNK_SIZE)
  .max(MAX_CHUNK_SIZE)
  .refine((n) => (n & (n - 1)) === 0, 'chunk size must be a power of two');

/** Where the chunk table of a package is anchored in the signed statement. */
export const ChunkInfoSchema = z.object({
  hash: z.literal('blake3'),
  size: chunkSize,
  count: safeUint,
  root: hex64,
});
export type ChunkInfo = z.infer<typeof ChunkInfoSchema>;

/**
 * The `custom` object of a TUF target: the seed's PackageMetadata (seed field names) plus what
 * dchat adds. Signed by the targets role, so every field here is as trustworthy as the keys.
 */
export const PackageCustomSchema = z.looseObject({
  format: z.literal(TARGET_FORMAT),
  version: versionString,
  release_date: isoDate,
  package_type: z.enum(PACKAGE_TYPES),
  platform: platformString,
  sha256: hex64,
  blake3: hex64,
  size_bytes: safeUint.max(LIMITS.packageBytes),
  signature: base64.optional(),
  signer_pubkey: base64.optional(),
  release_notes_url: boundedString.optional(),
  min_compatible_version: versionString.optional(),
  channel: z.enum(CHANNELS),
  security: z.boolean(),
  /** Staged rollout (activation/schedule/rollout.ts): the share of nodes in the current stage. */
  rollout_percentage: z.number().min(0).max(100).optional(),
  chunks: ChunkInfoSchema,
  ipfs_cid: boundedString.optional(),
  /** BitTorrent v1 info hash of packages/NAME.torrent (release/torrent.ts). */
  btih: z
    .string()
    .regex(/^[0-9a-f]{40}$/, 'expected 40 lowercase hex digits')
    .optional(),
  magnet: boundedString.optional(),
  /** CID of the package's chunk table (`.chunks`), as `ipfs add` gives it. */
  ipfs_chunks_cid: boundedString.optional(),
  sources: z.array(boundedString).max(64).optional(),
  /** How the package was built (release build's provenance), for rebuilds and attestations. */
  build: BuildProvenanceSchema.optional(),
});
export type PackageCustom = z.infer<typeof PackageCustomSchema>;

export function parsePackageCustom(data: unknown, what = 'target custom'): PackageCustom {
  return parseWith(PackageCustomSchema, data, what);
}

/** A trusted target: where TUF put it (path, length, hashes) plus our custom fields. */
export interface PackageTarget {
  path: string;
  length: number;
  sha256: string;
  custom: PackageCustom;
}

export { DEFAULT_CHUNK_SIZE };
