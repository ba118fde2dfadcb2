import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { collect } from '../flags.ts';
import { lazy } from '../program.ts';

export function registerRelease(program: Command, ctx: CliContext): void {
  const release = program
    .command('release')
    .description('publish signed releases into a mirror directory (TUF repository)');
  release
    .command('init')
    .description('create a new repository whose root trusts these keys')
    .requiredOption('--out <dir>', 'repository directory')
    .option('--key <file>', 'private key (repeatable)', collect, [])
    .option('--threshold <n>', 'signatures required per role', '1')
    .option('--expires <duration>', 'root expiry', '365d')
    .action(lazy(ctx, async () => (await import('./release-impl.ts')).init));
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
    .option('--release-notes-url <url>', 'release notes')
    .option('--expires <duration>', 'expiry of targets, snapshot and timestamp')
    .option('--base-url <url>', 'where DIR will be served (repeatable)', collect, [])
    .option('--delta-from <versions>', 'also publish delta patches from these versions')
    .option('--chunk-size <bytes>', 'chunk table chunk size (power of two)', String(1024 * 1024))
    .action(lazy(ctx, async () => (await import('./release-impl.ts')).publish));
  release
    .command('rotate-keys')
    .description('next root version trusting new keys, signed by the old and the new threshold')
    .requiredOption('--out <dir>', 'repository directory')
    .option('--key <file>', 'current (old) private key (repeatable)', collect, [])
    .option('--new-key <file>', 'new private key (repeatable)', collect, [])
    .option('--threshold <n>', 'signatures required per role under the new root')
    .option('--expires <duration>', 'new root expiry', '365d')
    .action(lazy(ctx, async () => (await import('./release-impl.ts')).rotate));
  release
    .command('refresh')
    .description('re-sign snapshot and timestamp with fresh expiry')
    .requiredOption('--out <dir>', 'repository directory')
    .option('--key <file>', 'private key (repeatable)', collect, [])
    .option('--expires <duration>', 'expiry of snapshot and timestamp', '7d')
    .action(lazy(ctx, async () => (await import('./release-impl.ts')).refresh));
}
