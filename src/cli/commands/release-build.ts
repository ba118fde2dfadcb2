import { type Command, Option } from 'commander';
import type { CliContext } from '../context.ts';
import { versionFlag } from '../flags.ts';
import { action, type CommandEnv } from '../program.ts';

/** `dchat release build` (spec/CLI.md "Release side"): the single executable of dchat itself. */
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
}

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
  env.out.result({
    out: r.out,
    version: r.version,
    platform: r.platform,
    node_version: r.nodeVersion,
    size: r.size,
    sha256: r.sha256,
  });
  return 0;
}
