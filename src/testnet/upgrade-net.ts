/**
 * The network an upgrade runs on (issue 11 "Harness", issue 13 `--scenario upgrade`): real release
 * builds of dchat (`from` and `to`, see upgrade-builds.ts) published with a fresh release key into a
 * repository served by dchat's embedded mirror on loopback; a genesis signed by a root key
 * (governance-net.ts); then one home per node, made as an operator makes it: `trust init`,
 * `update add-mirror`, `governance init`, `update download` + `update install` of `from`. Every node
 * runs supervised (`dchat node start` on a home with installed versions runs `current` as a child):
 * validators in a full mesh signing height beacons, relays bootstrapped to the validators, users to
 * the relays. A "legacy" node is kept on `from`: it runs the `from` executable itself, unsupervised
 * (no versions/), so nothing ever switches it; it shows the fork rules after the height.
 * "Late" nodes (the last users, then relays: no validator stake goes missing from beacons and
 * votes) are ordinary supervised nodes the drive stops before the proposal and starts again, on the
 * same home and port, after everyone else switched (`stopNode` / `restartNode`).
 * Fixed loopback ports (taken free at start), as a deployment has: a switched node comes back where
 * its peers dial it.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DchatError } from '../errors.ts';
import { type StaticServer, startStaticServer } from '../mirror/static-server.ts';
import { writeNewKeyPair } from '../release/key-files.ts';
import { initRepository, publishRelease } from '../release/publish.ts';
import { cliJson } from './cli-run.ts';
import { freePort } from './free-port.ts';
import { type GovernanceKeys, makeGovernance } from './governance-net.ts';
import { type NodeProcess, type SpawnOptions, spawnNode, stopAll } from './process.ts';
import { releaseExecutable } from './upgrade-builds.ts';

export type UpgradeRole = 'validator' | 'relay' | 'user' | 'legacy';

export interface UpgradeNetOptions {
  /** Everything of the run goes here: repository, keys, one home per node (DIR/<id>). */
  dir: string;
  /** Where release builds are made and reused from. */
  buildsDir: string;
  /** Source checkout the builds are made from (default: this package). */
  source?: string;
  from: string;
  to: string;
  /** Build `to` with --test-never-healthy. */
  unhealthy: boolean;
  /** Publish `to` with a patch from `from` (release publish --delta-from): nodes pre-download it. */
  delta?: boolean;
  validators: number;
  relays: number;
  users: number;
  /** Keep one node on `from` (role legacy). */
  legacy: boolean;
  /** User/relay nodes marked late (the last users first, then relays); default 0. */
  lateNodes?: number;
  platform: string;
  /** Seconds a switched-to version has to report healthy (node start --health-timeout). */
  healthTimeoutS: number;
  /** Serve --metrics on every node (a fixed free port each). */
  metrics?: boolean;
  networkId?: string;
  now: () => Date;
  note: (line: string) => void;
  /** Aborted: the run is being stopped (builds are killed). */
  signal?: AbortSignal;
}

export interface UpgradeNode {
  id: string;
  role: UpgradeRole;
  home: string;
  proc: NodeProcess;
  /** Offline from before the proposal until after the switch (upgrade.ts). */
  late: boolean;
  /** How it was started (a restart starts it again the same way: same port, same bootstrap). */
  spawn: SpawnOptions;
}

/** Which of the plan's nodes are late: the last `n` users, then relays from the last. */
export function lateIds(plan: readonly { id: string; role: UpgradeRole }[], n: number): Set<string> {
  const pool = [
    ...plan.filter((p) => p.role === 'user').reverse(),
    ...plan.filter((p) => p.role === 'relay').reverse(),
  ];
  if (n > pool.length)
    throw new DchatError('E_USAGE', `${n} late nodes asked, but only ${pool.length} user and relay nodes`);
  return new Set(pool.slice(0, n).map((p) => p.id));
}

/** Validator stakes: the first 40, the others 30 (with 3: two of them approve 70 of 100). */
export function validatorStakes(n: number): number[] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? 40 : 30));
}

const HOLDERS = 4;

