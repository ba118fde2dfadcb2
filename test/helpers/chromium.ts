/**
 * Headless Debian Chromium for dashboard tests: the page after its scripts ran (DOM) and a
 * screenshot kept under artifacts/ (CI keeps that directory).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './cli.ts';

const run = promisify(execFile);
export const ARTIFACTS = join(REPO_ROOT, 'artifacts');

/**
 * Each call has a profile of its own: Chromium started while another one runs with the default
 * profile hands the URL to that one and exits 0 without a screenshot (seen when the dashboard test
 * and the upgrade e2e ran at once).
 */
export async function loadInChromium(url: string, png: string): Promise<string> {
  const profile = await mkdtemp(join(tmpdir(), 'dchat-chromium-'));
  const flags = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--hide-scrollbars',
    '--virtual-time-budget=6000',
    `--user-data-dir=${profile}`,
  ];
  try {
    // Under heavy load (a clean-clone run with the e2e stage beside the suite) Chromium once exited
    // 0 without writing the screenshot: tried again, and its own words kept if it never does.
    let said = '';
    await rm(png, { force: true });
    for (let i = 0; i < 3 && !existsSync(png); i++) {
      const r = await run('chromium', [...flags, '--window-size=1280,1100', `--screenshot=${png}`, url], {
        timeout: 90_000,
      });
      said = `${r.stdout}${r.stderr}`.slice(-2000);
    }
    if (!existsSync(png)) throw new Error(`chromium wrote no screenshot ${png} in 3 tries: ${said}`);
    const { stdout } = await run('chromium', [...flags, '--dump-dom', url], {
      timeout: 90_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}
