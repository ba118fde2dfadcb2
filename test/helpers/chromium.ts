/**
 * Headless Debian Chromium for dashboard tests: the page after its scripts ran (DOM) and a
 * screenshot kept under artifacts/ (CI keeps that directory).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './cli.ts';

const run = promisify(execFile);
export const ARTIFACTS = join(REPO_ROOT, 'artifacts');

export async function loadInChromium(url: string, png: string): Promise<string> {
  const flags = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--hide-scrollbars',
    '--virtual-time-budget=6000',
  ];
  await run('chromium', [...flags, '--window-size=1280,1100', `--screenshot=${png}`, url], {
    timeout: 90_000,
  });
  const { stdout } = await run('chromium', [...flags, '--dump-dom', url], {
    timeout: 90_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}