/** `--delta`: `to` is published with a patch from `from` (issue 14), which nodes holding `from` fetch. */
function deltaFor(o: UpgradeNetOptions, version: string): { deltaFrom?: string } {
  return o.delta && version === o.to ? { deltaFrom: o.from } : {};
}

export class UpgradeNet {
  readonly o: UpgradeNetOptions;
  readonly nodes: UpgradeNode[] = [];
  gov: GovernanceKeys | undefined;
  mirror: StaticServer | undefined;
  /** Signed IPFS CID of each published version (for the proposal). */
  readonly cids = new Map<string, string>();
  builds: { from: string; to: string } | undefined;
  /** The release repository the mirror serves. */
  readonly repoDir: string;

  constructor(o: UpgradeNetOptions) {
    this.o = o;
    this.repoDir = join(o.dir, 'repository');
  }

  get procs(): NodeProcess[] {
    return this.nodes.map((n) => n.proc);
  }

  get supervised(): UpgradeNode[] {
    return this.nodes.filter((n) => n.role !== 'legacy');
  }

  get legacyNode(): UpgradeNode | undefined {
    return this.nodes.find((n) => n.role === 'legacy');
  }

  /** Builds, publishes, founds the network and starts every node (or stops what it started). */
  async start(): Promise<void> {
    try {
      await this.startInner();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async startInner(): Promise<void> {
    const o = this.o;
    const aborted = () => {
      if (o.signal?.aborted) throw new DchatError('E_INTERRUPTED', 'the upgrade testnet was stopped');
    };
    await mkdir(o.dir, { recursive: true });
    o.note(
      `🔨 Building dchat ${o.from} and ${o.to}${o.unhealthy ? ' (never healthy)' : ''} from ${o.source ?? 'this package'} (dchat release build)`,
    );
    const [fromFile, toFile] = await Promise.all([
      releaseExecutable(o.buildsDir, { version: o.from }, o.source, o.signal),
      releaseExecutable(o.buildsDir, { version: o.to, unhealthy: o.unhealthy }, o.source, o.signal),
    ]);
    this.builds = { from: fromFile, to: toFile };
    // The release maintainer: a fresh key, a repository, both builds published and mirrored.
    const repoDir = this.repoDir;
    const key = await writeNewKeyPair(join(o.dir, 'keys', 'release.key'), true);
    const now = o.now();
    await initRepository({ dir: repoDir, keys: [key], threshold: 1, now });
    for (const [version, file] of [
      [o.from, fromFile],
      [o.to, toFile],
    ] as const) {
      const r = await publishRelease({
        dir: repoDir,
        packagePath: file,
        version,
        platform: o.platform,
        keys: [key],
        now,
        ...deltaFor(o, version),
      });
      if (r.custom.ipfs_cid) this.cids.set(version, r.custom.ipfs_cid);
    }
    this.mirror = await startStaticServer({ root: repoDir, host: '127.0.0.1', port: 0 });
    o.note(
      `🪞 ${o.from} and ${o.to}${o.delta ? ` (with a patch from ${o.from})` : ''} published and served by dchat's embedded mirror ${this.mirror.url}`,
    );

    // The founders: holders, validators, the genesis every node pins.
    this.gov = await makeGovernance({
      dir: join(o.dir, 'keys'),
      networkId: o.networkId ?? 'dchat-upgrade-testnet',
      holders: HOLDERS,
      stakes: validatorStakes(o.validators),
    });
    o.note(`🏛️  Genesis of ${this.gov.networkId}: ${HOLDERS} holders, ${o.validators} validators`);

    const plan: { id: string; role: UpgradeRole }[] = [
      ...Array.from({ length: o.validators }, (_, i) => ({ id: `v${i}`, role: 'validator' as const })),
      ...Array.from({ length: o.relays }, (_, i) => ({ id: `r${i}`, role: 'relay' as const })),
      ...Array.from({ length: o.users }, (_, i) => ({ id: `u${i}`, role: 'user' as const })),
      ...(o.legacy ? [{ id: 'legacy', role: 'legacy' as const }] : []),
    ];
    const late = lateIds(plan, o.lateNodes ?? 0);
    // Homes in pairs: each is a few CLI processes and a download of a 100+ MiB build.
    const rootFile = join(repoDir, 'root.json');
    aborted();
    for (let i = 0; i < plan.length; i += 2)
      await Promise.all(plan.slice(i, i + 2).map((p) => this.makeHome(join(o.dir, p.id), p.role, rootFile)));
    o.note(
      `🏠 ${plan.length} homes: trust init, add-mirror, governance init, ${o.from} downloaded and installed`,
    );
    for (const p of plan) {
      aborted();
      await this.startNode(p.id, p.role, late.has(p.id));
    }
  }

  private async makeHome(home: string, role: UpgradeRole, rootFile: string): Promise<void> {
    const gov = this.gov as GovernanceKeys;
    const url = (this.mirror as StaticServer).url;
    const dchat = (args: string[]) => cliJson('dchat', ['--home', home, ...args], { timeoutMs: 300_000 });
    await dchat(['trust', 'init', '--root', rootFile]);
    await dchat(['update', 'add-mirror', '--url', url, '--mirror-type', 'https', '--region', 'local']);
    await dchat(['governance', 'init', '--genesis', gov.genesisFile]);
    if (role === 'legacy') return;
    const v = ['--version', this.o.from, '--platform', this.o.platform];
    await dchat(['update', 'download', ...v]);
    await dchat(['update', 'install', ...v]);
  }

  private bootstrapFor(role: UpgradeRole): string[] {
    const of = (r: UpgradeRole) =>
      this.nodes.filter((n) => n.role === r).map((n) => n.proc.addresses[0] as string);
    if (role === 'validator' || role === 'relay') return of('validator');
    if (role === 'user') return of('relay').length ? of('relay') : of('validator');
    return [...of('validator'), ...of('relay')];
  }

  private async startNode(id: string, role: UpgradeRole, late: boolean): Promise<void> {
    const o = this.o;
    const home = join(o.dir, id);
    const gov = this.gov as GovernanceKeys;
    const args = ['--home', home, 'node', 'start', '--json', '--role', role === 'legacy' ? 'user' : role];
    args.push('--listen', `/ip4/127.0.0.1/tcp/${await freePort()}`, '--platform', o.platform);
    if (o.metrics) args.push('--metrics', `127.0.0.1:${await freePort()}`);
    if (role !== 'legacy') args.push('--health-timeout', String(o.healthTimeoutS));
    if (role === 'validator') {
      const i = Number(id.slice(1));
      args.push('--validator-key', (gov.validators[i] as { file: string }).file);
    }
    for (const b of this.bootstrapFor(role)) args.push('--bootstrap', b);
    const spawn: SpawnOptions = {
      name: id,
      home,
      role,
      args,
      // The legacy node is the `from` executable itself; the others are supervisors of this
      // checkout running their installed `current` version as a child.
      ...(role === 'legacy' ? { command: this.builds?.from as string } : {}),
      env: { DCHAT_CHILD_LOG: '1' },
      startTimeoutMs: 120_000,
    };
    const proc = await spawnNode(spawn);
    this.nodes.push({ id, role, home, proc, late, spawn });
    o.note(`🚀 ${id} (${role}) ${proc.peerId}${role === 'legacy' ? ` kept on ${o.from}` : ''}`);
  }

  /** The home of a node by id. */
  node(id: string): UpgradeNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new DchatError('E_INTERNAL', `no node ${id}`);
    return n;
  }

  /** Stops a node gracefully (its supervisor stops its child first); its home stays. */
  async stopNode(id: string): Promise<void> {
    await stopAll([this.node(id).proc], 10_000);
  }

  /** Starts a stopped node again as it was started: same home, port, flags and bootstrap peers. */
  async restartNode(id: string): Promise<void> {
    const n = this.node(id);
    n.proc = await spawnNode(n.spawn);
  }

  async stop(): Promise<void> {
    await stopAll(this.procs, 10_000);
    await this.mirror?.close();
    this.mirror = undefined;
  }
}
