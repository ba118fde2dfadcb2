import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { collect } from '../flags.ts';
import { lazy } from '../program.ts';
import { registerReleaseBuild } from './release-build.ts';

const impl = () => import('./release-impl.ts');
const signImpl = () => import('./release-sign-impl.ts');

/** `--passphrase-file`, for every command that reads private keys (they may be encrypted). */
function withPassphrase(cmd: Command): Command {
  return cmd
    .option(
      '--passphrase-file <file>',
      'passphrase of encrypted keys: first line of FILE (else env DCHAT_KEY_PASSPHRASE, else a prompt on the terminal)',
    )
    .option('--allow-insecure-key-permissions', 'use private key files that group or others may read');
}

/** Per-role key flags of init and rotate-keys (docs/maintainer-keys.md). */
function withRoleKeys(cmd: Command): Command {
  return cmd
    .option('--root-key <file>', 'root key, private or .pub (repeatable)', collect, [])
    .option('--root-threshold <n>', 'root signatures required')
    .option('--targets-key <file>', 'targets key, private or .pub (repeatable)', collect, [])
    .option('--targets-threshold <n>', 'targets signatures required')
    .option('--snapshot-key <file>', 'snapshot key (repeatable)', collect, [])
    .option('--snapshot-threshold <n>', 'snapshot signatures required')
    .option('--timestamp-key <file>', 'timestamp key (repeatable)', collect, [])
    .option('--timestamp-threshold <n>', 'timestamp signatures required')
    .option(
      '--online-key <file>',
      'the online key: snapshot and timestamp, threshold 1 (for cron refresh)',
      collect,
      [],
    )
    .option(
      '--prepare',
      'stage the new metadata in DIR/staging for detached signing (release sign, release finish)',
    );
}

export function registerRelease(program: Command, ctx: CliContext): void {
  const release = program
    .command('release')
    .description('publish signed releases into a mirror directory (TUF repository)');
  withPassphrase(
    withRoleKeys(
      release
        .command('init')
        .description('create a new repository whose root trusts these keys')
        .requiredOption('--out <dir>', 'repository directory')
        .option(
          '--key <file>',
          'key for every role not given its own, private or .pub (repeatable)',
          collect,
          [],
        )
        .option('--threshold <n>', 'signatures required per role (default 1)')
        .option('--expires <duration>', 'root expiry', '365d'),
    ),
  ).action(lazy(ctx, async () => (await impl()).init));
  withPassphrase(
    release
      .command('publish')
      .description('add a package to the repository and re-sign targets, snapshot, timestamp')
      .requiredOption('--package <file>', 'package file')
      .requiredOption('--version <v>', 'release version (SemVer)')
      .requiredOption('--platform <p>', 'platform, e.g. linux-x64')
      .requiredOption('--out <dir>', 'repository directory (from release init)')
      .option('--key <file>', 'private key (repeatable)', collect, [])
      .option('--sig <file>', 'dchat-sign signature to attach')
      .option('--type <type>', 'binary|source|docker|apk', 'binary')
      .option('--channel <channel>', 'stable|beta|nightly', 'stable')
      .option('--security', 'mark as a security release')
      .option('--min-compatible <v>', 'oldest version that can coexist (soft fork)')
      .option('--rollout <percent>', 'staged rollout: share of nodes (0-100) that take it now (default all)')
      .option('--release-notes-url <url>', 'release notes')
      .option('--expires <duration>', 'expiry of targets, snapshot and timestamp')
      .option('--base-url <url>', 'where DIR will be served (repeatable)', collect, [])
      .option(
        '--announce <url>',
        'BitTorrent tracker of the .torrent and magnet (repeatable; none by default)',
        collect,
        [],
      )
      .option(
        '--delta-from <versions>',
        'also publish patches from these published versions (V,V | last:N | none; default: DIR/release.toml [delta] from_last) and the zstd-compressed package; needs bsdiff and bzip2 for the bsdiff differ',
      )
      .option(
        '--keep-releases <n>',
        'the targets document lists only the newest N releases per platform, older ones and their patches left out (files stay; default: DIR/release.toml [targets] keep_releases, else every release)',
      )
      .option(
        '--build-info <file>',
        "release build's provenance record to sign into the target (default: PACKAGE.buildinfo.json if it matches)",
      )
      .option('--chunk-size <bytes>', 'chunk table chunk size (power of two)', String(1024 * 1024))
      .option(
        '--cid-version <n>',
        'IPFS CID recorded in custom.ipfs_cid: 0 as `ipfs add`, 1 as `--cid-version 1`',
        '0',
      )
      .option('--prepare', 'stage the new targets in DIR/staging for detached signing instead of publishing')
      .option(
        '--github-assets <dir>',
        'also write the files to upload to a GitHub release (package, chunk table, TUF metadata) into this directory',
      ),
  ).action(lazy(ctx, async () => (await impl()).publish));
  withPassphrase(
    withRoleKeys(
      release
        .command('rotate-keys')
        .description('next root version trusting new keys, signed by the old and the new threshold')
        .requiredOption('--out <dir>', 'repository directory')
        .option('--key <file>', 'current (old) private key (repeatable)', collect, [])
        .option(
          '--new-key <file>',
          'new key for every role not given its own, private or .pub (repeatable)',
          collect,
          [],
        )
        .option('--threshold <n>', 'signatures required per role under the new root')
        .option('--expires <duration>', 'new root expiry', '365d'),
    ),
  ).action(lazy(ctx, async () => (await impl()).rotate));
  withPassphrase(
    release
      .command('refresh')
      .description('re-sign snapshot and timestamp with fresh expiry (the online key suffices)')
      .requiredOption('--out <dir>', 'repository directory')
      .option('--key <file>', 'private key (repeatable)', collect, [])
      .option('--expires <duration>', 'expiry of snapshot and timestamp', '7d')
      .option('--targets', 'also re-sign targets (same packages, fresh expiry): needs the targets keys')
      .option('--targets-expires <duration>', 'expiry of the re-signed targets', '30d')
      .option('--prepare', 'with --targets: stage the new targets for detached signing'),
  ).action(lazy(ctx, async () => (await impl()).refresh));
  withPassphrase(
    release
      .command('sign')
      .description('add one signature to a prepared metadata file (detached signing, on your own machine)')
      .requiredOption(
        '--metadata <file>',
        'staged metadata file (DIR/staging/targets.json, root.json, or a copy)',
      )
      .option('--key <file>', 'your private key')
      .option('--output <file>', 'write the signed copy here (default: in place)'),
  ).action(lazy(ctx, async () => (await signImpl()).sign));
  withPassphrase(
    release
      .command('finish')
      .description('combine signatures of staged metadata and publish it once every threshold is met')
      .requiredOption('--out <dir>', 'repository directory')
      .option('--key <file>', 'online (snapshot/timestamp) private key (repeatable)', collect, [])
      .option('--signatures <file...>', 'signed copies of the staged files to merge (release sign --output)')
      .option('--expires <duration>', 'expiry of snapshot and timestamp', '7d'),
  ).action(lazy(ctx, async () => (await signImpl()).finish));
  registerReleaseBuild(release, ctx);
}
