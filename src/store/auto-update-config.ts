/**
 * $DCHAT_HOME/packages/auto_update_config.json: the seed's AutoUpdateConfig (plus channel and pin),
 * with the seed's defaults when the file does not exist. Written atomically; a damaged or invalid
 * file is E_CONFIG naming the file and the field, never silently replaced by defaults.
 */
import { DchatError } from '../errors.ts';
import { type AutoUpdateConfig, AutoUpdateConfigSchema, DEFAULT_AUTO_UPDATE } from '../model/auto-update.ts';
import { writeFileAtomic } from './atomic.ts';
import type { HomePaths } from './home.ts';
import { type LockOptions, withHomeLock } from './lock.ts';
import { readConfigFile } from './mirrors.ts';

export async function loadAutoUpdateConfig(
  paths: HomePaths,
): Promise<{ config: AutoUpdateConfig; fromFile: boolean }> {
  const bytes = await readConfigFile(paths.autoUpdateConfig);
  if (bytes === undefined) return { config: { ...DEFAULT_AUTO_UPDATE }, fromFile: false };
  const text = bytes.toString('utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new DchatError('E_CONFIG', `${paths.autoUpdateConfig} is not valid JSON`, { cause });
  }
  // Unknown keys are refused, as in mirrors.toml: a misspelt key must not fall back to a default.
  const r = AutoUpdateConfigSchema.strict().safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : '(top)';
    const msg =
      issue?.code === 'unrecognized_keys'
        ? `unknown key(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}`
        : (issue?.message ?? 'invalid');
    throw new DchatError('E_CONFIG', `${paths.autoUpdateConfig}: ${where}: ${msg}`, { cause: r.error });
  }
  return { config: r.data, fromFile: true };
}

/**
 * The one way to change the configuration: load, `change`, save under the home's auto-update lock,
 * so two concurrent `configure-auto-update` calls both land. Returns the stored configuration.
 */
export function updateAutoUpdateConfig(
  paths: HomePaths,
  change: (config: AutoUpdateConfig) => AutoUpdateConfig,
  opts: LockOptions = {},
): Promise<AutoUpdateConfig> {
  return withHomeLock(
    paths,
    'auto-update',
    async () => {
      const next = change((await loadAutoUpdateConfig(paths)).config);
      await saveAutoUpdateConfig(paths, next);
      return next;
    },
    opts,
  );
}

/** Writes the file as is; only under the auto-update lock (use `updateAutoUpdateConfig`). */
export async function saveAutoUpdateConfig(paths: HomePaths, config: AutoUpdateConfig): Promise<void> {
  const checked = AutoUpdateConfigSchema.parse(config);
  await writeFileAtomic(paths.autoUpdateConfig, `${JSON.stringify(checked, null, 2)}\n`);
}
