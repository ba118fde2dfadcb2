/**
 * The node's block height and fork rules (issue 10 point 2, issue 11 point 3), wired in one place
 * so the daemon needs a few lines: the height source (validator-signed beacons over gossip, the
 * embedded default, or a real chain's CometBFT RPC + Cosmos upgrade API), the gossip hooks of
 * the `beacon` object kind, and the fork guard (/dchat/hello/1) that refuses peers on another
 * fork. Other code asks `current()` (HeightSource) for the height and `forkId()` for the fork id.
 */
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { ValidateObject } from '../gossip/core/index.ts';
import type { AcceptedObject, BanList, GossipService } from '../gossip/libp2p/adapter.ts';
import { ForkGuard, type ForkGuardHost, type ForkGuardStatus } from '../gossip/libp2p/fork-guard.ts';
import { beaconParamsOf, beaconValidatorsOf } from '../governance/beacon.ts';
import { type ForkId, type ForkView, forkIdOfView, type ScheduledUpgrade } from '../governance/fork-id.ts';
import type { TrustedGenesis } from '../governance/genesis.ts';
import type { HeightSource } from '../governance/height-source.ts';
import { BeaconService, type BeaconStatus } from '../height/beacon-service.ts';
import type { ChainHeightSource } from '../height/chain-source.ts';
import type { GaugeSpec } from '../metrics/registry.ts';
import type { SignedBeacon } from '../model/beacon.ts';
import type { UpgradePlan } from '../model/chain.ts';
import type { StatusResult } from '../model/control.ts';
import type { NodeConfig } from './node-config.ts';

/** `--height-source`: beacons (default) or a CometBFT node; `--upgrade-api` with the latter. */
export type HeightSourceSpec = { kind: 'beacon' } | { kind: 'cometbft'; rpc: string; upgradeApi?: string };

export interface HeightsInit {
  spec: HeightSourceSpec;
  /** This node's validator key (`--validator-key`): with role validator, it signs beacons. */
  validatorKey?: { privateKey: KeyObject; publicKeyHex: string } | undefined;
  /** Directory of node records (the beacon tip is kept there). */
  dir: string;
  log: Logger;
  /** Hops on beacons this node signs. */
  ttl: number;
  /** This node's software version (its hello; soft-fork rules). */
  version: string;
}

export interface HeightStatus {
  source: 'beacon' | 'cometbft' | 'none';
  height: number | null;
  time_ms: number | null;
  beacon?: BeaconStatus;
  chain?: {
    rpc: string;
    chain_id: string | null;
    catching_up: boolean;
    plan: UpgradePlan | null;
    error: string | null;
  };
}

export class NodeHeights implements HeightSource {
  private readonly init: HeightsInit;
  private genesis: TrustedGenesis | undefined;
  private beacons: BeaconService | undefined;
  private chain: ChainHeightSource | undefined;
  private guard: ForkGuard | undefined;
  private upgrades: () => readonly ScheduledUpgrade[] = () => [];

  constructor(init: HeightsInit) {
    this.init = init;
  }

  /** As the daemon makes it from its config: only a validator signs beacons. */
  static forNode(config: NodeConfig, nodeDir: string, log: Logger): NodeHeights {
    return new NodeHeights({
      spec: config.height?.spec ?? { kind: 'beacon' },
      validatorKey: config.role === 'validator' ? config.height?.validatorKey : undefined,
      dir: nodeDir,
      log,
      ttl: config.announceTtl,
      version: config.version ?? '0.0.0',
    });
  }

  /** After the genesis is known (governance loaded it): builds the height source. */
  async load(genesis: TrustedGenesis | undefined): Promise<void> {
    this.genesis = genesis;
    const spec = this.init.spec;
    if (spec.kind === 'cometbft') {
      // Loaded only here: undici stays out of an idle node that uses beacons (idle RSS target).
      const { ChainHeightSource } = await import('../height/chain-source.ts');
      this.chain = new ChainHeightSource({
        rpc: spec.rpc,
        ...(spec.upgradeApi ? { upgradeApi: spec.upgradeApi } : {}),
        onError: (e) => this.init.log.debug({ code: e.code, error: e.message }, 'chain height poll failed'),
      });
      return;
    }
    if (!genesis || genesis.body.validators.length === 0) return;
    const validators = beaconValidatorsOf(genesis);
    const key = this.init.validatorKey;
    if (key && !validators.get(key.publicKeyHex))
      this.init.log.warn(
        { key: key.publicKeyHex.slice(0, 16) },
        'the --validator-key is not a validator of the pinned genesis: this node signs no beacons',
      );
    this.beacons = await BeaconService.create({
      params: beaconParamsOf(genesis),
      validators,
      ...(key && validators.get(key.publicKeyHex) ? { signer: key } : {}),
      dir: this.init.dir,
      ttl: this.init.ttl,
      log: (level, msg, data) => this.init.log[level](data ?? {}, msg),
    });
  }

