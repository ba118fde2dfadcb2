import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { action } from '../program.ts';

export function registerUpdate(program: Command, ctx: CliContext): void {
  const update = program.command('update').description('discover, download and verify releases');
  update
    .command('verify')
    .description('recheck a package file against trusted metadata, offline')
    .requiredOption('--package <file>', 'package file')
    .requiredOption('--version <v>', 'the version it claims to be')
    .option('--platform <p>', 'its platform (default: from the file name dchat-<version>-<platform>)')
    .option('--metadata <dir>', 'a repository or mirror copy to update trust from first')
    .action(action(ctx, async (o, env) => (await import('./verify-impl.ts')).verify(o as never, env)));
}
