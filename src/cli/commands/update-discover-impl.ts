import type { AutoUpdateConfig } from '../../model/auto-update.ts';
import type { PackageTarget } from '../../model/package.ts';
import { compareVersions } from '../../model/version.ts';
import { loadAutoUpdateConfig } from '../../store/auto-update-config.ts';
import type { Discovery } from '../../update/discover.ts';
import type { Checked } from '../../update/service.ts';
import { versionFlag } from '../flags.ts';
import { type CommandEnv, VERSION } from '../program.ts';
import { formatSize, logIgnored, prunedJson, reportPruned, updateService } from './update-shared-impl.ts';
import { installedVersions, marks } from './update-versions-impl.ts';

/** Channels a configured channel follows: stable sees stable, beta sees beta and stable, nightly all. */
const FOLLOWS: Record<AutoUpdateConfig['channel'], readonly string[]> = {
  stable: ['stable'],
  beta: ['stable', 'beta'],
  nightly: ['stable', 'beta', 'nightly'],
};

/**
 * `dchat update check`: refresh the signed metadata through the mirrors, list the trusted versions
 * (seed output) and name the newest one on the configured channel. Exit 0 whether or not there is
 * an update.
 */
export async function check(o: { current?: string }, env: CommandEnv): Promise<void> {
  const current = o.current !== undefined ? versionFlag(o.current, '--current') : VERSION;
  const { config } = await loadAutoUpdateConfig(env.paths);
  env.out.line(`🔍 Checking for updates (current version: ${current})`);
  const d = await checked(env);
  const { pruned, packages: pkgs } = d;
  const byVersion = new Map<string, PackageTarget[]>();
  for (const p of pkgs) byVersion.set(p.custom.version, [...(byVersion.get(p.custom.version) ?? []), p]);
  const versions = [...new Set([...byVersion.keys(), current])].sort(compareVersions);
  env.out.line('');
  env.out.line('📦 Available versions:');
  for (const v of versions) {
    const ps = byVersion.get(v) ?? [];
    const tags = [
      ...(v === current ? ['current'] : []),
      ...(ps[0] && ps[0].custom.channel !== 'stable' ? [ps[0].custom.channel] : []),
      ...(ps.some((p) => p.custom.security) ? ['security'] : []),
    ];
    env.out.line(`  ${v}${tags.length ? ` (${tags.join(', ')})` : ''}`);
  }
  const follows = FOLLOWS[config.channel];
  // A pin is the operator's choice of version (Omaha's target version): the only one offered.
  const eligible = pkgs
    .filter((p) =>
      config.pin !== null ? p.custom.version === config.pin : follows.includes(p.custom.channel),
    )
    .map((p) => p.custom.version);
  const newest = eligible.sort(compareVersions).at(-1);
  if (config.pin !== null) env.out.line(`📌 Pinned to ${config.pin}`);
  const available = newest !== undefined && compareVersions(newest, current) > 0;
  env.out.line('');
  if (newest === undefined) env.out.line(`ℹ️  No ${config.channel} release is published yet`);
  else if (available) env.out.line(`✨ Newest trusted version: ${newest} (update available)`);
  else env.out.line(`✅ Up to date: the newest trusted ${config.channel} version is ${newest}`);
  env.out.result({
    current_version: current,
    newest_version: newest ?? null,
    update_available: available,
    channel: config.channel,
    pin: config.pin,
    versions: versions.map((v) => {
      const ps = byVersion.get(v) ?? [];
      return {
        version: v,
        current: v === current,
        published: ps.length > 0,
        platforms: ps.map((p) => p.custom.platform),
        channel: ps[0]?.custom.channel ?? null,
        security: ps.some((p) => p.custom.security),
      };
    }),
    metadata: metadataJson(d.discovery),
    pruned: prunedJson(pruned),
  });
}

/** `dchat update list-versions`: every trusted release with the seed's fields. */
export async function listVersions(_o: Record<string, never>, env: CommandEnv): Promise<void> {
  env.out.line('📋 Discovering available versions...');
  const d = await checked(env);
  const { pruned, packages: pkgs } = d;
  const local = await installedVersions(env);
  const byVersion = new Map(local.versions.map((v) => [v.version, v]));
  if (pkgs.length === 0) {
    env.out.line('');
    env.out.line('   (no releases published yet)');
  }
  for (const p of pkgs) {
    const c = p.custom;
    env.out.line('');
    const m = marks(byVersion.get(c.version));
    env.out.line(`📦 Version ${c.version}${m.length ? ` (${m.join(', ')})` : ''}`);
    env.out.line(`   Type: ${c.package_type}`);
    env.out.line(`   Platform: ${c.platform}`);
    env.out.line(`   Size: ${formatSize(c.size_bytes)}`);
    env.out.line(`   Release: ${c.release_date}`);
    if (c.channel !== 'stable') env.out.line(`   Channel: ${c.channel}`);
    if (c.security) env.out.line('   Security release: yes');
    if (c.min_compatible_version) env.out.line(`   Min compatible version: ${c.min_compatible_version}`);
    if (c.release_notes_url) env.out.line(`   Release notes: ${c.release_notes_url}`);
  }
  const listed = new Set(pkgs.map((p) => p.custom.version));
  for (const v of local.versions.filter((x) => !listed.has(x.version))) {
    env.out.line('');
    env.out.line(
      `📦 Version ${v.version} (${marks(v).join(', ')}; no longer listed by the trusted metadata)`,
    );
  }
  env.out.result({
    versions: pkgs.map((p) => ({
      version: p.custom.version,
      platform: p.custom.platform,
      package_type: p.custom.package_type,
      size_bytes: p.custom.size_bytes,
      release_date: p.custom.release_date,
      channel: p.custom.channel,
      security: p.custom.security,
      sha256: p.custom.sha256,
      blake3: p.custom.blake3,
      ...(p.custom.min_compatible_version ? { min_compatible_version: p.custom.min_compatible_version } : {}),
      ...(p.custom.release_notes_url ? { release_notes_url: p.custom.release_notes_url } : {}),
      ...(p.custom.ipfs_cid ? { ipfs_cid: p.custom.ipfs_cid } : {}),
      installed: byVersion.has(p.custom.version),
      current: byVersion.get(p.custom.version)?.current ?? false,
      pending: byVersion.get(p.custom.version)?.pending ?? false,
    })),
    installed: local.versions,
    current: local.current,
    metadata: metadataJson(d.discovery),
    pruned: prunedJson(pruned),
  });
}

/** The service's check, with pruned mirrors reported whether it succeeded or not. */
async function checked(env: CommandEnv): Promise<Checked> {
  const d = await updateService(env).check({ onPruned: (p, after) => reportPruned(env, p, after) });
  reportPruned(env, d.pruned, d.pruneAfter);
  logIgnored(env, d.discovery);
  return d;
}

export function metadataJson(d: Discovery) {
  const t = d.trusted;
  return {
    source: d.update.source.uri,
    root_version: t.root.signed.version,
    timestamp_version: t.timestamp?.signed.version ?? null,
    snapshot_version: t.snapshot?.signed.version ?? null,
    targets_version: t.targets?.signed.version ?? null,
    targets_expires: t.targets?.signed.expires ?? null,
    timestamp_expires: t.timestamp?.signed.expires ?? null,
    rejected: d.update.attempts
      .filter((a) => !a.ok)
      .map((a) => ({ source: a.source.uri, code: a.error?.code, message: a.error?.message })),
  };
}
