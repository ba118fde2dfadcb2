import { type Command, Option } from 'commander';
import type { CliContext } from '../context.ts';
import { collect } from '../flags.ts';
import { lazy } from '../program.ts';

export function registerNode(program: Command, ctx: CliContext): void {
  const node = program.command('node').description('run a dchat node (libp2p: gossip, peer transfer)');
  node
    .command('start')
    .description('start a node; runs until SIGINT/SIGTERM')
    .option(
      '--listen <multiaddr>',
      'address to listen on (repeatable; default /ip4/127.0.0.1/tcp/0)',
      collect,
      [],
    )
    .option('--bootstrap <multiaddr>', 'peer to connect to, with /p2p/<id> (repeatable)', collect, [])
    .option('--role <role>', 'validator|relay|user', 'user')
    .option(
      '--metrics <host:port>',
      'serve Prometheus /metrics and /health on HOST:PORT (port 0: any free one)',
    )
    .option(
      '--dashboard <host:port>',
      'web dashboard on HOST:PORT: status, peers, mirrors, propagation chart',
    )
    .option('--prefetch', 'download and verify newly trusted releases from peers in the background')
    .option('--platform <p>', 'platform of the packages to prefetch (default: this machine)')
    .option('--prefetch-source <kind>', 'prefetch from this kind of source only (ipfs, peer, https...)')
    .option('--announce-ttl <hops>', 'hops put on announcements this node originates', '8')
    .option('--tracker <host:port>', 'run a BitTorrent tracker (HTTP announce) on this address')
    .option(
      '--bt-announce <url>',
      'BitTorrent tracker to seed verified packages through (repeatable; none by default)',
      collect,
      [],
    )
    .option('--bt-port <port>', 'TCP port of the BitTorrent seeder (default: any free port)')
    .option(
      '--health-timeout <seconds>',
      'with installed versions: how long a started or switched-to version has to report healthy (default 30)',
    )
    .option(
      '--height-source <source>',
      'block height: beacon (validator-signed beacons gossiped in the network) or cometbft:URL (a CometBFT RPC)',
      'beacon',
    )
    .option('--upgrade-api <url>', "that chain's Cosmos SDK REST API (x/upgrade current_plan)")
    .option(
      '--validator-key <file>',
      "this validator's private key (dchat-sign keygen): it signs height beacons",
    )
    .option('--passphrase-file <file>', 'passphrase of an encrypted --validator-key')
    .option('--allow-insecure-key-permissions', 'use a --validator-key that others may read')
    // The supervisor's pre-started next version (src/activation/child.ts), not for operators.
    .addOption(new Option('--standby', 'load, then wait for the supervisor to say go').hideHelp())
    .action(lazy(ctx, async () => (await import('./node-impl.ts')).start));
  node
    .command('status')
    .description('peer id, addresses, connected peers, known releases, role (from the running node)')
    .action(lazy(ctx, async () => (await import('./node-impl.ts')).status));
  node
    .command('announce')
    .description('announce a trusted release to the network through the running node')
    .option('--version <v>', 'release version (default: the highest trusted)')
    .option('--ttl <hops>', 'hops the announcement may travel')
    .action(lazy(ctx, async () => (await import('./node-impl.ts')).announce));
}
