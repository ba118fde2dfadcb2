import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { lazy } from '../program.ts';

export function registerMirror(program: Command, ctx: CliContext): void {
  const mirror = program.command('mirror').description("serve a mirror directory (dchat's embedded mirror)");
  mirror
    .command('serve')
    .description('serve a repository written by `release publish` over HTTP(S) with Range support')
    .requiredOption('--dir <dir>', 'mirror directory')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8480')
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .action(lazy(ctx, async () => (await import('./mirror-impl.ts')).serve));
}
