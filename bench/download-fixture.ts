/**
 * What the download benchmarks share: a random package (or a given file, publishFile) published
 * into a fresh repository, the dchat CLI to run (dist when built, else the sources), a data dir
 * trusting that repository with the given mirrors, and one timed `update download` that checks it
 * left the verified package.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateEd25519 } from '../src/crypto/ed25519.ts';
import type { PackageType } from '../src/model/package.ts';
import { initRepository, publishRelease } from '../src/release/publish.ts';
import { signingKeyFromPrivate } from '../src/trust/keys.ts';
import { timeCommand, timeCommandRss, writeRandomFile } from './util.ts';

export interface Published {
  repo: string;
  /** Path of the package under the repository root, e.g. `/targets/<sha256>.<name>`. */
  targetPath: string;
  name: string;
  /** The release's platform (what `update download --platform` names). */
  platform: string;
  sha256: string;
  /** The package's size in bytes. */
  bytes: number;
}

export interface PublishOptions {
  /** Tracker URLs of the release's .torrent and magnet (`custom.magnet`, returned). */
  announce?: string[];
  /** Default linux-x64. */
  platform?: string;
  /** Default Binary. */
  packageType?: PackageType;
}

/** A package of `size` random bytes, published as version 1.0.0 by publishFile (then removed). */
export async function publishRandom(
  dir: string,
  size: number,
  announce: string[] = [],
): Promise<Published & { magnet?: string }> {
  const src = join(dir, 'dchat-1.0.0-linux-x64');
  console.log(`download: writing ${size} random bytes and publishing them...`);
  writeRandomFile(src, size);
  const pub = await publishFile(dir, src, { announce });
  rmSync(src);
  return pub;
}

/** `file` published as version 1.0.0 into a fresh repository `dir/repo` (one key for every role). */
export async function publishFile(
  dir: string,
  file: string,
  o: PublishOptions = {},
): Promise<Published & { magnet?: string }> {
  const key = signingKeyFromPrivate(generateEd25519().privateKey);
  const repo = join(dir, 'repo');
  const now = new Date();
  const platform = o.platform ?? 'linux-x64';
  await initRepository({ dir: repo, keys: [key], threshold: 1, now });
  const pub = await publishRelease({
    dir: repo,
    packagePath: file,
    version: '1.0.0',
    platform,
    keys: [key],
    now,
    announce: o.announce ?? [],
    ...(o.packageType ? { packageType: o.packageType } : {}),
  });
  const magnet = typeof pub.custom.magnet === 'string' ? pub.custom.magnet : undefined;
  return {
    ...(magnet ? { magnet } : {}),
    repo,
    targetPath: `/targets/${pub.custom.sha256}.${pub.name}`,
    name: pub.name,
    platform,
    sha256: pub.custom.sha256,
    bytes: pub.custom.size_bytes,
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
        [cli, '--home', home, 'update', 'download', '--version', '1.0.0', '--platform', pub.platform],
        { env },
      );
      if (readFileSync(`${final}.target.json`, 'utf8').indexOf(pub.sha256) < 0)
        throw new Error('download did not leave the verified package');
      return r;
    },
  };
}
