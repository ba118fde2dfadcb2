import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { lazy } from '../program.ts';

export function registerTestnet(program: Command, ctx: CliContext): void {
  program
    .command('testnet')
    .description('run a whole dchat network on this machine (real nodes on 127.0.0.1) until SIGINT/SIGTERM')
    .option('--validators <n>', 'validator nodes (full mesh)', '3')
    .option('--relays <n>', 'relay nodes (bootstrapped to the validators)', '3')
    .option('--users <n>', 'user nodes (bootstrapped to the relays)', '0')
    .option(
      '--dir <dir>',
      'where the nodes, the release repository and testnet.json go (default $DCHAT_HOME/testnet/local)',
    )
    .option(
      '--base-port <p>',
      'mirror P, dashboard P+1, node i P+10+i, its metrics P+10+n+i (default: free ports)',
    )
    .option('--dashboard <host:port>', 'the testnet dashboard (default 127.0.0.1, port P+1 or a free one)')
    .option('--release-every <duration>', 'publish and announce a new release this often (e.g. 60s)')
    .option('--platform <p>', 'package platform of the test releases (default: this machine)')
    .option('--package-size <bytes>', 'size of each test release', String(1024 * 1024))
    .option(
      '--scenario <name>',
      'upgrade: real dchat builds --from and --to; the testnet proposes, votes, approves and switches by itself',
    )
    .option('--from <v>', '--scenario upgrade: the version every node starts on', '1.0.0')
    .option('--to <v>', '--scenario upgrade: the version proposed and switched to', '1.1.0')
    .option('--fork <type>', '--scenario upgrade: hard|soft', 'hard')
    .option('--builds-dir <dir>', '--scenario upgrade: reuse release builds already there (dchat-<v>)')
    .action(lazy(ctx, async () => (await import('./testnet-run-impl.ts')).runTestnet));
}
