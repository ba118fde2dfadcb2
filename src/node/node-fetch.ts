/**
 * The node's package downloads (daemon.ts wires it): with --prefetch, the highest trusted release
 * for the node's platform, retried with backoff; on request (control method `download`), one
 * package. Each goes through the update service with the configured mirrors and the peers that
 * hold it together, then is indexed for serving (peers, IPFS, BitTorrent) and announced locally.
 * Which peers hold what comes from PeerHoldings (asked over the chunk protocol).
 */
import type { PeerId } from '@libp2p/interface';
import type { Logger } from 'pino';
import { DchatError, toDchatError } from '../errors.ts';
import type { BanList } from '../gossip/libp2p/adapter.ts';
import type { ChunkClient } from '../gossip/libp2p/chunks.ts';
import { report } from '../metrics/sink.ts';
import type { ControlParams, ControlResult } from '../model/control.ts';
import type { PackageTarget } from '../model/package.ts';
import { isSourceKind, type SourceKind } from '../model/source-kind.ts';
import { compareVersions } from '../model/version.ts';
import type { PeerSource } from '../sources/peer.ts';
import type { HomePaths } from '../store/home.ts';
import { findPackage, listPackages } from '../trust/package-check.ts';
import type { TrustedSet } from '../trust/trusted-set.ts';
import type { UpdateService } from '../update/service.ts';
import { Lru } from '../util/lru.ts';
import { sleep } from '../util/sleep.ts';
import type { NodeIpfs } from './ipfs.ts';
import type { DchatLibp2p } from './libp2p.ts';
import type { DownloadRecord, NodeConfig } from './node-config.ts';
import type { PackageStore, StoredPackage } from './package-store.ts';
import { adoptPackage, expectWithEncodings, fetchedInfo } from './peer-download.ts';
import { PeerHoldings } from './peer-holdings.ts';

/** Loaded at the first download (an idle node never loads the update machinery). */
const loadRegistry = () => import('../update/registry.ts');

/** Downloads with --prefetch are retried at most this many times per trigger. */
const MAX_FETCH_ATTEMPTS = 60;
/** Download records kept for `node status`, the newest: one per release, as long as a node runs. */
const MAX_DOWNLOAD_RECORDS = 16;

/** What the fetcher uses of the node (parts that start and stop with it are read when needed). */
export interface FetcherHost {
  config: NodeConfig;
  paths: HomePaths;
  store: PackageStore;
  log: Logger;
  bans: BanList;
  stopSignal: AbortSignal;
  stopping(): boolean;
  trustOffline(): Promise<TrustedSet | undefined>;
  reload(): Promise<void>;
  updateService(): Promise<UpdateService>;
  libp2p(): DchatLibp2p | undefined;
  chunkClient(): ChunkClient | undefined;
  peerSource(): PeerSource | undefined;
  ipfs(): NodeIpfs | undefined;
  /** A package was downloaded, verified and stored. */
  verified(target: string): void;
}

export class PackageFetcher {
  /** Downloads this run, by target (node status), the least recent first. */
  readonly downloads = new Lru<string, DownloadRecord>(MAX_DOWNLOAD_RECORDS);
  private readonly host: FetcherHost;
  private readonly holdings = new PeerHoldings();
  private fetching = false;

  constructor(host: FetcherHost) {
    this.host = host;
  }

  /** Connected, unbanned peers known (or not yet known not) to hold `target`. */
  peersHolding(target?: string): PeerId[] {
    const node = this.host.libp2p();
    return node ? this.holdings.holding(node, this.host.bans, target) : [];
  }

  private async refreshHoldings(): Promise<void> {
    const node = this.host.libp2p();
    const client = this.host.chunkClient();
    if (node && client) await this.holdings.refresh(node, client, Date.now());
  }

