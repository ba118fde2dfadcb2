/**
 * $DCHAT_HOME/packages/auto_update_config.json: the seed's AutoUpdateConfig (plus channel and pin),
 * with the seed's defaults when the file does not exist. Written atomically; a damaged or invalid
 * file is E_CONFIG naming the file and the field, never silently replaced by defaults.
 */
import { readFile } from 'node:fs/promises';
import { DchatError } from '../errors.ts';
import { type AutoUpdateConfig, AutoUpdateConfigSchema, DEFAULT_AUTO_UPDATE } from '../model/auto-update.ts';
import { LIMITS } from '../model/limits.ts';
import { writeFileAtomic } from './atomic.ts';
import type { HomePaths } from './home.ts';

export async function loadAutoUpdateConfig(
  paths: HomePaths,
): Promise<{ config: AutoUpdateConfig; fromFile: boolean }> {
  let text: string;
  try {
    const bytes = await readFile(paths.autoUpdateConfig);
    if (bytes.byteLength > LIMITS.configBytes)
      throw new DchatError(
        'E_CONFIG',
        `${paths.autoUpdateConfig} is larger than ${LIMITS.configBytes} bytes`,
      );
    text = bytes.toString('utf8');
  } catch (err) {
    if (err instanceof DchatError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      return { config: { ...DEFAULT_AUTO_UPDATE }, fromFile: false };
    throw new DchatError('E_IO', `cannot read ${paths.autoUpdateConfig}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new DchatError('E_CONFIG', `${paths.autoUpdateConfig} is not valid JSON`, { cause });
  }
  const r = AutoUpdateConfigSchema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : '(top)';
    throw new DchatError('E_CONFIG', `${paths.autoUpdateConfig}: ${where}: ${issue?.message ?? 'invalid'}`, {
      cause: r.error,
    });
  }
  return { config: r.data, fromFile: true };
}

export async function saveAutoUpdateConfig(paths: HomePaths, config: AutoUpdateConfig): Promise<void> {
  const checked = AutoUpdateConfigSchema.parse(config);
  await writeFileAtomic(paths.autoUpdateConfig, `${JSON.stringify(checked, null, 2)}\n`);
}
