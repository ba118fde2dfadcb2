import { checkPin } from '../../activation/schedule/policy.ts';
import { DchatError, UsageError } from '../../errors.ts';
import type { AutoUpdateConfig } from '../../model/auto-update.ts';
import { CHANNELS, type Channel } from '../../model/package.ts';
import { compareVersions } from '../../model/version.ts';
import { loadAutoUpdateConfig, updateAutoUpdateConfig } from '../../store/auto-update-config.ts';
import { boolFlag, intFlag, versionFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';
import { updateService } from './update-shared-impl.ts';

interface ConfigureFlags {
  enabled?: string;
  securityOnly?: string;
  checkInterval?: string;
  autoRestart?: string;
  backgroundDownload?: string;
  channel?: string;
  pin?: string;
  keepVersions?: string;
}

/** `dchat update configure-auto-update`: every value checked (exit 2 naming the flag), then saved atomically. */
export async function configure(o: ConfigureFlags, env: CommandEnv): Promise<void> {
  // Validate every flag before reading or writing anything.
  const enabled = boolFlag(o.enabled, '--enabled');
  const securityOnly = boolFlag(o.securityOnly, '--security-only');
  const interval = intFlag(o.checkInterval, '--check-interval', 1, 24 * 365);
  const autoRestart = boolFlag(o.autoRestart, '--auto-restart');
  const background = boolFlag(o.backgroundDownload, '--background-download');
  let channel: Channel | undefined;
  if (o.channel !== undefined) {
    const c = o.channel.trim().toLowerCase();
    if (!(CHANNELS as readonly string[]).includes(c))
      throw new UsageError('--channel', `'${o.channel.slice(0, 40)}' is not one of ${CHANNELS.join(', ')}`);
    channel = c as Channel;
  }
  const keep = intFlag(o.keepVersions, '--keep-versions', 1, 100);
  let pin: string | null | undefined;
  if (o.pin !== undefined)
    pin = o.pin.trim().toLowerCase() === 'none' ? null : versionFlag(o.pin.trim(), '--pin');

  if (pin) {
    // Omaha's rule: a pin names a release that exists (here: one the trusted metadata lists).
    const trusted = [...new Set((await updateService(env).trustedOffline()).map((p) => p.custom.version))];
    if (checkPin(pin, trusted) !== 'ok')
      throw new DchatError(
        'E_PIN_UNTRUSTED',
        `--pin ${pin}: not a trusted release (trusted: ${trusted.sort(compareVersions).join(', ') || 'none; run dchat update check first'})`,
        { details: { flag: '--pin' } },
      );
  }
  const next = await updateAutoUpdateConfig(env.paths, (config) => ({
    ...config,
    ...(enabled !== undefined ? { enabled } : {}),
    ...(securityOnly !== undefined ? { security_only: securityOnly } : {}),
    ...(interval !== undefined ? { check_interval_hours: interval } : {}),
    ...(autoRestart !== undefined ? { auto_restart: autoRestart } : {}),
    ...(background !== undefined ? { background_download: background } : {}),
    ...(channel !== undefined ? { channel } : {}),
    ...(pin !== undefined ? { pin } : {}),
    ...(keep !== undefined ? { keep_versions: keep } : {}),
  }));
  env.out.line('✅ Auto-update configuration saved');
  env.out.line('');
  printConfig(next, env);
  env.out.result({ ...next, path: env.paths.autoUpdateConfig });
}

/** `dchat update show-config`: the seed's output, plus channel and pin. */
export async function showConfig(_o: unknown, env: CommandEnv): Promise<void> {
  const { config } = await loadAutoUpdateConfig(env.paths);
  printConfig(config, env);
  if (!config.enabled) {
    env.out.line('');
    env.out.line('💡 Enable with: dchat update configure-auto-update --enabled true');
  }
  env.out.result(config);
}

function printConfig(c: AutoUpdateConfig, env: CommandEnv): void {
  env.out.line('⚙️  Auto-Update Configuration:');
  env.out.line('');
  env.out.line(`  Enabled: ${c.enabled}`);
  env.out.line(`  Security patches only: ${c.security_only}`);
  env.out.line(`  Check interval: ${c.check_interval_hours} hours`);
  env.out.line(`  Auto-restart after update: ${c.auto_restart}`);
  env.out.line(`  Background download: ${c.background_download}`);
  env.out.line(`  Channel: ${c.channel}`);
  env.out.line(`  Pinned version: ${c.pin ?? 'none'}`);
  env.out.line(`  Installed versions kept: ${c.keep_versions}`);
}