  /**
   * With --prefetch: downloads the highest trusted release for our platform if we lack it, with
   * backoff, at most MAX_FETCH_ATTEMPTS times per call (a new peer or release calls it again).
   */
  async maybeFetch(): Promise<void> {
    if (!this.host.config.prefetch || this.fetching || this.host.stopping()) return;
    this.fetching = true;
    try {
      for (let attempt = 0; attempt < MAX_FETCH_ATTEMPTS && !this.host.stopping(); attempt++) {
        const trusted = await this.host.trustOffline();
        const target = trusted ? this.wanted(trusted) : undefined;
        report.autoCheck();
        if (!trusted || !target) return;
        const rec: DownloadRecord = this.downloads.peek(target.path) ?? {
          target: target.path,
          version: target.custom.version,
          state: 'downloading',
          attempts: 0,
        };
        this.downloads.set(target.path, rec);
        rec.attempts++;
        rec.state = 'downloading';
        try {
          const got = await this.fetchPackage(trusted, target, 120_000, this.host.config.prefetchSource);
          rec.state = 'verified';
          report.autoDownload();
          delete rec.error;
          rec.peers = got.peers;
          rec.sources = Object.fromEntries(got.sources.map((s) => [s.url, s.bytes]));
          this.host.log.info(
            { target: got.stored.target.path, sources: rec.sources },
            'package downloaded and verified',
          );
        } catch (err) {
          const e = toDchatError(err);
          rec.state = 'failed';
          rec.error = `${e.code}: ${e.message}`;
          this.host.log.info({ target: target.path, error: rec.error }, 'download failed; will retry');
          try {
            await sleep(Math.min(5000, 250 * 2 ** Math.min(attempt, 5)), this.host.stopSignal);
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
    const source = this.host.peerSource() as PeerSource;
    const peers = this.peersHolding(target.path).length;
    const mirrors = only === 'peer' ? 0 : await (await loadRegistry()).usableMirrorCount(this.host.paths);
    if (peers === 0 && mirrors === 0)
      throw new DchatError(
        'E_NO_SOURCE',
        `no connected peer holds ${target.path} yet, and no mirror is configured`,
      );
    expectWithEncodings(source, trusted, target);
    const before = new Map([...source.received].map(([id, st]) => [id, st.bytes]));
    const d = await (await this.host.updateService()).downloadTrusted(trusted, {
      version: target.custom.version,
      platform: target.custom.platform,
      ...(only ? { kind: only } : {}),
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.host.stopSignal]),
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
    const stored = await adoptPackage(this.host.paths, this.host.store, target, origin);
    stored.fetched = fetchedInfo(d);
    if (d.delta) await this.host.store.scanEncoded(trusted);
    // Serving it (IPFS import, BitTorrent seeding) starts once the caller has its answer: loading
    // Helia or webtorrent blocks this thread for seconds the first time.
    setImmediate(() => {
      if (this.host.stopping()) return;
      // With the patch it came through, now kept and indexed (scanEncoded above).
      void this.host.ipfs()?.provideAll([stored, ...this.host.store.listEncoded()]);
      this.host.verified(stored.target.path);
    });
    const byPeer = Object.fromEntries(
      [...source.received]
        .map(([id, st]) => [id, st.bytes - (before.get(id) ?? 0)] as const)
        .filter(([, n]) => n > 0),
    );
    return { stored, source: origin, peers: byPeer, sources };
  }

  /** One package on request (control method `download`), with the engine's checks. */
  async downloadRequested(p: ControlParams<'download'>): Promise<ControlResult<'download'>> {
    await this.host.reload();
    const trusted = await this.host.trustOffline();
    if (!trusted) throw new DchatError('E_NOT_INITIALIZED', 'this node trusts no release metadata yet');
    const target = findPackage(trusted.requireTargets(), p.version, p.platform);
    const have = this.host.store.get(target.path);
    if (have) return { path: have.file, target: target.path, source: 'cache', peers: {}, sources: [] };
    const { stored, ...got } = await this.fetchPackage(trusted, target, 600_000, p.only);
    return { path: stored.file, target: target.path, ...got };
  }

  private wanted(trusted: TrustedSet): PackageTarget | undefined {
    const targets = trusted.targets;
    if (!targets) return undefined;
    const mine = listPackages(targets).filter((t) => t.custom.platform === this.host.config.platform);
    const best = mine.sort((a, b) => compareVersions(b.custom.version, a.custom.version))[0];
    if (!best || this.host.store.get(best.path)) return undefined;
    return best;
  }
}
