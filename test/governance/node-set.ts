/**
 * Governance on real node processes (genesis-nodes, readiness, real-nodes.e2e): homes that trust
 * the test mirror and hold a genesis, `dchat node start` processes bootstrapped to one another,
 * and the `governance` commands with JSON out.
 */
import assert from 'node:assert/strict';
import { trustUpdate } from '../../src/download/trust-session.ts';
import type { GovernanceStatusResult } from '../../src/model/governance-control.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import type { HomePaths } from '../../src/store/home.ts';
import { type NodeProcess, spawnNode, stopAll } from '../../src/testnet/process.ts';
import { type MirrorRepo, makeHome } from '../download/fixture.ts';
import { type CliResult, dchat, describeRun } from '../helpers/cli.ts';

/** The JSON a command printed, once it exited 0. */
export function json<T>(r: CliResult): T {
  assert.equal(r.code, 0, describeRun(r));
  return JSON.parse(r.stdout) as T;
}

export const gov = (home: HomePaths, args: string[]): Promise<CliResult> =>
  dchat(['--home', home.home, 'governance', ...args, '--json'], { timeoutMs: 30_000 });

export const govStatus = async (home: HomePaths): Promise<GovernanceStatusResult> =>
  json<GovernanceStatusResult>(await gov(home, ['status']));

/**
 * `governance propose-upgrade` of 1.1.0 signed by `o.key`. The CID and mirror are placeholders:
 * these tests never fetch the release through the proposal.
 */
export function proposeUpgrade(
  home: HomePaths,
  o: { activation: number; voting: string; key: string; fork?: 'hard' | 'soft' },
): Promise<CliResult> {
  return gov(home, [
    ...['propose-upgrade', '--version', '1.1.0'],
    ...['--ipfs-cid', 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'],
    ...['--mirrors', 'https://releases.example.org/dchat/1.1.0'],
    ...['--activation-height', String(o.activation)],
    ...(o.fork ? ['--fork', o.fork] : []),
    ...['--voting-period', o.voting, '--key', o.key],
  ]);
}

export interface StartOptions {
  /** `--validator-key`: the node attests tallies itself. */
  key?: string;
  /** Peers to bootstrap from; default every node this set started so far. */
  bootstrap?: NodeProcess[];
  extra?: string[];
  startTimeoutMs?: number;
}

/** The homes and node processes of one test file; `stop` ends every node. */
export class GovernanceNodes {
  readonly homes: HomePaths[] = [];
  readonly nodes: NodeProcess[] = [];
  private readonly repo: () => MirrorRepo;
  private readonly genesis: () => string;

  /** Getters: the repository and genesis file are made in the test file's `before`. */
  constructor(repo: () => MirrorRepo, genesis: () => string) {
    this.repo = repo;
    this.genesis = genesis;
  }

  /** A home that trusts the test mirror's release metadata and holds the genesis. */
  async home(): Promise<HomePaths> {
    const repo = this.repo();
    const paths = await makeHome(repo);
    await trustUpdate(paths, new DirectoryFetcher(repo.dir), new Date());
    const r = await gov(paths, ['init', '--genesis', this.genesis()]);
    assert.equal(r.code, 0, describeRun(r));
    this.homes.push(paths);
    return paths;
  }

  async start(home: HomePaths, name: string, role: string, o: StartOptions = {}): Promise<NodeProcess> {
    const args = ['--home', home.home, 'node', 'start', '--json', '--role', role, ...(o.extra ?? [])];
    if (o.key) args.push('--validator-key', o.key);
    for (const b of o.bootstrap ?? this.nodes) args.push('--bootstrap', b.addresses[0] as string);
    const n = await spawnNode({
      name,
      home: home.home,
      role,
      args,
      ...(o.startTimeoutMs ? { startTimeoutMs: o.startTimeoutMs } : {}),
    });
    this.nodes.push(n);
    return n;
  }

  stop(): Promise<void> {
    return stopAll(this.nodes);
  }
}
