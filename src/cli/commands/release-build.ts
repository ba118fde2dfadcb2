import { type Command, Option } from 'commander';
import type { CliContext } from '../context.ts';
import { versionFlag } from '../flags.ts';
import { action, type CommandEnv } from '../program.ts';

/**
 * `dchat release build`, `verify-build` and `attest` (spec/CLI.md "Release side"): the single
 * executable of dchat itself, and rebuilding a published one to check or vouch for it.
 */
export function registerReleaseBuild(release: Command, ctx: CliContext): void {
  release
    .command('build')
    .description('build the single executable of dchat (no Node needed to run it), deterministically')
    .requiredOption('--source <dir>', 'dchat source checkout with its dependencies installed (npm ci)')
    .requiredOption('--out <file>', 'where to write the executable')
    .option('--platform <p>', "target platform (default and today's only choice: this machine's)")
    .option('--version-stamp <v>', "version the executable reports (default: the source's package.json)")
    .option('--node-binary <file>', "Node 24 binary to build on (default: the source's pinned node)")
    .addOption(
      new Option(
        '--test-never-healthy',
        'test build whose node never reports healthy (upgrade tests)',
      ).hideHelp(),
    )
    .action(action(ctx, async (o, env) => build(o as BuildFlags, env)));
  release
    .command('verify-build')
    .description('rebuild a published release from source and check it is the same bytes')
    .requiredOption('--version <v>', 'published version to rebuild')
    .option('--source <dir>', 'dchat source checkout at the release commit, dependencies installed', '.')
    .option('--metadata <dir>', 'repository or mirror copy to take the signed target from (TUF update first)')
    .option('--platform <p>', "platform of the published package (default: this machine's)")
    .option('--package <file>', 'the published package, to name the first differing file on a mismatch')
    .option('--node-binary <file>', "Node 24 binary to build on (default: the source's pinned node)")
    .action(action(ctx, async (o, env) => (await rebuild()).verifyBuild(o as RebuildFlags, env)));
  release
    .command('attest')
    .description('rebuild a release from source and add your signed attestation (in-toto/SLSA) to DIR')
    .requiredOption('--version <v>', 'published version to rebuild')
    .requiredOption('--out <dir>', 'the repository (mirror directory) holding the release')
    .option('--key <file>', 'your builder private key (dchat-sign keygen)')
    .option('--source <dir>', 'dchat source checkout at the release commit, dependencies installed', '.')
    .option('--metadata <dir>', 'take the signed target from here instead of --out')
    .option('--platform <p>', "platform of the published package (default: this machine's)")
    .option('--node-binary <file>', "Node 24 binary to build on (default: the source's pinned node)")
    .option('--passphrase-file <file>', 'passphrase of an encrypted key: first line of FILE')
    .option('--allow-insecure-key-permissions', 'use a private key file that group or others may read')
    .action(action(ctx, async (o, env) => (await rebuild()).attest(o as AttestFlags, env)));
}

const rebuild = () => import('./release-rebuild-impl.ts');
type RebuildFlags = import('./release-rebuild-impl.ts').RebuildFlags;
type AttestFlags = import('./release-rebuild-impl.ts').AttestFlags;

interface BuildFlags {
  source: string;
  out: string;
  platform?: string;
  versionStamp?: string;
  nodeBinary?: string;
  testNeverHealthy?: boolean;
}

async function build(o: BuildFlags, env: CommandEnv): Promise<number> {
  const { buildExecutable, sourceDateEpoch } = await import('../../release/build.ts');
  const { resolve } = await import('node:path');
  const epoch = sourceDateEpoch(env.ctx.env);
  const r = await buildExecutable({
    source: resolve(env.ctx.cwd, o.source),
    out: resolve(env.ctx.cwd, o.out),
    ...(o.platform !== undefined ? { platform: o.platform } : {}),
    ...(o.versionStamp !== undefined ? { version: versionFlag(o.versionStamp, '--version-stamp') } : {}),
    ...(o.nodeBinary !== undefined ? { nodeBinary: resolve(env.ctx.cwd, o.nodeBinary) } : {}),
    ...(epoch !== undefined ? { sourceDateEpoch: epoch } : {}),
    ...(o.testNeverHealthy ? { testNeverHealthy: true } : {}),
  });
  env.out.line(`📦 Built dchat ${r.version} for ${r.platform} (Node ${r.nodeVersion}): ${r.out}`);
  env.out.line(`   ${(r.size / 1048576).toFixed(1)} MiB, sha256 ${r.sha256}`);
  if (r.info.source_dirty)
    env.out.line('⚠️  The source has uncommitted changes: nobody can rebuild this from its commit alone');
  env.out.result({
    out: r.out,
    version: r.version,
    platform: r.platform,
    node_version: r.nodeVersion,
    size: r.size,
    sha256: r.sha256,
    blake3: r.blake3,
    build_info: `${r.out}.buildinfo.json`,
    source_commit: r.info.source_commit,
    source_date_epoch: r.info.source_date_epoch,
  });
  return 0;
}
