import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { lazy } from '../program.ts';

export function registerTrust(program: Command, ctx: CliContext): void {
  const trust = program.command('trust').description('the root of trust: which keys sign releases');
  trust
    .command('init')
    .description('pin the initial trusted root; later roots follow the signed chain')
    .requiredOption('--root <file>', 'root.json of the network (from `release init`)')
    .action(lazy(ctx, async () => (await import('./trust-impl.ts')).init));
  trust
    .command('show')
    .description('root version, keys, thresholds, expiries')
    .action(lazy(ctx, async () => (await import('./trust-impl.ts')).show));
}
