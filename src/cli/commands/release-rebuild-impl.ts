/**
 * `dchat release verify-build` and `dchat release attest`: rebuild a published release from a
 * source checkout and compare it with the signed target. The comparison is the ordinary package
 * check of `update verify` (size, SHA-256, BLAKE3 against trusted metadata, after a TUF client
 * update from `--metadata DIR` when given); on a mismatch the published bytes, when at hand, are
 * taken apart (release/sea-layout.ts) to name the first file inside the package that differs.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DchatError, UsageError } from '../../errors.ts';
import {
  builderId,
  COMPARISON_BYPRODUCT,
  DCHAT_BUILD_TYPE,
  SLSA_PROVENANCE,
  STATEMENT_TYPE,
  type Statement,
} from '../../model/attestation.ts';
import {
  type BuildProvenance,
  BuildProvenanceSchema,
  provenanceDifferences,
} from '../../model/build-info.ts';
import type { PackageTarget } from '../../model/package.ts';
import { hostPlatform, packageName } from '../../model/platform.ts';
import { appendAttestation } from '../../release/attestation-bundle.ts';
import { type BuildResult, buildExecutable } from '../../release/build.ts';
import { keyFileOptions, loadSigningKeyFile } from '../../release/key-files.ts';
import { mirrorPaths } from '../../release/mirror-dir.ts';
import { firstDifference, packageParts } from '../../release/sea-layout.ts';
import { signStatement } from '../../trust/attestations.ts';
import { platformFlag, versionFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';
import { passphraseSource } from './release-keys.ts';
import { updateService } from './update-shared-impl.ts';

export interface RebuildFlags {
  version: string;
  source?: string;
  metadata?: string;
  platform?: string;
  package?: string;
  nodeBinary?: string;
}

export interface Comparison {
  match: boolean;
  target: PackageTarget;
  rebuilt: BuildResult;
  /** The first part that differs, when the published bytes were at hand to take apart. */
  firstDifference?: string;
  /** Where the rebuild's commit or toolchain differ from the published provenance. */
  provenance: string[];
}

