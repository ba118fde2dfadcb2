/**
 * The releases an upgrade testnet upgrades between: real builds of dchat itself, made by
 * `dchat release build --version-stamp V` from a source checkout (by default the package this
 * module belongs to), each a single executable that reports V. `unhealthy` adds
 * `--test-never-healthy`: the node runs but never reports healthy, so every supervisor must roll
 * it back. A build takes 10-30 s and 120+ MiB: builds are made once per process (and reused from
 * `dir` when a file of that name is already there, e.g. `dchat-test upgrade --builds-dir`).
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DchatError } from '../errors.ts';
import { runCli } from './cli-run.ts';

/** The package root of this module (src/testnet or dist/testnet, two levels down). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface BuildRequest {
  version: string;
  unhealthy?: boolean;
}

const building = new Map<string, Promise<string>>();

export function buildFileName(b: BuildRequest): string {
  return `dchat-${b.version}${b.unhealthy ? '-unhealthy' : ''}`;
}

/** The executable for `b` in `dir`, built from `source` unless this process or dir already has it. */
export function releaseExecutable(
  dir: string,
  b: BuildRequest,
  source: string = PACKAGE_ROOT,
  signal?: AbortSignal,
): Promise<string> {
  const out = join(dir, buildFileName(b));
  const key = `${source}\0${out}`;
  const have = building.get(key);
  if (have) return have;
  const p = (async () => {
    if (existsSync(out)) return out;
    // Built under its final name in a directory of its own (the build names its .buildinfo.json
    // after it), then moved into `dir`: a file named like a build there is a whole build.
    // Of this process alone: another process may be making the same build into the same dir.
    const tmpDir = `${out}.building-${process.pid}`;
    await rm(tmpDir, { recursive: true, force: true });
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, buildFileName(b));
    const r = await runCli(
      'dchat',
      [
        'release',
        'build',
        '--source',
        source,
        '--out',
        tmp,
        '--version-stamp',
        b.version,
        ...(b.unhealthy ? ['--test-never-healthy'] : []),
      ],
      { timeoutMs: 900_000, ...(signal ? { signal } : {}) },
    );
    if (r.code !== 0)
      throw new DchatError(
        'E_INTERNAL',
        `dchat release build ${buildFileName(b)} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-800)}`,
      );
    if (existsSync(`${tmp}.buildinfo.json`)) await rename(`${tmp}.buildinfo.json`, `${out}.buildinfo.json`);
    await rename(tmp, out);
    await rm(tmpDir, { recursive: true, force: true });
    return out;
  })();
  building.set(key, p);
  p.catch(() => building.delete(key));
  return p;
}
