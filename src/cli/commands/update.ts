import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { collect } from '../flags.ts';
import { lazy } from '../program.ts';

/**
 * `dchat update ...`: the seed's commands (spec/CLI.md "Update"), plus tuning flags. Bodies load
 * lazily so `dchat --version` stays fast.
 */
export function registerUpdate(program: Command, ctx: CliContext): void {
  const update = program.command('update').description('discover, download and verify releases');
  update
    .command('verify')
    .description('recheck a package file against trusted metadata, offline')
    .requiredOption('--package <file>', 'package file')
    .requiredOption('--version <v>', 'the version it claims to be')
    .option('--platform <p>', 'its platform (default: from the file name dchat-<version>-<platform>)')
    .option('--metadata <dir>', 'a repository or mirror copy to update trust from first')
    .option(
      '--attestations <file>',
      'rebuild attestations (.intoto.jsonl) to count (default: beside the package in --metadata DIR or the home)',
    )
    .option(
      '--builder-key <file>',
      'count only attestations by these builder public keys (repeatable)',
      collect,
      [],
    )
    .option(
      '--min-attestations <n>',
      'fail (exit 3) unless this many independent builders rebuilt these bytes',
      '0',
    )
    .action(lazy(ctx, async () => (await import('./verify-impl.ts')).verify));
  update
    .command('check')
    .description('refresh signed release metadata from the mirrors and name the newest trusted version')
    .option('--current <v>', 'the version running here (default: this program’s own version)')
    .action(lazy(ctx, async () => (await import('./update-discover-impl.ts')).check));
  update
    .command('list-versions')
    .description('every trusted release: version, type, platform, size, date; installed, current, pending')
    .action(lazy(ctx, async () => (await import('./update-discover-impl.ts')).listVersions));
  update
    .command('download')
    .description('fetch a release from the mirrors, verifying every chunk, into $DCHAT_HOME/packages')
    .requiredOption('--version <v>', 'release version')
    .option('--platform <p>', 'platform (default: this machine’s)')
    .option('--source <type>', 'only this kind of source: https|ipfs|bittorrent|peer|github|fdroid')
    .option(
      '--limit-rate <rate>',
      'bandwidth limit in bytes/s; K, M, G are KiB, MiB, GiB as curl reads them: 500K, 24M (= 24 MiB/s) (default: mirrors.toml limit_rate)',
    )
    .option(
      '--min-rate <rate>',
      'drop a source slower than this over --slow-window; units as --limit-rate (default: mirrors.toml min_rate)',
    )
    .option(
      '--slow-window <seconds>',
      'window of the minimum-rate check (default: mirrors.toml slow_window_secs)',
    )
    .option('--parallel <n>', 'sources fetched from at once (default: mirrors.toml parallel_sources)')
    .action(lazy(ctx, async () => (await import('./update-download-impl.ts')).download));
  update
    .command('install')
    .description('install a downloaded, verified release into $DCHAT_HOME/versions (current if none is)')
    .requiredOption('--version <v>', 'release version (from update download)')
    .option('--platform <p>', 'platform (default: this machine’s)')
    .action(lazy(ctx, async () => (await import('./update-versions-impl.ts')).install));
  update
    .command('rollback')
    .description('switch back to an installed, verified version (a running node restarts on it)')
    .option('--to <version>', 'the version (default: the one before the current)')
    .action(lazy(ctx, async () => (await import('./update-versions-impl.ts')).rollback));
  update
    .command('add-mirror')
    .description('add a download source to mirrors.toml (or change its priority/region)')
    .requiredOption(
      '--url <url>',
      'mirror URL (https://..., ipfs://CID, magnet:?..., https://api.github.com/repos/OWNER/REPO for github)',
    )
    .requiredOption('--mirror-type <type>', 'https|ipfs|bittorrent|github|fdroid')
    .option(
      '--fingerprint <sha256>',
      'fdroid: SHA-256 fingerprint of the repository signing key (as `fdroid` prints it); required',
    )
    .option(
      '--region <r>',
      'region, e.g. us-west (preferred within a priority when it matches settings.region)',
    )
    .option('--priority <n>', 'lower is tried first (default 10)')
    .action(lazy(ctx, async () => (await import('./update-mirrors-impl.ts')).addMirror));
  update
    .command('remove-mirror')
    .description('remove a download source from mirrors.toml')
    .requiredOption('--url <url>', 'mirror URL as listed by list-mirrors')
    .action(lazy(ctx, async () => (await import('./update-mirrors-impl.ts')).removeMirror));
  update
    .command('list-mirrors')
    .description('configured download sources, in the order they are tried')
    .action(lazy(ctx, async () => (await import('./update-mirrors-impl.ts')).listMirrors));
  update
    .command('test-mirrors')
    .description('probe every mirror at once: latency, throughput, fresh signed metadata')
    .option('--timeout <seconds>', 'bound on the whole test (default 10)')
    .action(lazy(ctx, async () => (await import('./update-mirrors-impl.ts')).testMirrors));
  update
    .command('configure-auto-update')
    .description('change the auto-update policy (packages/auto_update_config.json)')
    .option('--enabled <bool>', 'check and download automatically')
    .option('--security-only <bool>', 'only security releases')
    .option('--check-interval <hours>', 'hours between checks')
    .option('--auto-restart <bool>', 'restart into a new version after it is installed')
    .option('--background-download <bool>', 'download in the background ahead of activation')
    .option('--channel <c>', 'stable|beta|nightly')
    .option('--pin <version>', 'stay on this version, a trusted one (none: unpin)')
    .option('--keep-versions <n>', 'installed versions kept under versions/ (older ones pruned)')
    .action(lazy(ctx, async () => (await import('./update-config-impl.ts')).configure));
  update
    .command('show-config')
    .description('the auto-update policy')
    .action(lazy(ctx, async () => (await import('./update-config-impl.ts')).showConfig));
}
