/**
 * The dchat node (composition root, DESIGN.md `node/`): libp2p with a persistent identity, the
 * gossip adapter over the pure core, peer transfer (serving verified packages, fetching from
 * peers), the local control socket and $DCHAT_HOME/node/state.json. Startable: `start()` brings
 * every part up or throws with nothing left running; `stop()` undoes it in reverse order.
 */
import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PeerId } from '@libp2p/interface';
import type { Logger } from 'pino';
import { DchatError } from '../errors.ts';
import { BanList, GossipService } from '../gossip/libp2p/adapter.ts';
import { ChunkClient, ChunkServer } from '../gossip/libp2p/chunks.ts';
import type { StatusResult } from '../model/control.ts';
import type { DownloadSource } from '../model/download-source.ts';
import type { GovernanceStatusResult } from '../model/governance-control.ts';
import { PeerSource } from '../sources/peer.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { loadDefaultRoot } from '../store/default-root.ts';
import { GovernanceStore } from '../store/governance-store.ts';
import type { HomePaths } from '../store/home.ts';
import { persistLearnedMirrors } from '../store/learned-mirrors.ts';
import { loadMirrors } from '../store/mirrors.ts';
import { FileTrustStore } from '../store/trust-store.ts';
import { parseMetadata } from '../trust/metadata.ts';
import type { TrustedSet } from '../trust/trusted-set.ts';
import { loadTrustOffline } from '../trust/updater.ts';
import type { UpdateService } from '../update/service.ts';
import { type NodeActivation, startNodeActivation } from './activation-node.ts';
import { type ActivationNotes, createActivationNotes } from './activation-notes.ts';
import { AttestationGossip } from './attestation-gossip.ts';
import { BitTorrentSeeder, signedInfoHashes } from './bittorrent.ts';
import { ControlServer, protocolHandlers } from './control.ts';
import { GovernanceService, governanceHandlers } from './governance-service.ts';
import { NodeHeights } from './heights.ts';
import { loadOrCreateIdentity } from './identity.ts';
import { NodeIpfs } from './ipfs.ts';
import { bootstrapToDial, createNodeLibp2p, type DchatLibp2p } from './libp2p.ts';
import { listenError } from './listen-error.ts';
import type { NodeConfig, NodeState } from './node-config.ts';
import { PackageFetcher } from './node-fetch.ts';
import { retainPackages } from './package-retention.ts';
import { PackageStore } from './package-store.ts';
import { partition } from './partition.ts';
import { renderStatus } from './status.ts';

/**
 * Loaded at the first download, not at start: the update service brings the download engine, the
 * HTTPS sources and undici (about a fifth of the modules), which an idle node never runs (DESIGN.md,
 * performance targets: idle node RSS). test/node/idle-footprint.test.ts guards it.
 */
const loadUpdates = () => import('../update/service.ts');

/** Learned mirrors are written to mirrors.toml at most this often. */
const MIRRORS_PERSIST_DELAY_MS = 500;

export class DchatNode extends EventEmitter {
  readonly paths: HomePaths;
  readonly config: NodeConfig;
  private readonly log: Logger;
  private libp2p: DchatLibp2p | undefined;
  private gossip: GossipService | undefined;
  private chunkServer: ChunkServer | undefined;
  private control: ControlServer | undefined;
  private governance: GovernanceService | undefined;
  private activation: NodeActivation | undefined;
  private heights: NodeHeights | undefined;
  private attestations: AttestationGossip | undefined;
  private notes: ActivationNotes | undefined;
  private readonly bans = new BanList();
  private readonly store: PackageStore;
  private readonly trustStore: FileTrustStore;
  /** Downloads: the configured mirrors and this node's peers together (src/update/), made at first use. */
  private updates: Promise<UpdateService> | undefined;
  private chunkClient: ChunkClient | undefined;
  private peerSource: PeerSource | undefined;
  private bt: BitTorrentSeeder | undefined;
  /** IPFS over this node's libp2p (node/ipfs.ts), started at the first need. */
  private ipfs: NodeIpfs | undefined;
  /** Downloads of packages: --prefetch and `download` requests (node-fetch.ts). */
  private readonly fetcher: PackageFetcher;
  private redialTimer: NodeJS.Timeout | undefined;
  private mirrorsTimer: NodeJS.Timeout | undefined;
  private learnedMirrors: DownloadSource[] | undefined;
  private mirrorsWrite: Promise<void> = Promise.resolve();
  /** Aborted at stop: ends prefetch backoffs at once. */
  private readonly stopSignal = new AbortController();
  private stopping = false;
  private startedAt = '';
  badChunks = 0;

