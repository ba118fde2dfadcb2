import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { lazy } from '../program.ts';

const KEY_HELP = "the holder's (or validator's) private key, as `dchat-sign keygen` writes it";

export function registerGovernance(program: Command, ctx: CliContext): void {
  const gov = program
    .command('governance')
    .description('upgrade proposals, token-weighted votes, validator approval (through the running node)');
  const impl = async () => import('./governance-impl.ts');
  gov
    .command('init')
    .description('pin the network genesis (token holders, validators, governance parameters)')
    .requiredOption('--genesis <file>', 'genesis.json of the network, signed by its root keys')
    .action(lazy(ctx, async () => (await impl()).init));
  gov
    .command('propose-upgrade')
    .description('propose an upgrade to a signed release; the proposer must hold the minimum deposit')
    .requiredOption('--version <v>', 'release version (must be in the signed TUF targets the node trusts)')
    .requiredOption('--ipfs-cid <cid>', 'IPFS CID of the release package')
    .requiredOption('--mirrors <urls>', 'mirror URLs, comma-separated')
    .option(
      '--activation-height <h>',
      'block height to switch at (default: after voting plus a grace period)',
    )
    .option('--fork <type>', 'hard|soft', 'hard')
    .option('--voting-period <duration>', "voting period, e.g. 14d (default: the network's)")
    .option(
      '--min-compatible-version <v>',
      'soft forks: oldest version that stays compatible (default: --version)',
    )
    .option('--title <text>', 'a short title')
    .requiredOption('--key <file>', KEY_HELP)
    .option('--passphrase-file <file>', 'passphrase of an encrypted --key')
    .option('--allow-insecure-key-permissions', 'use a --key that others may read')
    .action(lazy(ctx, async () => (await impl()).proposeUpgrade));
  gov
    .command('propose-genesis')
    .description(
      "propose the network's next genesis (holders, validators, params); once certified every node moves to it",
    )
    .requiredOption('--genesis <file>', 'the next genesis.json (version + 1), signed by its root keys')
    .option('--voting-period <duration>', "voting period, e.g. 14d (default: the network's)")
    .option('--title <text>', 'a short title')
    .requiredOption('--key <file>', KEY_HELP)
    .option('--passphrase-file <file>', 'passphrase of an encrypted --key')
    .option('--allow-insecure-key-permissions', 'use a --key that others may read')
    .action(lazy(ctx, async () => (await impl()).proposeGenesis));
  gov
    .command('vote')
    .description("vote on a proposal with a token holder's key (the latest vote counts)")
    .requiredOption('--proposal <id>', 'proposal id (or a unique prefix of it)')
    .requiredOption('--option <option>', 'yes|no|abstain')
    .requiredOption('--key <file>', KEY_HELP)
    .option('--passphrase-file <file>', 'passphrase of an encrypted --key')
    .option('--allow-insecure-key-permissions', 'use a --key that others may read')
    .action(lazy(ctx, async () => (await impl()).vote));
  gov
    .command('approve')
    .description(
      'validator: consent to a hard fork while voting is open; after it ends, attest the tally the node holds',
    )
    .requiredOption('--proposal <id>', 'proposal id (or a unique prefix of it)')
    .requiredOption('--key <file>', "the validator's private key")
    .option('--passphrase-file <file>', 'passphrase of an encrypted --key')
    .option('--allow-insecure-key-permissions', 'use a --key that others may read')
    .action(lazy(ctx, async () => (await impl()).approve));
  gov
    .command('status')
    .description('tally, quorum, approving stake, blocks and time left, the certificate once approved')
    .option('--proposal <id>', 'one proposal (id or unique prefix); default all')
    .action(lazy(ctx, async () => (await impl()).status));
}
