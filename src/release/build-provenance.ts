/**
 * The inputs of a release build that decide its bytes, read from the source checkout: the git
 * commit (and whether the tree had uncommitted changes), SOURCE_DATE_EPOCH (the commit's time
 * unless the environment gives one, as reproducible-builds.org specifies) and the toolchain: the
 * pinned Node binary, esbuild, postject and the lockfile that pins everything else.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildProvenance } from '../model/build-info.ts';

const sha256File = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

function git(source: string, args: string[]): string | undefined {
  if (!existsSync(join(source, '.git'))) return undefined;
  try {
    return execFileSync('git', ['-C', source, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1', HOME: '/nonexistent' },
    }).trim();
  } catch {
    return undefined;
  }
}

function packageVersion(source: string, pkg: string): string {
  try {
    const j = JSON.parse(readFileSync(join(source, 'node_modules', pkg, 'package.json'), 'utf8')) as {
      version?: unknown;
    };
    return typeof j.version === 'string' ? j.version : 'unknown';
  } catch {
    return 'missing';
  }
}

export function buildProvenance(
  source: string,
  nodeBinary: string,
  nodeVersion: string,
  envEpoch: number | undefined,
): BuildProvenance {
  const head = git(source, ['rev-parse', 'HEAD']);
  const commit = head && /^[0-9a-f]{40}$/.test(head) ? head : null;
  // Untracked files count too: the build reads every file under src/ it imports.
  const dirty =
    commit !== null &&
    (git(source, ['status', '--porcelain', '--', 'src', 'assets', 'package.json', 'package-lock.json']) ??
      '') !== '';
  const commitTime = commit ? Number(git(source, ['log', '-1', '--format=%ct', commit])) : Number.NaN;
  const lock = join(source, 'package-lock.json');
  return {
    source_commit: commit,
    source_dirty: dirty,
    source_date_epoch: envEpoch ?? (Number.isSafeInteger(commitTime) && commitTime >= 0 ? commitTime : 0),
    toolchain: {
      node: nodeVersion,
      node_sha256: sha256File(nodeBinary),
      esbuild: packageVersion(source, 'esbuild'),
      postject: packageVersion(source, 'postject'),
      lockfile_sha256: existsSync(lock) ? sha256File(lock) : '0'.repeat(64),
    },
  };
}