  /** HeightSource: the height every consumer (governance, activation, fork id) uses. */
  current(): { height: number; time_ms: number } | null {
    return (this.chain ?? this.beacons)?.current() ?? null;
  }

  /** The fork rules' view: genesis, upgrades known (approved certificates), height. */
  view(): ForkView | undefined {
    const g = this.genesis;
    if (!g) return undefined;
    return {
      networkId: g.networkId,
      // The network's first genesis: a certified genesis change is no fork.
      genesisHash: g.origin,
      upgrades: this.upgrades(),
      head: this.current()?.height ?? 0,
    };
  }

  /** This node's fork id now (EIP-2124 style), undefined without a genesis. */
  forkId(): ForkId | undefined {
    const v = this.view();
    return v ? forkIdOfView(v) : undefined;
  }

  /** The signed kinds this node checks besides governance (GovernanceService.gossipInit's `others`). */
  gossipKinds(): Partial<
    Record<string, { validate: ValidateObject; accepted?: (o: AcceptedObject) => void }>
  > {
    const beacons = this.beacons;
    if (!beacons) return {};
    return {
      beacon: {
        validate: (_kind, id, object) => beacons.validate(id, object as SignedBeacon),
        accepted: (o) => beacons.accepted(o.object as SignedBeacon, o.proof),
      },
    };
  }

  /** Gossip and libp2p are up: beacons flow, validators sign, the fork guard judges peers. */
  async attach(
    gossip: GossipService,
    host: ForkGuardHost,
    bans: BanList,
    upgrades: () => readonly ScheduledUpgrade[],
  ): Promise<void> {
    this.upgrades = upgrades;
    if (this.beacons) {
      this.beacons.attach({
        offerObject: (kind, id, object, ttl) => gossip.offerObject(kind, id, object, ttl),
      });
      this.beacons.start();
    }
    this.chain?.start();
    this.guard = new ForkGuard(host, {
      view: () => this.view(),
      version: this.init.version,
      bans,
      onLog: (level, msg, data) => this.init.log[level](data ?? {}, msg),
    });
    await this.guard.start();
  }

  async stop(): Promise<void> {
    await this.guard?.stop();
    this.chain?.stop();
    await this.beacons?.stop();
  }

  /** `node status`: the height and where it comes from; the fork id and refused peers. */
  status(): { height: HeightStatus; fork: ForkGuardStatus | null } {
    const cur = this.current();
    const height: HeightStatus = {
      source: this.chain ? 'cometbft' : this.beacons ? 'beacon' : 'none',
      height: cur?.height ?? null,
      time_ms: cur?.time_ms ?? null,
    };
    if (this.beacons) height.beacon = this.beacons.status();
    if (this.chain && this.init.spec.kind === 'cometbft')
      height.chain = {
        rpc: this.init.spec.rpc,
        chain_id: this.chain.chainId ?? null,
        catching_up: this.chain.catchingUp,
        plan: this.chain.plan(),
        error: this.chain.lastError ? `${this.chain.lastError.code}: ${this.chain.lastError.message}` : null,
      };
    return { height, fork: this.guard?.status() ?? null };
  }
}

/** The height and fork metrics (`--metrics`), read from `node status` at each scrape. */
export function heightGauges(status: () => StatusResult): GaugeSpec[] {
  const parts = () => status() as { height?: HeightStatus; fork?: ForkGuardStatus | null };
  return [
    {
      name: 'dchat_block_height',
      help: 'The block height this node accepted (beacons at >= 2/3 of stake, or the chain it follows)',
      read: () => {
        const h = parts().height?.height;
        return typeof h === 'number' ? [{ value: h }] : [];
      },
    },
    {
      name: 'dchat_fork_refused_peers',
      help: 'Peers refused so far by the fork rules (other network, old fork after a hard fork, version below min_compatible_version)',
      read: () => [{ value: parts().fork?.refused_peers ?? 0 }],
    },
  ];
}

/** The fork id as the metrics' node-info label shows it: hash/next, or undefined. */
export function forkIdLabel(status: () => StatusResult): string | undefined {
  const f = (status() as { fork?: ForkGuardStatus | null }).fork?.fork_id;
  return f ? `${f.hash}/${f.next}` : undefined;
}
