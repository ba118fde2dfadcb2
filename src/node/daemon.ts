/**
 * The dchat node (composition root, DESIGN.md `node/`): libp2p with a persistent identity, the
 * gossip adapter over the pure core, peer transfer (serving verified packages, fetching from
 * peers), the local control socket and $DCHAT_HOME/node/state.json. Startable: `start()` brings
 * every part up or throws with nothing left running; `stop()` undoes it in reverse order.
 * Just over 500 lines: it only wires parts that live in their own modules (a line or two each).
 */
import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PeerId } from '@libp2p/interface';
import type { Logger } from 'pino';
import { DchatError, toDchatError } from '../errors.ts';
import { BanList, GossipService } from '../gossip/libp2p/adapter.ts';
import { ChunkClient, ChunkServer } from '../gossip/libp2p/chunks.ts';
import { report } from '../metrics/sink.ts';
import type { ControlParams, ControlResult, StatusResult } from '../model/control.ts';
import type { DownloadSource } from '../model/download-source.ts';
import type { GovernanceStatusResult } from '../model/governance-control.ts';
import type { PackageTarget } from '../model/package.ts';
import { isSourceKind, type SourceKind } from '../model/source-kind.ts';
import { compareVersions } from '../model/version.ts';
import { PeerSource } from '../sources/peer.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { loadDefaultRoot } from '../store/default-root.ts';
import { GovernanceStore } from '../store/governance-store.ts';
import type { HomePaths } from '../store/home.ts';
import { persistLearnedMirrors } from '../store/learned-mirrors.ts';
import { loadMirrors } from '../store/mirrors.ts';
import { FileTrustStore } from '../store/trust-store.ts';
import { parseMetadata } from '../trust/metadata.ts';
import { findPackage, listPackages } from '../trust/package-check.ts';
import type { TrustedSet } from '../trust/trusted-set.ts';
import { loadTrustOffline } from '../trust/updater.ts';
import type { UpdateService } from '../update/service.ts';
import { sleep } from '../util/sleep.ts';
import { type NodeActivation, startNodeActivation } from './activation-node.ts';
import { type ActivationNotes, createActivationNotes } from './activation-notes.ts';
import { AttestationGossip } from './attestation-gossip.ts';
import { BitTorrentSeeder } from './bittorrent.ts';
import { ControlServer, protocolHandlers } from './control.ts';
import { GovernanceService, governanceHandlers } from './governance-service.ts';
import { NodeHeights } from './heights.ts';
import { loadOrCreateIdentity } from './identity.ts';
import { NodeIpfs } from './ipfs.ts';
import { bootstrapToDial, createNodeLibp2p, type DchatLibp2p } from './libp2p.ts';
import { listenError } from './listen-error.ts';
import type { DownloadRecord, NodeConfig, NodeState } from './node-config.ts';
import { PackageStore, type StoredPackage } from './package-store.ts';
import { partition } from './partition.ts';
import { adoptPackage, expectWithEncodings, fetchedInfo } from './peer-download.ts';
import { PeerHoldings } from './peer-holdings.ts';
import { renderStatus } from './status.ts';

/**
 * Loaded at the first download, not at start: the update service brings the download engine, the
 * HTTPS sources and undici (about a fifth of the modules), which an idle node never runs (DESIGN.md,
 * performance targets: idle node RSS). test/node/idle-footprint.test.ts guards it.
 */
const loadUpdates = () => import('../update/service.ts');
const loadRegistry = () => import('../update/registry.ts');

