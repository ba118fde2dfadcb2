/**
 * `dchat update install|rollback` and the local half of `list-versions`: versions/<v> installed
 * from verified packages, `current` switched back to an installed, still-verified version (never
 * below an activated hard fork: E_BELOW_HARD_FORK), a running supervisor told to restart on it.
 */
import { hostPlatform } from '../../model/platform.ts';
import { loadAutoUpdateConfig } from '../../store/auto-update-config.ts';
import { installRelease, type LocalVersion, localVersions, rollbackTo } from '../../update/install.ts';
import { platformFlag, versionFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';

export async function install(o: { version: string; platform?: string }, env: CommandEnv): Promise<void> {
  const version = versionFlag(o.version);
  const platform = platformFlag(o.platform ?? hostPlatform(process.platform, process.arch));
  const { config } = await loadAutoUpdateConfig(env.paths);
  const r = await installRelease(env.paths, {
    version,
    platform,
    now: env.ctx.now(),
    keep: config.keep_versions,
  });
  env.out.line(
    `📥 Installed ${version} in ${env.paths.home}/versions/${version}${r.current ? ' (now current)' : ''}`,
  );
  if (r.pruned.length) env.out.line(`🧹 Pruned ${r.pruned.join(', ')} (keep ${config.keep_versions})`);
  env.out.result({ ok: true, version, platform, current: r.current, pruned: r.pruned });
}

export async function rollback(o: { to?: string }, env: CommandEnv): Promise<void> {
  const to = o.to === undefined ? undefined : versionFlag(o.to, '--to');
  const r = await rollbackTo(env.paths, { ...(to ? { to } : {}), now: env.ctx.now(), height: null });
  if (r.from === r.to) env.out.line(`✅ Already on ${r.to}`);
  else env.out.line(`↩️  Rolled back ${r.from ?? 'none'} -> ${r.to}`);
  if (r.signalled !== null)
    env.out.line(`   The running node (supervisor pid ${r.signalled}) restarts on ${r.to}`);
  env.out.result({ ok: true, from: r.from, to: r.to, supervisor_signalled: r.signalled !== null });
}

/** Installed versions with their marks, for list-versions. */
export async function installedVersions(
  env: CommandEnv,
): Promise<{ current: string | null; versions: LocalVersion[] }> {
  const { current, versions } = await localVersions(env.paths);
  return { current, versions };
}

export function marks(v: LocalVersion | undefined): string[] {
  if (!v) return [];
  return [
    'installed',
    ...(v.current ? ['current'] : []),
    ...(v.pending ? ['pending'] : []),
    ...(v.rolled_back ? ['rolled back'] : []),
    ...(v.verified ? [] : ['FAILS ITS HASH']),
  ];
}
