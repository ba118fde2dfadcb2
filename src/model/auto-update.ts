import { z } from 'zod';
import { CHANNELS } from './package.ts';
import { parseWith, versionString } from './schema-util.ts';

/** Seed AutoUpdateConfig with its defaults, plus the channel and pin of the later phases. */
export const AutoUpdateConfigSchema = z.object({
  enabled: z.boolean().default(false),
  security_only: z.boolean().default(true),
  check_interval_hours: z
    .number()
    .int()
    .min(1)
    .max(24 * 365)
    .default(24),
  auto_restart: z.boolean().default(false),
  background_download: z.boolean().default(true),
  channel: z.enum(CHANNELS).default('stable'),
  pin: versionString.nullable().default(null),
  /** Installed versions kept under versions/ (older ones pruned; current and previous always kept). */
  keep_versions: z.number().int().min(1).max(100).default(3),
});
export type AutoUpdateConfig = z.infer<typeof AutoUpdateConfigSchema>;

export const DEFAULT_AUTO_UPDATE: AutoUpdateConfig = AutoUpdateConfigSchema.parse({});

export function parseAutoUpdateConfig(data: unknown): AutoUpdateConfig {
  return parseWith(AutoUpdateConfigSchema, data, 'auto_update_config.json');
}