/** Learned mirrors are written to mirrors.toml at most this often. */
const MIRRORS_PERSIST_DELAY_MS = 500;
/** Prefetch attempts per trigger (start, a release accepted, a peer connected), backoff included. */
const MAX_FETCH_ATTEMPTS = 60;

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
  private readonly holdings = new PeerHoldings();
  private readonly downloads = new Map<string, DownloadRecord>();
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
        download: async (p) => this.downloadRequested(p),
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
          if (r.via !== 'local') void this.maybeFetch();
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
        peers: (target) => this.peersHolding(target),
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
      node.addEventListener('peer:connect', () => void this.maybeFetch());
      this.redial();
      // Verified releases published with a CID are provided over IPFS (this starts Helia); a node
      // told to fetch over IPFS starts it now, once up, rather than at the first release.
      void this.ipfs.provideAll(this.store.list());
      if (this.config.prefetchSource === 'ipfs') void this.ipfs.node().catch(() => {});
      void this.maybeFetch();
      const download = (version: string) =>
        this.downloadRequested({ version, platform: this.config.platform });
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
      return !!targets && listPackages(targets).some((t) => t.custom.btih === ih);
    });
    const sync = () => void this.bt?.sync(this.store.list());
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

  // ---- peer transfer ------------------------------------------------------------------------

  /** Connected, unbanned peers known (or not yet known not) to hold `target`. */
  private peersHolding(target?: string): PeerId[] {
    return this.libp2p ? this.holdings.holding(this.libp2p, this.bans, target) : [];
  }

  private async refreshHoldings(): Promise<void> {
    if (this.libp2p && this.chunkClient)
      await this.holdings.refresh(this.libp2p, this.chunkClient, Date.now());
  }

  private fetching = false;

  /**
   * With --prefetch: downloads the highest trusted release for our platform if we lack it, with
   * backoff, at most MAX_FETCH_ATTEMPTS times per call (a new peer or release calls it again).
   */
  private async maybeFetch(): Promise<void> {
    if (!this.config.prefetch || this.fetching || this.stopping) return;
    this.fetching = true;
    try {
      for (let attempt = 0; attempt < MAX_FETCH_ATTEMPTS && !this.stopping; attempt++) {
        const trusted = await this.trustOffline();
        const target = trusted ? this.wanted(trusted) : undefined;
        report.autoCheck();
        if (!trusted || !target) return;
        const rec: DownloadRecord = this.downloads.get(target.path) ?? {
          target: target.path,
          version: target.custom.version,
          state: 'downloading',
          attempts: 0,
        };
        this.downloads.set(target.path, rec);
        rec.attempts++;
        rec.state = 'downloading';
        try {
          const got = await this.fetchPackage(trusted, target, 120_000, this.config.prefetchSource);
          rec.state = 'verified';
          report.autoDownload();
          delete rec.error;
          rec.peers = got.peers;
          rec.sources = Object.fromEntries(got.sources.map((s) => [s.url, s.bytes]));
          this.log.info(
            { target: got.stored.target.path, sources: rec.sources },
            'package downloaded and verified',
          );
        } catch (err) {
          const e = toDchatError(err);
          rec.state = 'failed';
          rec.error = `${e.code}: ${e.message}`;
          this.log.info({ target: target.path, error: rec.error }, 'download failed; will retry');
          try {
            await sleep(Math.min(5000, 250 * 2 ** Math.min(attempt, 5)), this.stopSignal.signal);
          } catch {
            // util/sleep rejects when stop() aborts the wait; stop() has set `stopping` first,
            // so ending here is what the loop's own check would do one line later.
            return;
          }
        }
      }
    } finally {
      this.fetching = false;
    }
  }

  /**
   * Downloads `target` through the update service: the configured mirrors and the peers that hold
   * it, together (`only` narrows to one kind). Then indexes it for serving and announces it locally.
   */
  private async fetchPackage(
    trusted: TrustedSet,
    target: PackageTarget,
    timeoutMs: number,
    only?: SourceKind,
  ): Promise<{ stored: StoredPackage } & Omit<ControlResult<'download'>, 'path' | 'target'>> {
    await this.refreshHoldings();
    const source = this.peerSource as PeerSource;
    const peers = this.peersHolding(target.path).length;
    const mirrors = only === 'peer' ? 0 : await (await loadRegistry()).usableMirrorCount(this.paths);
    if (peers === 0 && mirrors === 0)
      throw new DchatError(
        'E_NO_SOURCE',
        `no connected peer holds ${target.path} yet, and no mirror is configured`,
      );
    expectWithEncodings(source, trusted, target);
    const before = new Map([...source.received].map(([id, st]) => [id, st.bytes]));
    const d = await (await this.updateService()).downloadTrusted(trusted, {
      version: target.custom.version,
      platform: target.custom.platform,
      ...(only ? { kind: only } : {}),
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.stopSignal.signal]),
    });
    const sources = d.result.sources.flatMap((r) =>
      r.bytes > 0 && isSourceKind(r.type)
        ? [{ url: r.uri, type: r.type, bytes: r.bytes, chunks: r.chunks }]
        : [],
    );
    // Where the bytes came from: the kind that delivered the most (the cache when none moved).
    const kinds = new Map<SourceKind, number>();
    for (const s of sources) kinds.set(s.type, (kinds.get(s.type) ?? 0) + s.bytes);
    const origin = [...kinds].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'cache';
    const stored = await adoptPackage(this.paths, this.store, target, origin);
    stored.fetched = fetchedInfo(d);
    if (d.delta) await this.store.scanEncoded(trusted);
    // Serving it (IPFS import, BitTorrent seeding) starts once the caller has its answer: loading
    // Helia or webtorrent blocks this thread for seconds the first time.
    setImmediate(() => {
      if (this.stopping) return;
      void this.ipfs?.provide(stored);
      this.emit('package:verified', stored.target.path);
    });
    const byPeer = Object.fromEntries(
      [...source.received]
        .map(([id, st]) => [id, st.bytes - (before.get(id) ?? 0)] as const)
        .filter(([, n]) => n > 0),
    );
    return { stored, source: origin, peers: byPeer, sources };
  }

  /** One package on request (control method `download`), with the engine's checks. */
  private async downloadRequested(p: ControlParams<'download'>): Promise<ControlResult<'download'>> {
    await this.reload();
    const trusted = await this.trustOffline();
    if (!trusted) throw new DchatError('E_NOT_INITIALIZED', 'this node trusts no release metadata yet');
    const target = findPackage(trusted.requireTargets(), p.version, p.platform);
    const have = this.store.get(target.path);
    if (have) return { path: have.file, target: target.path, source: 'cache', peers: {}, sources: [] };
    const { stored, ...got } = await this.fetchPackage(trusted, target, 600_000, p.only);
    return { path: stored.file, target: target.path, ...got };
  }

  private wanted(trusted: TrustedSet): PackageTarget | undefined {
    const targets = trusted.targets;
    if (!targets) return undefined;
    const mine = listPackages(targets).filter((t) => t.custom.platform === this.config.platform);
    const best = mine.sort((a, b) => compareVersions(b.custom.version, a.custom.version))[0];
    if (!best || this.store.get(best.path)) return undefined;
    return best;
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
      downloads: [...this.downloads.values()],
      badChunks: this.badChunks,
      chunkServer: this.chunkServer,
      now: Date.now(),
      heights: this.heights,
    });
    return { ...st, ...(activation ? { activation } : {}), ...this.notes?.status() };
  }
}
