import { resolve } from 'node:path';
import { UsageError } from '../../errors.ts';
import { parseDuration } from '../../model/duration.ts';
import { CHANNELS, type Channel, packageTypeFromFlag } from '../../model/package.ts';
import {
  type CeremonyOutcome,
  initWithRoles,
  renewTargets,
  rotateRoles,
  stagedStatus,
} from '../../release/ceremony.ts';
import { writeGitHubAssets } from '../../release/github-assets.ts';
import { keyFileOptions } from '../../release/key-files.ts';
import { loadRepo } from '../../release/mirror-dir.ts';
import { publishRelease, refreshRepository } from '../../release/publish.ts';
import type { DeltaReport } from '../../release/publish-delta.ts';
import { MAX_KEEP_RELEASES } from '../../release/release-config.ts';
import { type Repo, type RoleSpecs, roleSpecsOf } from '../../trust/repository.ts';
import { intFlag, platformFlag, versionFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';
import { KeyLoader, passphraseSource, type RoleKeyFlags, roleSpecsFromFlags } from './release-keys.ts';
import { repoExpiryItems, reportExpiry } from './trust-expiry.ts';

export function summary(repo: Repo) {
  return {
    root_version: repo.root.signed.version,
    targets_version: repo.targets.signed.version,
    snapshot_version: repo.snapshot.signed.version,
    timestamp_version: repo.timestamp.signed.version,
    expires: {
      root: repo.root.signed.expires,
      targets: repo.targets.signed.expires,
      snapshot: repo.snapshot.signed.expires,
      timestamp: repo.timestamp.signed.expires,
    },
  };
}

/** The result document of a release command: the repository's versions, expiries and warnings. */
export function repoResult(env: CommandEnv, repo: Repo) {
  return { ...summary(repo), warnings: reportExpiry(env, repoExpiryItems(repo)) };
}

function describeRoles(env: CommandEnv, specs: RoleSpecs) {
  for (const role of ['root', 'targets', 'snapshot', 'timestamp'] as const)
    env.out.line(
      `   ${role.padEnd(9)} ${specs[role].threshold} of ${specs[role].keys.length}: ${specs[role].keys.map((k) => k.keyId.slice(0, 12)).join(', ')}`,
    );
}

/** Prints what was staged and what it still needs; returns the JSON for it. */
export function reportStaged(env: CommandEnv, dir: string, outcome: CeremonyOutcome, current?: Repo) {
  const status = stagedStatus(dir, outcome.staged ?? {}, current);
  for (const s of status) {
    const counts = s.thresholds.map((t) => `${t.valid} of ${t.threshold} ${t.against} signatures`).join(', ');
    env.out.line(`📝 Prepared ${s.role} v${s.version}: ${s.file} (${counts})`);
  }
  env.out.line('   Each maintainer signs it on their own machine (a copy, or this file in turn):');
  env.out.line('     dchat release sign --metadata FILE --key YOUR.key [--output SIGNED-COPY]');
  env.out.line(`   Then: dchat release finish --out ${dir} --key ONLINE.key [--signatures SIGNED-COPY ...]`);
  return { ok: true, dir, prepared: true, staged: status };
}

interface InitFlags extends RoleKeyFlags {
  out: string;
  key: string[];
  expires: string;
  prepare?: boolean;
  passphraseFile?: string;
}

export async function init(o: InitFlags, env: CommandEnv): Promise<void> {
  const loader = new KeyLoader(env, passphraseSource(env, o.passphraseFile), keyFileOptions(o));
  // Without --prepare everything is signed here: `--key` names signing keys, as it always did
  // (public keys go to the per-role flags, or to --key with --prepare).
  if (!o.prepare) await loader.signing(o.key, '--key', false);
  const specs = await roleSpecsFromFlags(o, loader, { paths: o.key, flag: '--key' });
  const rootExpiresSec = parseDuration(o.expires, '--expires');
  const dir = resolve(env.ctx.cwd, o.out);
  const r = await initWithRoles({
    dir,
    specs,
    signers: loader.signers,
    now: env.ctx.now(),
    rootExpiresSec,
    prepare: Boolean(o.prepare),
  });
  if (!r.committed) {
    env.out.line(`📦 Prepared a new release repository in ${dir} (not published until finished)`);
    describeRoles(env, specs);
    env.out.result(reportStaged(env, dir, r));
    return;
  }
  const repo = r.committed;
  env.out.line(`📦 Initialized release repository in ${dir}`);
  const same = new Set(
    Object.values(specs).map((s) => `${s.threshold}:${s.keys.map((k) => k.keyId).join()}`),
  );
  if (same.size === 1)
    env.out.line(
      `   Root v1: ${Object.keys(repo.root.signed.keys).length} key(s), threshold ${specs.root.threshold} per role, expires ${repo.root.signed.expires}`,
    );
  else {
    env.out.line(`   Root v1, expires ${repo.root.signed.expires}:`);
    describeRoles(env, specs);
  }
  env.out.line(`   Pin it on nodes with: dchat trust init --root ${dir}/root.json`);
  env.out.result({ ok: true, dir, ...repoResult(env, repo) });
}

interface PublishFlags {
  package: string;
  version: string;
  platform: string;
  out: string;
  key: string[];
  sig?: string;
  type: string;
  channel: string;
  security?: boolean;
  minCompatible?: string;
  rollout?: string;
  releaseNotesUrl?: string;
  expires?: string;
  baseUrl: string[];
  announce: string[];
  deltaFrom?: string;
  keepReleases?: string;
  chunkSize: string;
  cidVersion: string;
  prepare?: boolean;
  passphraseFile?: string;
  githubAssets?: string;
  buildInfo?: string;
}

export async function publish(o: PublishFlags, env: CommandEnv): Promise<void> {
  const version = versionFlag(o.version);
  const platform = platformFlag(o.platform);
  const packageType = packageTypeFromFlag(o.type);
  if (!packageType) throw new UsageError('--type', `'${o.type}' is not one of binary, source, docker, apk`);
  if (!(CHANNELS as readonly string[]).includes(o.channel))
    throw new UsageError('--channel', `'${o.channel}' is not one of ${CHANNELS.join(', ')}`);
  const minCompatible =
    o.minCompatible === undefined ? undefined : versionFlag(o.minCompatible, '--min-compatible');
  const rolloutPercentage = intFlag(o.rollout, '--rollout', 0, 100);
  for (const u of o.baseUrl) {
    if (!/^https?:\/\/[^\s]+$/.test(u) || u.length > 2048)
      throw new UsageError('--base-url', `'${u.slice(0, 80)}' is not an http(s) URL`);
  }
  for (const u of o.announce) {
    if (!/^(https?|udp|wss?):\/\/[^\s]+$/.test(u) || u.length > 512)
      throw new UsageError(
        '--announce',
        `'${u.slice(0, 80)}' is not a tracker URL (http, https, udp, ws, wss)`,
      );
  }
  if (o.githubAssets !== undefined && o.prepare)
    throw new UsageError(
      '--github-assets',
      'nothing is published with --prepare: give it to the publish that finishes',
    );
  if (o.deltaFrom !== undefined && (o.deltaFrom.length === 0 || o.deltaFrom.length > 1000))
    throw new UsageError('--delta-from', 'expected versions like 1.0.0,0.9.0, last:N or none');
  const keepReleases = intFlag(o.keepReleases, '--keep-releases', 0, MAX_KEEP_RELEASES);
  const chunkSize = intFlag(o.chunkSize, '--chunk-size', 16 * 1024, 16 * 1024 * 1024) as number;
  if ((chunkSize & (chunkSize - 1)) !== 0)
    throw new UsageError('--chunk-size', `${chunkSize} is not a power of two`);
  if (o.cidVersion !== '0' && o.cidVersion !== '1')
    throw new UsageError('--cid-version', `'${o.cidVersion.slice(0, 20)}' is not 0 or 1`);
  const expiresSec = o.expires === undefined ? undefined : parseDuration(o.expires, '--expires');
  const loader = new KeyLoader(env, passphraseSource(env, o.passphraseFile), keyFileOptions(o));
  const keys = await loader.signing(o.key, '--key', !o.prepare);
  const dir = resolve(env.ctx.cwd, o.out);
  const r = await publishRelease({
    dir,
    packagePath: resolve(env.ctx.cwd, o.package),
    version,
    platform,
    keys,
    now: env.ctx.now(),
    sigPath: o.sig === undefined ? undefined : resolve(env.ctx.cwd, o.sig),
    ...(o.buildInfo !== undefined ? { buildInfoPath: resolve(env.ctx.cwd, o.buildInfo) } : {}),
    packageType,
    channel: o.channel as Channel,
    security: Boolean(o.security),
    minCompatible,
    ...(rolloutPercentage !== undefined ? { rolloutPercentage } : {}),
    releaseNotesUrl: o.releaseNotesUrl,
    expiresSec,
    baseUrls: o.baseUrl,
    announce: o.announce,
    chunkSize,
    cidVersion: o.cidVersion === '1' ? 1 : 0,
    prepare: Boolean(o.prepare),
    ...(o.deltaFrom !== undefined ? { deltaFrom: o.deltaFrom } : {}),
    ...(keepReleases !== undefined ? { keepReleases } : {}),
  });
  if (r.removed.length > 0)
    env.out.line(
      `   Left out of the targets (older than the releases kept): ${r.removed.length} (${r.removed.slice(0, 4).join(', ')}${r.removed.length > 4 ? ', …' : ''})`,
    );
  const c = r.custom;
  if (r.staged) {
    env.out.line(`📦 Staged ${r.name} (${c.size_bytes} bytes) in ${dir}: not published until finished`);
    env.out.line(`   SHA-256: ${c.sha256}`);
    const deltas = reportDeltas(env, r.deltas);
    const doc = reportStaged(env, dir, { staged: { targets: r.staged }, droppedSignatures: [] }, r.repo);
    env.out.result({
      ...doc,
      name: r.name,
      metadata: c,
      deltas,
      removed_targets: r.removed,
      warnings: reportExpiry(env, repoExpiryItems(r.repo)),
    });
    return;
  }
  env.out.line(`📦 Published ${r.name} (${c.size_bytes} bytes) to ${dir}`);
  env.out.line(`   SHA-256: ${c.sha256}`);
  env.out.line(`   BLAKE3:  ${c.blake3}`);
  env.out.line(`   Chunks:  ${c.chunks.count} x ${c.chunks.size} bytes, Merkle root ${c.chunks.root}`);
  if (c.magnet) env.out.line(`   Magnet:  ${c.magnet}`);
  if (c.ipfs_cid) env.out.line(`   IPFS:    ${c.ipfs_cid}`);
  if (c.build)
    env.out.line(
      `   Built:   commit ${c.build.source_commit ?? '(none)'}${c.build.source_dirty ? ' (dirty)' : ''}, Node ${c.build.toolchain.node}, esbuild ${c.build.toolchain.esbuild}`,
    );
  env.out.line(
    `   Targets v${r.repo.targets.signed.version}, snapshot v${r.repo.snapshot.signed.version}, timestamp v${r.repo.timestamp.signed.version} (expires ${r.repo.timestamp.signed.expires})`,
  );
  let githubAssets: { dir: string; files: string[] } | undefined;
  if (o.githubAssets !== undefined) {
    const out = resolve(env.ctx.cwd, o.githubAssets);
    const deltaNames = r.deltas.flatMap((d) => (d.published && d.name ? [d.name] : []));
    githubAssets = { dir: out, files: await writeGitHubAssets(dir, [r.name, ...deltaNames], out) };
    env.out.line(`   GitHub release assets: ${githubAssets.files.length} files in ${out} (upload them all)`);
  }
  const deltas = reportDeltas(env, r.deltas);
  env.out.result({
    ok: true,
    dir,
    name: r.name,
    metadata: c,
    deltas,
    removed_targets: r.removed,
    ...repoResult(env, r.repo),
    ...(githubAssets ? { github_assets: githubAssets } : {}),
  });
}

/** One line per encoding (published or not, with what each differ measured); the JSON for them. */
function reportDeltas(env: CommandEnv, report: DeltaReport[]) {
  for (const d of report) {
    const what = d.from ? `patch from ${d.from}` : 'compressed full package';
    const tried = d.tried.map((t) => `${t.algorithm} ${t.size ?? `failed: ${t.error}`}`).join(', ');
    const share = `${(d.share * 100).toFixed(1)}% of ${d.from ? 'zstd -19 full' : 'the package'}`;
    env.out.line(
      d.published
        ? `   Delta:   ${d.name} (${d.algorithm}, ${d.size} bytes, ${share}; tried ${tried})`
        : `   Delta:   no ${what}: not clearly smaller (${share}; tried ${tried})`,
    );
  }
  return report.map((d) => ({
    name: d.name ?? null,
    from: d.from ?? null,
    algorithm: d.algorithm ?? null,
    size: d.size ?? null,
    share: Math.round(d.share * 10000) / 10000,
    published: d.published,
    tried: d.tried.map((t) => ({
      algorithm: t.algorithm,
      size: t.size ?? null,
      ms: t.ms,
      error: t.error ?? null,
    })),
  }));
}

interface RotateFlags extends RoleKeyFlags {
  out: string;
  key: string[];
  newKey: string[];
  expires: string;
  prepare?: boolean;
  passphraseFile?: string;
}

export async function rotate(o: RotateFlags, env: CommandEnv): Promise<void> {
  const loader = new KeyLoader(env, passphraseSource(env, o.passphraseFile), keyFileOptions(o));
  await loader.signing(o.key, '--key', !o.prepare);
  if (!o.prepare) await loader.signing(o.newKey, '--new-key', false);
  const dir = resolve(env.ctx.cwd, o.out);
  const current = await loadRepo(dir);
  const specs = await roleSpecsFromFlags(
    o,
    loader,
    { paths: o.newKey, flag: '--new-key' },
    roleSpecsOf(current.root.signed),
  );
  const r = await rotateRoles({
    dir,
    specs,
    signers: loader.signers,
    now: env.ctx.now(),
    rootExpiresSec: parseDuration(o.expires, '--expires'),
    prepare: Boolean(o.prepare),
  });
  if (!r.committed) {
    env.out.line(`🔑 Prepared root v${current.root.signed.version + 1} (not published until finished):`);
    describeRoles(env, specs);
    env.out.result({ ...reportStaged(env, dir, r, current), dropped_signatures: r.droppedSignatures });
    return;
  }
  const repo = r.committed;
  env.out.line(
    `🔑 Rotated keys: root v${repo.root.signed.version} trusts ${Object.keys(repo.root.signed.keys).length} key(s), threshold ${specs.root.threshold}`,
  );
  describeRoles(env, specs);
  if (r.droppedSignatures.length) {
    env.out.line(
      `   Dropped dchat-sign signatures by retired keys from: ${r.droppedSignatures.join(', ')} (re-sign with dchat-sign and publish again to restore them)`,
    );
  }
  env.out.line(`   Nodes follow the signed chain on their next update; new nodes can pin ${dir}/root.json`);
  env.out.result({ ok: true, dir, dropped_signatures: r.droppedSignatures, ...repoResult(env, repo) });
}

export async function refresh(
  o: {
    out: string;
    key: string[];
    expires: string;
    targets?: boolean;
    targetsExpires: string;
    prepare?: boolean;
    passphraseFile?: string;
  },
  env: CommandEnv,
): Promise<void> {
  if (o.prepare && !o.targets) throw new UsageError('--prepare', 'refresh stages only with --targets');
  const loader = new KeyLoader(env, passphraseSource(env, o.passphraseFile), keyFileOptions(o));
  const keys = await loader.signing(o.key, '--key', !o.prepare);
  const dir = resolve(env.ctx.cwd, o.out);
  const expiresSec = parseDuration(o.expires, '--expires');
  let repo: Repo;
  if (o.targets) {
    const r = await renewTargets({
      dir,
      keys,
      now: env.ctx.now(),
      targetsExpiresSec: parseDuration(o.targetsExpires, '--targets-expires'),
      snapshotExpiresSec: expiresSec,
      timestampExpiresSec: expiresSec,
      prepare: Boolean(o.prepare),
    });
    if (!r.committed) {
      env.out.result(reportStaged(env, dir, r, await loadRepo(dir)));
      return;
    }
    repo = r.committed;
    env.out.line(
      `🔄 Re-signed targets v${repo.targets.signed.version}, expires ${repo.targets.signed.expires}`,
    );
  } else {
    repo = await refreshRepository({ dir, keys, now: env.ctx.now(), expiresSec });
  }
  env.out.line(
    `🔄 Refreshed: snapshot v${repo.snapshot.signed.version}, timestamp v${repo.timestamp.signed.version}, expires ${repo.timestamp.signed.expires}`,
  );
  env.out.result({ ok: true, dir, ...repoResult(env, repo) });
}
