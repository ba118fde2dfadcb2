import { z } from 'zod';
import { DownloadSourceSchema } from './download-source.ts';
import { LIMITS } from './limits.ts';
import { boundedString, isoDate, versionString } from './schema-util.ts';

export const ANNOUNCE_FORMAT = 'dchat.announce/1';

/**
 * Seed VersionAnnouncement on the wire. `metadata` carries the TUF documents that prove the
 * release (timestamp, snapshot, targets, and any newer roots), base64 of their exact bytes, so a
 * receiver runs the same TUF client update over them as over a mirror. `ttl` (hops left) sits
 * outside every signature: relays lower it, nobody can forge a release by changing it.
 */
/** One TUF document as base64: as large as a whole gossip message may be, no larger. */
const base64Document = z
  .string()
  .max(Math.ceil((LIMITS.gossipMessageBytes * 4) / 3) + 4)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');

/** Roots one bundle may carry: a receiver further behind follows the chain from a mirror. */
export const MAX_BUNDLED_ROOTS = 16;

export const TufBundleSchema = z.object({
  roots: z.array(base64Document).max(MAX_BUNDLED_ROOTS).default([]),
  timestamp: base64Document,
  snapshot: base64Document,
  targets: base64Document,
});
export type TufBundle = z.infer<typeof TufBundleSchema>;

export const VersionAnnouncementSchema = z.object({
  format: z.literal(ANNOUNCE_FORMAT),
  id: z.uuid(),
  node_id: boundedString.max(128),
  version: versionString,
  platform: boundedString.max(64).optional(),
  metadata: TufBundleSchema,
  sources: z.array(DownloadSourceSchema).max(32),
  timestamp: isoDate,
  ttl: z.number().int().min(0).max(255),
});
export type VersionAnnouncement = z.infer<typeof VersionAnnouncementSchema>;
