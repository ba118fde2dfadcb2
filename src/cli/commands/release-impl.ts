import { resolve } from 'node:path';
import { UsageError } from '../../errors.ts';
import { parseDuration } from '../../model/duration.ts';
import { CHANNELS, type Channel, packageTypeFromFlag } from '../../model/package.ts';
import { loadSigningKeyFiles } from '../../release/key-files.ts';
import { initRepository, publishRelease, refreshRepository, rotateKeys } from '../../release/publish.ts';
import type { Repo } from '../../trust/repository.ts';
import { intFlag, platformFlag, versionFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';

/**
 * Key files named on the command line, relative to the command's cwd (CliContext.cwd, like every
 * other path flag), not to whatever process.cwd() happens to be when commands run in-process.
 */
function keyFiles(paths: readonly string[], env: CommandEnv, flag = '--key', o: object = {}) {
  return loadSigningKeyFiles(
    paths.map((p) => resolve(env.ctx.cwd, p)),
    flag,
    {
      allowInsecurePermissions:
        (o as { allowInsecureKeyPermissions?: boolean }).allowInsecureKeyPermissions === true,
    },
  );
}

function summary(repo: Repo) {
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

export async function init(
  o: { out: string; key: string[]; threshold: string; expires: string },
  env: CommandEnv,
): Promise<void> {
  const keys = await keyFiles(o.key, env, '--key', o);
  const threshold = intFlag(o.threshold, '--threshold', 1, 64) ?? 1;
  const rootExpiresSec = parseDuration(o.expires, '--expires');
  const dir = resolve(env.ctx.cwd, o.out);
  const repo = await initRepository({ dir, keys, threshold, now: env.ctx.now(), rootExpiresSec });
  env.out.line(`📦 Initialized release repository in ${dir}`);
  env.out.line(
    `   Root v1: ${Object.keys(repo.root.signed.keys).length} key(s), threshold ${threshold} per role, expires ${repo.root.signed.expires}`,
  );
  env.out.line(`   Pin it on nodes with: dchat trust init --root ${dir}/root.json`);
  env.out.result({ ok: true, dir, ...summary(repo) });
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
  releaseNotesUrl?: string;
  expires?: string;
  baseUrl: string[];
  deltaFrom?: string;
  chunkSize: string;
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
  for (const u of o.baseUrl) {
    if (!/^https?:\/\/[^\s]+$/.test(u) || u.length > 2048)
      throw new UsageError('--base-url', `'${u.slice(0, 80)}' is not an http(s) URL`);
  }
  if (o.deltaFrom !== undefined)
    throw new UsageError('--delta-from', 'delta updates are not available in this version yet');
  const chunkSize = intFlag(o.chunkSize, '--chunk-size', 16 * 1024, 16 * 1024 * 1024) as number;
  if ((chunkSize & (chunkSize - 1)) !== 0)
    throw new UsageError('--chunk-size', `${chunkSize} is not a power of two`);
  const expiresSec = o.expires === undefined ? undefined : parseDuration(o.expires, '--expires');
  const keys = await keyFiles(o.key, env, '--key', o);
  const dir = resolve(env.ctx.cwd, o.out);
  const r = await publishRelease({
    dir,
    packagePath: resolve(env.ctx.cwd, o.package),
    version,
    platform,
    keys,
    now: env.ctx.now(),
    sigPath: o.sig === undefined ? undefined : resolve(env.ctx.cwd, o.sig),
    packageType,
    channel: o.channel as Channel,
    security: Boolean(o.security),
    minCompatible,
    releaseNotesUrl: o.releaseNotesUrl,
    expiresSec,
    baseUrls: o.baseUrl,
    chunkSize,
  });
  const c = r.custom;
  env.out.line(`📦 Published ${r.name} (${c.size_bytes} bytes) to ${dir}`);
  env.out.line(`   SHA-256: ${c.sha256}`);
  env.out.line(`   BLAKE3:  ${c.blake3}`);
  env.out.line(`   Chunks:  ${c.chunks.count} x ${c.chunks.size} bytes, Merkle root ${c.chunks.root}`);
  env.out.line(
    `   Targets v${r.repo.targets.signed.version}, snapshot v${r.repo.snapshot.signed.version}, timestamp v${r.repo.timestamp.signed.version} (expires ${r.repo.timestamp.signed.expires})`,
  );
  env.out.result({ ok: true, dir, name: r.name, metadata: c, ...summary(r.repo) });
}

export async function rotate(
  o: { out: string; key: string[]; newKey: string[]; threshold?: string; expires: string },
  env: CommandEnv,
): Promise<void> {
  const oldKeys = await keyFiles(o.key, env, '--key', o);
  const newKeys = await keyFiles(o.newKey, env, '--new-key', o);
  const threshold = intFlag(o.threshold, '--threshold', 1, 64) ?? 1;
  const dir = resolve(env.ctx.cwd, o.out);
  const repo = await rotateKeys({
    dir,
    oldKeys,
    newKeys,
    threshold,
    now: env.ctx.now(),
    rootExpiresSec: parseDuration(o.expires, '--expires'),
  });
  env.out.line(
    `🔑 Rotated keys: root v${repo.root.signed.version} trusts ${Object.keys(repo.root.signed.keys).length} key(s), threshold ${threshold}`,
  );
  if (repo.droppedSignatures.length) {
    env.out.line(
      `   Dropped dchat-sign signatures by retired keys from: ${repo.droppedSignatures.join(', ')} (re-sign with dchat-sign and publish again to restore them)`,
    );
  }
  env.out.line(`   Nodes follow the signed chain on their next update; new nodes can pin ${dir}/root.json`);
  env.out.result({ ok: true, dir, dropped_signatures: repo.droppedSignatures, ...summary(repo) });
}

export async function refresh(
  o: { out: string; key: string[]; expires: string },
  env: CommandEnv,
): Promise<void> {
  const keys = await keyFiles(o.key, env, '--key', o);
  const dir = resolve(env.ctx.cwd, o.out);
  const repo = await refreshRepository({
    dir,
    keys,
    now: env.ctx.now(),
    expiresSec: parseDuration(o.expires, '--expires'),
  });
  env.out.line(
    `🔄 Refreshed: snapshot v${repo.snapshot.signed.version}, timestamp v${repo.timestamp.signed.version}, expires ${repo.timestamp.signed.expires}`,
  );
  env.out.result({ ok: true, dir, ...summary(repo) });
}