async function rebuildAndCompare(o: RebuildFlags, env: CommandEnv): Promise<Comparison> {
  const version = versionFlag(o.version);
  const platform = platformFlag(o.platform ?? hostPlatform(process.platform, process.arch));
  const source = resolve(env.ctx.cwd, o.source ?? '.');
  const metadataDir = o.metadata ? resolve(env.ctx.cwd, o.metadata) : undefined;
  const work = mkdtempSync(join(tmpdir(), 'dchat-rebuild-'));
  try {
    env.out.line(`🔨 Rebuilding dchat ${version} for ${platform} from ${source}`);
    const rebuilt = await buildExecutable({
      source,
      out: join(work, packageName(version, platform)),
      platform,
      version,
      writeBuildInfo: false,
      ...(o.nodeBinary ? { nodeBinary: resolve(env.ctx.cwd, o.nodeBinary) } : {}),
    });
    const service = updateService(env);
    const { verdict } = await service.verify({
      file: rebuilt.out,
      version,
      platform,
      ...(metadataDir ? { metadataDir } : {}),
    });
    const target = verdict.target;
    const published = BuildProvenanceSchema.safeParse(target.custom.build);
    const provenance = published.success ? provenanceDifferences(published.data, rebuilt.info) : [];
    if (verdict.ok) return { match: true, target, rebuilt, provenance };
    const pubFile = publishedFile(o, env, metadataDir, version, platform);
    let first: string | undefined;
    if (pubFile) {
      // Only bytes that are the signed package itself may be blamed on the release.
      const check = await service.verify({ file: pubFile, version, platform });
      if (!check.verdict.ok)
        throw new DchatError(
          check.verdict.code,
          `${pubFile} is not the published package either (${check.verdict.message}); give --package the signed file`,
        );
      first = firstDifference(
        packageParts(readFileSync(pubFile), rebuilt.assets),
        packageParts(readFileSync(rebuilt.out), rebuilt.assets),
      );
    }
    return { match: false, target, rebuilt, provenance, ...(first ? { firstDifference: first } : {}) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The published package's bytes: --package, the mirror directory, or this home's verified copy. */
function publishedFile(
  o: RebuildFlags,
  env: CommandEnv,
  metadataDir: string | undefined,
  version: string,
  platform: string,
): string | undefined {
  if (o.package) return resolve(env.ctx.cwd, o.package);
  const name = packageName(version, platform);
  const candidates = [
    ...(metadataDir ? [mirrorPaths(metadataDir).packageFile(name)] : []),
    env.paths.packageFile(version, platform),
  ];
  return candidates.find((p) => existsSync(p));
}

function report(c: Comparison) {
  return {
    match: c.match,
    version: c.target.custom.version,
    platform: c.target.custom.platform,
    published_sha256: c.target.sha256,
    rebuilt_sha256: c.rebuilt.sha256,
    first_difference: c.firstDifference ?? null,
    source_commit: c.rebuilt.info.source_commit,
    provenance_differences: c.provenance,
  };
}

/** `dchat release verify-build --version V --source DIR [--metadata DIR]`. */
export async function verifyBuild(o: RebuildFlags, env: CommandEnv): Promise<number> {
  const c = await rebuildAndCompare(o, env);
  for (const p of c.provenance) env.out.line(`⚠️  Rebuilt with ${p}`);
  if (!c.match) {
    const where = c.firstDifference
      ? `first differing file: ${c.firstDifference}`
      : 'the published bytes are not here to compare file by file (give --package FILE or --metadata DIR)';
    throw new DchatError(
      'E_BUILD_MISMATCH',
      `rebuild of dchat ${c.target.custom.version} (sha256 ${c.rebuilt.sha256.slice(0, 16)}…) differs from the published package (sha256 ${c.target.sha256.slice(0, 16)}…): ${where}`,
      { details: report(c) },
    );
  }
  env.out.line(`✅ Rebuild matches the published package (sha256 ${c.target.sha256})`);
  env.out.result(report(c));
  return 0;
}

export interface AttestFlags extends RebuildFlags {
  key?: string;
  out: string;
  passphraseFile?: string;
}

/**
 * `dchat release attest --version V --key K --out DIR`: rebuild, compare with the release in DIR,
 * and add a signed attestation of what the rebuild gave to DIR/attestations/. A builder attests a
 * mismatch as well (its subject is then the bytes it got, which count for nothing).
 */
export async function attest(o: AttestFlags, env: CommandEnv): Promise<number> {
  if (!o.key) throw new UsageError('--key', 'the builder private key is required');
  const key = await loadSigningKeyFile(
    resolve(env.ctx.cwd, o.key),
    '--key',
    passphraseSource(env, o.passphraseFile),
    keyFileOptions(o),
  );
  const out = resolve(env.ctx.cwd, o.out);
  const c = await rebuildAndCompare({ ...o, metadata: o.metadata ?? out }, env);
  const statement = makeStatement(c, key.publicHex, env.ctx.now());
  const file = await appendAttestation(out, c.target.path, signStatement(statement, key));
  env.out.line(
    c.match
      ? `✅ Rebuild matches; attestation by builder ${key.publicHex.slice(0, 16)}… added to ${file}`
      : `❌ Rebuild differs (${c.firstDifference ?? 'sha256 differs'}); the attestation records the bytes this build gave: ${file}`,
  );
  env.out.result({ ...report(c), builder: key.publicHex, attestations_file: file });
  return c.match ? 0 : 3;
}

function makeStatement(c: Comparison, publicHex: string, now: Date): Statement {
  const r = c.rebuilt.info;
  const t: BuildProvenance['toolchain'] = r.toolchain;
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: c.target.path, digest: { sha256: c.rebuilt.sha256, blake3: c.rebuilt.blake3 } }],
    predicateType: SLSA_PROVENANCE,
    predicate: {
      buildDefinition: {
        buildType: DCHAT_BUILD_TYPE,
        externalParameters: {
          version: c.target.custom.version,
          platform: c.target.custom.platform,
          source: { commit: r.source_commit, dirty: r.source_dirty },
        },
        internalParameters: { source_date_epoch: r.source_date_epoch },
        resolvedDependencies: [
          { uri: `pkg:generic/node@${t.node}`, digest: { sha256: t.node_sha256 } },
          { uri: `pkg:npm/esbuild@${t.esbuild}` },
          { uri: `pkg:npm/postject@${t.postject}` },
          { name: 'package-lock.json', digest: { sha256: t.lockfile_sha256 } },
        ],
      },
      runDetails: {
        builder: { id: builderId(publicHex) },
        metadata: { finishedOn: now.toISOString().replace(/\.\d{3}Z$/, 'Z') },
        byproducts: [
          {
            name: COMPARISON_BYPRODUCT,
            digest: { sha256: c.target.sha256 },
            annotations: { matched_published: c.match, first_difference: c.firstDifference ?? null },
          },
        ],
      },
    },
  };
}
