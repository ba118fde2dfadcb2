import type { Command } from 'commander';
import { Option } from 'commander';
import type { SimulateFlags } from './commands/simulate.ts';
import { SIMULATE_FLAGS } from './commands/simulate-flags.ts';
import type { CliContext } from './context.ts';
import { collect } from './flags.ts';
import { action, lazy, newProgram } from './program.ts';

/**
 * `dchat-test`: the seed's test harness (spec/CLI.md "Test harness"): real node processes on
 * loopback, a JSON report, exit 0 only if every honest node ends with the verified version.
 */
export function buildDchatTest(ctx: CliContext): Command {
  const program = newProgram(
    'dchat-test',
    'dchat test harness: real nodes on loopback, chaos, simulation',
    ctx,
  );
  const impl = () => import('./commands/testnet-impl.ts');
  const distribute = program
    .command('distribute-update')
    .description('publish a release and distribute it to N real nodes; report who ends verified')
    .requiredOption('--version <v>', 'release version to publish and distribute')
    .option(
      '--method <m>',
      "gossip|peer|ipfs|bittorrent|https (gossip: announced over /dchat/gossip/1; peer: anti-entropy only; ipfs: fetched over bitswap by the signed CID; bittorrent: a swarm through the first node's tracker; https: fetched from two loopback HTTPS mirrors)",
      'gossip',
    )
    .option('--nodes <n>', 'honest nodes', '10');
  releaseOptions(distribute, 1024 * 1024, '90s').action(lazy(ctx, async () => (await impl()).distribute));
  program
    .command('verify-distribution')
    .description('recheck the last distribute-update run kept under $DCHAT_HOME')
    .requiredOption('--version <v>', 'the version that run distributed')
    .action(lazy(ctx, async () => (await impl()).verifyDistribution));
  const byzantine = program
    .command('chaos-byzantine')
    .description('distribute a release while malicious nodes forge, replay, spam and corrupt chunks')
    .requiredOption('--malicious-nodes <k>', 'malicious nodes');
  releaseOptions(honestNodes(byzantine), 1024 * 1024, '90s').action(
    lazy(ctx, async () => (await impl()).chaosByzantine),
  );
  const mirrors = program
    .command('chaos-mirrors')
    .description('distribute a release while HTTPS mirrors fail, stall and corrupt package requests')
    .requiredOption('--fail-rate <p>', 'share of package requests each mirror breaks, 0 to 1 (e.g. 0.5)')
    .option('--mirrors <k>', 'broken HTTPS mirrors every node has', '3')
    .option('--seed <s>', 'seed of the faults (a run replays with the same seed)');
  releaseOptions(honestNodes(mirrors), 4 * 1024 * 1024, '120s').action(
    lazy(ctx, async () => (await impl()).chaosMirrors),
  );
  const partition = program
    .command('chaos-partition')
    .description('split the network in two (connection gaters) while a release spreads, then heal it')
    .option('--duration <d>', 'how long the halves stay apart (e.g. 60s)', '60s');
  releaseOptions(honestNodes(partition), 1024 * 1024, '90s', 'give up this long after the heal').action(
    lazy(ctx, async () => (await impl()).chaosPartition),
  );
  program
    .command('upgrade')
    .description(
      'a fresh testnet of real dchat builds upgrades by governance: publish, propose, vote, approve, pre-download, switch at the height',
    )
    .requiredOption('--from <v>', 'version every node starts on (a real build stamped with it)')
    .requiredOption('--to <v>', 'version proposed and switched to')
    .requiredOption('--fork <type>', 'hard|soft (soft: min_compatible_version is --from)')
    .option('--validators <n>', 'validators (sign height beacons, approve)', '3')
    .option('--relays <n>', 'relay nodes', '3')
    .option('--users <n>', 'user nodes', '4')
    .option('--unhealthy', 'the new build never reports healthy: every node must roll back (exits 1)')
    .option('--no-legacy', 'no node kept on --from (the fork rule is then not shown)')
    .option(
      '--late-nodes <n>',
      'user/relay nodes stopped before the proposal and started after the switch: they must catch up by anti-entropy and switch at once (default 1 if there is a user or relay)',
    )
    .option(
      '--delta',
      'publish --to with a patch from --from: nodes pre-download the patch (report: bytes saved)',
    )
    .option('--dir <dir>', 'where the run goes (default $DCHAT_HOME/testnet/upgrades/<run>)')
    .option('--source <dir>', 'dchat source checkout the builds are made from (default: this package)')
    .option('--builds-dir <dir>', 'reuse release builds already there (dchat-<v>, dchat-<v>-unhealthy)')
    .option('--platform <p>', 'release platform (default: this machine)')
    .option('--voting-period <d>', 'voting period of the proposal (blocks are 1 s)', '30s')
    .option('--grace-blocks <n>', 'blocks from the end of voting to the activation height', '60')
    .option('--health-timeout <seconds>', 'how long a switched-to version has to report healthy', '30')
    .option('--timeout <d>', 'give up after this long', '15m')
    .action(lazy(ctx, async () => (await import('./commands/upgrade-impl.ts')).upgrade));
  // Internal: one Byzantine node process of chaos-byzantine (spawned by the harness).
  program.addCommand(
    program
      .createCommand('_malicious-node')
      .description('(internal) a malicious node for chaos-byzantine')
      .requiredOption('--plan <file>', 'attack plan JSON')
      .addOption(
        new Option('--bootstrap <multiaddr>', 'peer to attack (repeatable)').argParser(collect).default([]),
      )
      .action(lazy(ctx, async () => (await impl()).maliciousNode)) as Command,
    { hidden: true },
  );
  // Issue 5 item 7: the discrete-event simulator, our protocol beside the seed's TTL flooding.
  const simulate = program
    .command('simulate')
    .description('simulate announcement spread over N virtual nodes: ours vs TTL flooding, SVG plot');
  for (const f of SIMULATE_FLAGS) simulate.option(f.flags, f.description);
  simulate.action(
    action(ctx, async (o: SimulateFlags, env) =>
      (await import('./commands/simulate.ts')).runSimulateCommand(o, env.out, { cwd: env.ctx.cwd }),
    ),
  );
  return program;
}

/** The honest nodes of a chaos run and the release they spread (gossip or anti-entropy). */
function honestNodes(cmd: Command): Command {
  return cmd
    .option('--nodes <n>', 'honest nodes', '6')
    .option('--version <v>', 'release version', '1.0.0')
    .option('--method <m>', 'gossip|peer', 'gossip');
}

/** The test release every scenario publishes (its platform, size and chunking) and its time limit. */
function releaseOptions(cmd: Command, packageBytes: number, timeout: string, timeoutHelp?: string): Command {
  return cmd
    .option('--platform <p>', 'package platform (default: this machine)')
    .option('--package-size <bytes>', 'size of the test package', String(packageBytes))
    .option('--chunk-size <bytes>', 'chunk size of the chunk table', String(64 * 1024))
    .option('--timeout <duration>', timeoutHelp ?? 'give up after this long', timeout);
}
