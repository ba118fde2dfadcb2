/**
 * What the download benchmarks share: a random package published into a fresh repository, the dchat
 * CLI to run (dist when built, else the sources), a data dir trusting that repository with the given
 * mirrors, and one timed `update download` that checks it left the verified package.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateEd25519 } from '../src/crypto/ed25519.ts';
import { initRepository, publishRelease } from '../src/release/publish.ts';
import { signingKeyFromPrivate } from '../src/trust/keys.ts';
import { timeCommand, timeCommandRss, writeRandomFile } from './util.ts';

export interface Published {
  repo: string;
  /** Path of the package under the repository root, e.g. `/targets/<sha256>.<name>`. */
  targetPath: string;
  name: string;
  sha256: string;
}

/** `announce`: tracker URLs of the release's .torrent and magnet (`custom.magnet`, returned). */
export async function publishRandom(
  dir: string,
  size: number,
  announce: string[] = [],
): Promise<Published & { magnet?: string }> {
  const src = join(dir, 'dchat-1.0.0-linux-x64');
  console.log(`download: writing ${size} random bytes and publishing them...`);
  writeRandomFile(src, size);
  const key = signingKeyFromPrivate(generateEd25519().privateKey);
  const repo = join(dir, 'repo');
  const now = new Date();
  await initRepository({ dir: repo, keys: [key], threshold: 1, now });
  const pub = await publishRelease({
    dir: repo,
    packagePath: src,
    version: '1.0.0',
    platform: 'linux-x64',
    keys: [key],
    now,
    announce,
  });
  rmSync(src);
  const magnet = typeof pub.custom.magnet === 'string' ? pub.custom.magnet : undefined;
  return {
    ...(magnet ? { magnet } : {}),
    repo,
    targetPath: `/targets/${pub.custom.sha256}.${pub.name}`,
    name: pub.name,
    sha256: pub.custom.sha256,
  };
}

/** The built CLI when the build is current enough to have `update download`, else the sources. */
export function dchatCli(): string {
  const built = existsSync(
    resolve(import.meta.dirname, '..', 'dist', 'cli', 'commands', 'update-download-impl.js'),
  );
  return built
    ? resolve(import.meta.dirname, '..', 'dist', 'cli', 'dchat.js')
    : resolve(import.meta.dirname, '..', 'src', 'cli', 'dchat.ts');
}

/** Each run starts with no dirty pages of the previous one: otherwise whoever runs next pays for
 * the other's writeback (curl never syncs; our fsync would wait for its gigabyte too). */
export const settle = (): void => {
  spawnSync('sync');
};

export interface DchatHome {
  home: string;
  /** Removes the previous package, settles, runs one `update download`: wall ms and peak RSS. */
  download(): { ms: number; rss: number | undefined };
  /** Where the verified package lands. */
  final: string;
}

/** A data dir trusting `pub.repo`'s root, with `mirrors` added in order. */
export function dchatHome(
  home: string,
  pub: Published,
  mirrors: string[],
  env: NodeJS.ProcessEnv,
): DchatHome {
  const cli = dchatCli();
  const node = process.execPath;
  timeCommand(node, [cli, '--home', home, 'trust', 'init', '--root', join(pub.repo, 'root.json')], { env });
  for (const url of mirrors)
    timeCommand(node, [cli, '--home', home, 'update', 'add-mirror', '--url', url, '--mirror-type', 'https'], {
      env,
    });
  const final = join(home, 'packages', pub.name);
  return {
    home,
    final,
    download: () => {
      for (const f of [final, `${final}.chunks`, `${final}.target.json`]) rmSync(f, { force: true });
      settle();
      const r = timeCommandRss(
        node,
        [cli, '--home', home, 'update', 'download', '--version', '1.0.0', '--platform', 'linux-x64'],
        { env },
      );
      if (readFileSync(`${final}.target.json`, 'utf8').indexOf(pub.sha256) < 0)
        throw new Error('download did not leave the verified package');
      return r;
    },
  };
}