  constructor(paths: HomePaths, config: NodeConfig, log: Logger, trustStore: FileTrustStore) {
    super();
    this.paths = paths;
    this.config = config;
    this.log = log;
    this.store = new PackageStore(paths);
    this.trustStore = trustStore;
    this.fetcher = new PackageFetcher({
      config,
      paths,
      store: this.store,
      log,
      bans: this.bans,
      stopSignal: this.stopSignal.signal,
      stopping: () => this.stopping,
      trustOffline: () => this.trustOffline(),
      reload: () => this.reload(),
      updateService: () => this.updateService(),
      libp2p: () => this.libp2p,
      chunkClient: () => this.chunkClient,
      peerSource: () => this.peerSource,
      ipfs: () => this.ipfs,
      // Keep-N first (node/package-retention.ts), so the seeders see what stays.
      verified: (target) =>
        void retainPackages({
          paths: this.paths,
          store: this.store,
          log: this.log,
          // Never the one just verified (asked for), the running one, or an approved release.
          protect: [
            this.store.get(target)?.target.custom.version ?? '',
            this.config.version ?? '',
            ...(this.governance?.approvedPlans().map((p) => p.version) ?? []),
          ],
        }).finally(() => this.emit('package:verified', target)),
    });
  }

  private updateService(): Promise<UpdateService> {
    this.updates ??= loadUpdates().then(
      ({ UpdateService }) =>
        new UpdateService({
          paths: this.paths,
          clock: () => this.clock(),
          ...(this.config.env ? { env: this.config.env } : {}),
          extraSources: () => [
            ...(this.peerSource ? [{ source: this.peerSource }] : []),
            ...(this.ipfs ? [{ source: this.ipfs.source }] : []),
          ],
          ...(this.ipfs ? { ipfs: () => (this.ipfs as NodeIpfs).node() } : {}),
        }),
    );
    return this.updates;
  }

  static async create(paths: HomePaths, config: NodeConfig, log: Logger): Promise<DchatNode> {
    return new DchatNode(paths, config, log, new FileTrustStore(paths, await loadDefaultRoot()));
  }

  get peerId(): string {
    return this.requireLibp2p().peerId.toString();
  }

  private requireLibp2p(): DchatLibp2p {
    if (!this.libp2p) throw new DchatError('E_INTERNAL', 'node not started');
    return this.libp2p;
  }

