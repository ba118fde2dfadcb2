/**
 * What a reproducible build of dchat was made from (`dchat.buildinfo/1`): the source commit, the
 * time stamped into it and the toolchain identity. `release build` writes it beside the package
 * (`<out>.buildinfo.json`), `release publish` copies it into the target's `custom.build` (signed by
 * the targets role), and `release verify-build` / `release attest` rebuild from it and say when the
 * rebuilder's toolchain or commit differs from the published one, the usual cause of a mismatch.
 */
import { z } from 'zod';
import { boundedString, hex64, platformString, safeUint, versionString } from './schema-util.ts';

export const BUILD_INFO_FORMAT = 'dchat.buildinfo/1';
/** A build-info file is a few hundred bytes; anything much larger is not one. */
export const MAX_BUILD_INFO_BYTES = 64 * 1024;

export const ToolchainSchema = z.strictObject({
  node: boundedString,
  node_sha256: hex64,
  esbuild: boundedString,
  postject: boundedString,
  lockfile_sha256: hex64,
});
export type Toolchain = z.infer<typeof ToolchainSchema>;

/** What goes into the signed target's `custom.build`. */
export const BuildProvenanceSchema = z.strictObject({
  /** The git commit of the source (40 hex digits), or null when the source was not a checkout. */
  source_commit: z
    .string()
    .regex(/^[0-9a-f]{40}$/)
    .nullable(),
  /** Uncommitted changes were present: nobody can rebuild this from the commit alone. */
  source_dirty: z.boolean(),
  source_date_epoch: safeUint,
  toolchain: ToolchainSchema,
});
export type BuildProvenance = z.infer<typeof BuildProvenanceSchema>;

export const BuildInfoSchema = BuildProvenanceSchema.extend({
  format: z.literal(BUILD_INFO_FORMAT),
  version: versionString,
  platform: platformString,
  size: safeUint,
  sha256: hex64,
}).strict();
export type BuildInfo = z.infer<typeof BuildInfoSchema>;

export function provenanceOf(info: BuildInfo): BuildProvenance {
  const { source_commit, source_dirty, source_date_epoch, toolchain } = info;
  return { source_commit, source_dirty, source_date_epoch, toolchain };
}

/** Where a rebuild's provenance differs from the published one, in words (empty: same inputs). */
export function provenanceDifferences(published: BuildProvenance, rebuilt: BuildProvenance): string[] {
  const out: string[] = [];
  if (published.source_commit !== rebuilt.source_commit)
    out.push(
      `source commit ${rebuilt.source_commit ?? 'none'} (published: ${published.source_commit ?? 'none'})`,
    );
  if (rebuilt.source_dirty) out.push('the source has uncommitted changes');
  for (const k of Object.keys(published.toolchain) as (keyof Toolchain)[])
    if (published.toolchain[k] !== rebuilt.toolchain[k])
      out.push(`toolchain ${k} ${rebuilt.toolchain[k]} (published: ${published.toolchain[k]})`);
  return out;
}
