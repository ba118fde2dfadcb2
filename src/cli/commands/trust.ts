import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { action } from '../program.ts';

export function registerTrust(program: Command, ctx: CliContext): void {
  const trust = program.command('trust').description('the root of trust: which keys sign releases');
  trust
    .command('init')
    .description('pin the initial trusted root; later roots follow the signed chain')
    .requiredOption('--root <file>', 'root.json of the network (from `release init`)')
    .action(action(ctx, async (o, env) => (await import('./trust-impl.ts')).init(o as never, env)));
  trust
    .command('show')
    .description('root version, keys, thresholds, expiries')
    .action(action(ctx, async (o, env) => (await import('./trust-impl.ts')).show(o as never, env)));
}