  async start(): Promise<void> {
    this.startedAt = new Date().toISOString();
    const { key } = await loadOrCreateIdentity(this.paths);
    // The control socket first: a second node on the same home fails before it binds a port.
    this.control = new ControlServer(
      this.paths,
      protocolHandlers({
        status: async () => this.status(),
        announce: async (p) => {
          // Trust may have moved on disk since start (`dchat update ...`): announce what it says now.
          await this.reload();
          return this.requireGossip().announce(p.version, p.ttl ?? this.config.announceTtl);
        },
        // `dchat update download --source peer`: the CLI has no peers of its own; the node does.
        download: async (p) => this.fetcher.downloadRequested(p),
        partition: async (p) => partition(this.requireLibp2p(), this.bans, p, Date.now()),
        ...governanceHandlers(() => this.governance),
      }),
    );
    await this.control.start();
    try {
      const trusted = await this.trustOffline();
      if (trusted) await this.store.scan(trusted);
      // Configured mirrors (mirrors.toml) are what this node shares with peers; E_CONFIG if bad.
      // Mirrors it learned earlier stay in the file for downloads, but are not its to vouch for.
      const mirrors = (await loadMirrors(this.paths)).mirrors
        .filter((m) => m.origin !== 'learned')
        .map(({ latency_ms, throughput_bps, ...m }) => m);
      const node = await createNodeLibp2p({
        privateKey: key,
        listen: this.config.listen,
        bans: this.bans,
      }).catch((err: unknown) => {
        throw listenError(err) ?? err;
      });
      this.libp2p = node;
      this.ipfs = new NodeIpfs({ libp2p: node, nodeDir: this.paths.nodeDir, log: this.log });
      this.heights = NodeHeights.forNode(this.config, this.paths.nodeDir, this.log);
      this.attestations = new AttestationGossip(this.paths, this.log);
      this.governance = await GovernanceService.load({
        store: new GovernanceStore(this.paths),
        log: this.log,
        certify: this.config.role === 'validator',
        signer: this.config.role === 'validator' ? this.config.height?.validatorKey : undefined,
        heightSource: this.config.heightSource ?? this.heights,
        clock: () => this.clock().getTime(),
        ttl: this.config.announceTtl,
        onGenesis: (g) => this.heights?.genesisMoved(g),
      });
      await this.heights.load(this.governance.genesis);
      this.notes = createActivationNotes(this.governance, {
        ...{ config: this.config, paths: this.paths, log: this.log, identity: key },
        ...{ clock: () => this.clock().getTime(), activation: () => this.activation },
      });
      const host = {
        peerId: node.peerId,
        handle: node.handle.bind(node),
        unhandle: node.unhandle.bind(node),
        dialProtocol: node.dialProtocol.bind(node),
        hangUp: (p: PeerId) => node.hangUp(p),
        addEventListener: node.addEventListener.bind(node),
        removeEventListener: node.removeEventListener.bind(node),
        getPeers: () => node.getPeers(),
        getConnections: (p: PeerId) => node.getConnections(p),
        getDialQueue: () => node.getDialQueue(),
      };
      this.gossip = new GossipService(host, {
        trustStore: this.trustStore,
        bans: this.bans,
        ...(this.config.gossip ? { config: this.config.gossip } : {}),
        mirrors,
        defaultTtl: this.config.announceTtl,
        trustClock: () => this.clock(),
        selfAddrs: () => node.getMultiaddrs().map(String),
        onAccepted: (r) => {
          this.emit('release:accepted', r);
          if (r.via !== 'local') void this.fetcher.maybeFetch();
        },
        onLog: (level, msg, data) => this.log[level](data ?? {}, msg),
        onMirrorsChanged: (all) => this.mirrorsChanged(all),
        ...this.governance.gossipInit({
          ...this.heights.gossipKinds(),
          ...this.attestations.gossipKinds(),
          ...this.notes.gossipKinds(),
        }),
      });
      this.chunkClient = new ChunkClient(host);
      this.chunkServer = new ChunkServer(
        host,
        this.store.chunkBackend(async (name) => this.metadataBytes(name)),
        { ...this.config.chunkServer },
      );
      this.peerSource = new PeerSource({
        transport: this.chunkClient,
        peers: (target) => this.fetcher.peersHolding(target),
        onMisbehaviour: (peer, kind, detail) => {
          this.badChunks++;
          this.log.warn({ peer: peer.toString(), kind, detail }, 'peer served bad data');
          this.gossip?.badChunk(peer.toString());
        },
      });
      await this.chunkServer.start();
      await this.startBitTorrent();
      await this.gossip.start();
      this.gossip.adoptTrusted();
      this.governance.attach(this.gossip);
      await this.attestations.attach(this.gossip);
      this.notes.attach(this.gossip);
      await this.heights.attach(this.gossip, node, this.bans, () => this.governance?.approvedPlans() ?? []);
      await this.writeState();
      // A new peer may hold what an earlier prefetch could not find.
      node.addEventListener('peer:connect', () => void this.fetcher.maybeFetch());
      this.redial();
      // Verified releases published with a CID are provided over IPFS (this starts Helia); a node
      // told to fetch over IPFS starts it now, once up, rather than at the first release.
      void this.ipfs.provideAll(this.store.seedable());
      // Blocks of pruned packages go: now those pruned while the node was down, then at each
      // keep-N (after a package is verified).
      const retainIpfs = () => void this.ipfs?.retain(this.store.seedable());
      retainIpfs();
      this.on('package:verified', retainIpfs);
      if (this.config.prefetchSource === 'ipfs') void this.ipfs.node().catch(() => {});
      void this.fetcher.maybeFetch();
      const download = (version: string) =>
        this.fetcher.downloadRequested({ version, platform: this.config.platform });
      this.activation = startNodeActivation(this.governance, {
        ...{ paths: this.paths, config: this.config, log: this.log, peerId: node.peerId.toString() },
        ...{ clock: () => this.clock(), download, updates: () => this.updateService() },
      });
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopSignal.abort();
    this.activation?.stop();
    this.notes?.stop();
    if (this.redialTimer) clearTimeout(this.redialTimer);
    await this.control?.stop().catch(() => {});
    await this.gossip?.stop().catch(() => {});
    await this.governance?.stop();
    await this.heights?.stop().catch(() => {});
    await this.attestations?.stop();
    await this.flushMirrors();
    await this.chunkServer?.stop().catch(() => {});
    await this.bt?.stop().catch(() => {});
    await this.ipfs?.stop();
    try {
      await this.libp2p?.stop();
    } catch {
      // Stopping anyway.
    }
    await rm(join(this.paths.nodeDir, 'state.json'), { force: true }).catch(() => {});
  }

  private clock(): Date {
    return this.config.clock?.() ?? new Date();
  }

  /** Re-reads the trusted metadata and the verified packages from the home. */
  private async reload(): Promise<void> {
    await this.requireGossip().reloadTrust();
    const trusted = await this.trustOffline();
    if (trusted) await this.store.scan(trusted);
  }

  private requireGossip(): GossipService {
    if (!this.gossip) throw new DchatError('E_INTERNAL', 'node not started');
    return this.gossip;
  }

  private async trustOffline(): Promise<TrustedSet | undefined> {
    try {
      return await loadTrustOffline(this.trustStore, this.clock());
    } catch {
      return undefined;
    }
  }

  /**
   * TUF metadata this node trusts, under the names a TUF client asks for; roots by version from
   * the chain it keeps, so a peer behind on roots can follow it from here too.
   */
  private metadataBytes(name: string): Uint8Array | undefined {
    const docs = this.gossip?.trustedDocs() ?? {};
    if (name === 'timestamp.json') return docs.timestamp;
    const m = /^(\d+)\.(root|snapshot|targets)\.json$/.exec(name);
    if (!m) return name === 'root.json' ? docs.root : undefined;
    const role = m[2] as 'root' | 'snapshot' | 'targets';
    const candidates = role === 'root' ? [...(docs.previousRoots ?? []), docs.root] : [docs[role]];
    return candidates.find((bytes) => {
      if (!bytes) return false;
      try {
        return parseMetadata(role, bytes).signed.version === Number(m[1]);
      } catch {
        return false;
      }
    });
  }

  /** Seeds verified packages over BitTorrent (now and each new one); runs the tracker if asked. */
  private async startBitTorrent(): Promise<void> {
    this.bt = new BitTorrentSeeder(this.config.bittorrent ?? {}, this.log);
    await this.bt.start(async (ih) => {
      const targets = (await this.trustOffline())?.targets;
      return !!targets && signedInfoHashes(targets).has(ih);
    });
    const sync = () => void this.bt?.sync(this.store.seedable());
    this.on('package:verified', sync);
    sync();
  }

  // ---- bootstrap ----------------------------------------------------------------------------

  private redial(): void {
    if (this.stopping || !this.libp2p) return;
    const node = this.libp2p;
    const connected = new Set(node.getPeers().map(String));
    for (const ma of bootstrapToDial(this.config.bootstrap, connected, (p) => this.bans.isBanned(p))) {
      node.dial(ma, { signal: AbortSignal.timeout(5000) }).catch((err: Error) => {
        this.log.debug({ addr: ma.toString(), error: err.message }, 'bootstrap dial failed');
      });
    }
    this.redialTimer = setTimeout(() => this.redial(), this.config.redialMs);
    this.redialTimer.unref();
  }

  // ---- learned mirrors ----------------------------------------------------------------------

  /** The core learned mirrors from a peer: written to mirrors.toml shortly (changes coalesce). */
  private mirrorsChanged(all: readonly DownloadSource[]): void {
    this.learnedMirrors = all.filter((m) => m.origin === 'learned');
    if (this.mirrorsTimer || this.stopping) return;
    this.mirrorsTimer = setTimeout(() => {
      this.mirrorsTimer = undefined;
      void this.flushMirrors();
    }, MIRRORS_PERSIST_DELAY_MS);
    this.mirrorsTimer.unref();
  }

  /** Writes the pending learned mirrors, one write at a time. */
  private flushMirrors(): Promise<void> {
    if (this.mirrorsTimer) clearTimeout(this.mirrorsTimer);
    this.mirrorsTimer = undefined;
    const learned = this.learnedMirrors;
    this.learnedMirrors = undefined;
    if (!learned) return this.mirrorsWrite;
    this.mirrorsWrite = this.mirrorsWrite.then(async () => {
      try {
        if (await persistLearnedMirrors(this.paths, learned))
          this.log.info({ learned: learned.length }, 'learned mirrors saved to mirrors.toml');
      } catch (err) {
        this.log.warn({ error: (err as Error).message }, 'could not save learned mirrors');
      }
    });
    return this.mirrorsWrite;
  }

  // ---- status -------------------------------------------------------------------------------

  private async writeState(): Promise<void> {
    const node = this.requireLibp2p();
    const state: NodeState = {
      format: 'dchat.node-state/1',
      peer_id: node.peerId.toString(),
      pid: process.pid,
      role: this.config.role,
      addresses: node.getMultiaddrs().map(String),
      started_at: this.startedAt,
      control_socket: this.control?.socketPath ?? '',
    };
    await writeFileAtomic(join(this.paths.nodeDir, 'state.json'), `${JSON.stringify(state, null, 2)}\n`, {
      mode: 0o600,
    });
  }

  /** `governance status` of this node (undefined: no genesis pinned), for its dashboard. */
  governanceStatus(): GovernanceStatusResult | undefined {
    return this.governance?.genesis ? this.governance.status(undefined) : undefined;
  }

  /** `node status` (model/control.ts StatusResult): one key style, snake_case, as the seed's JSON. */
  status(): StatusResult {
    const activation = this.activation?.status();
    const st = renderStatus({
      node: this.requireLibp2p(),
      gossip: this.requireGossip(),
      role: this.config.role,
      startedAt: this.startedAt,
      bans: this.bans,
      packages: this.store.list(),
      downloads: [...this.fetcher.downloads.entries()].map(([, d]) => d),
      badChunks: this.badChunks,
      chunkServer: this.chunkServer,
      now: Date.now(),
      heights: this.heights,
    });
    return { ...st, ...(activation ? { activation } : {}), ...this.notes?.status() };
  }
}
