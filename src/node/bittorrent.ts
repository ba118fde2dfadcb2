/**
 * The node's BitTorrent side (issue 12): it seeds every verified package, and every kept encoded
 * target (a patch: issue 14, checked by the PackageStore), whose signed target records a BitTorrent
 * info hash (`custom.btih`, written by `release publish`), and optionally runs
 * a tracker (`--tracker HOST:PORT`). The .torrent is rebuilt from the verified file (the info
 * dictionary depends only on the name, the bytes and the piece length), and seeded only when the
 * rebuild's info hash equals the signed one; the pieces were just hashed, so WebTorrent is told
 * not to re-check them (and, every piece being present, it never writes into packages/).
 *
 * Trackers announced to: those in the signed magnet (the publisher's `--announce`), those the
 * operator gives (`--bt-announce`), and the node's own tracker. No public tracker, no DHT.
 * Nothing is loaded or opened when there is neither a tracker to run nor one to announce to.
 */
import { dirname } from 'node:path';
import type { Metadata, Targets } from '@tufjs/models';
import type { Logger } from 'pino';
import { toDchatError } from '../errors.ts';
import type { PackageTarget } from '../model/package.ts';
import { makeTorrent } from '../release/torrent.ts';
import { createClient, destroyClient, type WebTorrent } from '../sources/bittorrent/client.ts';
import { type RunningTracker, startTracker } from '../sources/bittorrent/tracker.ts';
import { listEncoded } from '../trust/encoded-targets.ts';
import { listPackages } from '../trust/package-check.ts';

export interface BitTorrentNodeConfig {
  /** Run a tracker here (host, port; port 0 for any). */
  tracker?: { host: string; port: number };
  /** Tracker announce URLs to seed through, beside the signed magnet's and our own. */
  announce?: string[];
  /** TCP port of the seeding client (0: any). */
  port?: number;
}

export interface SeedablePackage {
  target: PackageTarget;
  file: string;
}

export interface SeedingStatus {
  tracker?: string;
  torrents: { target: string; info_hash: string; peers: number; uploaded: number }[];
}

/** Announce URLs (tr=) of a magnet link. */
export function magnetTrackers(magnet: string | undefined): string[] {
  if (!magnet) return [];
  try {
    return new URL(magnet).searchParams.getAll('tr');
  } catch {
    return [];
  }
}

/**
 * The info hashes the node's tracker takes announces for: those the trusted targets sign, of
 * packages and of encoded targets (patches, compressed packages), which nodes seed alike.
 */
export function signedInfoHashes(targets: Metadata<Targets>): Set<string> {
  const all = [
    ...listPackages(targets).map((p) => p.custom.btih),
    ...listEncoded(targets).map((e) => e.custom.btih),
  ];
  return new Set(all.filter((h): h is string => h !== undefined));
}

export class BitTorrentSeeder {
  private readonly config: BitTorrentNodeConfig;
  private readonly log: Logger;
  private tracker: RunningTracker | undefined;
  private client: WebTorrent | undefined;
  private readonly seeding = new Map<string, { target: string; infoHash: string }>();
  private readonly refused = new Set<string>();
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(config: BitTorrentNodeConfig, log: Logger) {
    this.config = config;
    this.log = log;
  }

  /** Starts the tracker if one is configured (a taken port fails the node's start). */
  async start(allow: (infoHash: string) => boolean | Promise<boolean>): Promise<void> {
    const t = this.config.tracker;
    if (!t) return;
    this.tracker = await startTracker(t.host, t.port, allow);
    this.log.info({ announce: this.tracker.announceUrl }, 'BitTorrent tracker listening');
  }

  get trackerUrl(): string | undefined {
    return this.tracker?.announceUrl;
  }

  /**
   * Seeds each package not seeded yet, and stops seeding those no longer listed (pruned to keep-N,
   * or no longer trusted: their files may be gone). One pass at a time; failures are logged, not thrown.
   */
  sync(packages: readonly SeedablePackage[]): Promise<void> {
    this.chain = this.chain.then(async () => {
      const listed = new Set(packages.map((p) => p.target.custom.btih));
      for (const [btih, s] of this.seeding) if (!listed.has(btih)) await this.unseed(btih, s.target);
      for (const p of packages) {
        if (this.stopped) return;
        const btih = p.target.custom.btih;
        if (!btih || this.seeding.has(btih) || this.refused.has(btih)) continue;
        try {
          await this.seed(p, btih);
        } catch (err) {
          const e = toDchatError(err);
          this.refused.add(btih);
          this.log.warn({ target: p.target.path, error: `${e.code}: ${e.message}` }, 'cannot seed package');
        }
      }
    });
    return this.chain;
  }

  private async seed(p: SeedablePackage, btih: string): Promise<void> {
    const announce = [
      ...new Set([
        ...magnetTrackers(p.target.custom.magnet),
        ...(this.config.announce ?? []),
        ...(this.tracker ? [this.tracker.announceUrl] : []),
      ]),
    ];
    if (announce.length === 0) return;
    const made = await makeTorrent({
      file: p.file,
      name: p.target.path,
      size: p.target.length,
      announce,
      baseUrls: p.target.custom.sources ?? [],
    });
    if (made.infoHash !== btih) {
      this.refused.add(btih);
      this.log.warn(
        { target: p.target.path, signed: btih, rebuilt: made.infoHash },
        'the rebuilt .torrent does not match the signed info hash (another piece length or name?); not seeding',
      );
      return;
    }
    this.client ??= await createClient(this.config.port ?? 0);
    const client = this.client;
    await new Promise<void>((resolve, reject) => {
      const t = client.add(made.torrent, { path: dirname(p.file), skipVerify: true, announce });
      t.once('error', reject);
      t.once('ready', () => {
        t.removeListener('error', reject);
        t.on('error', (err: Error) =>
          this.log.warn({ target: p.target.path, error: err.message }, 'seeding error'),
        );
        resolve();
      });
    });
    this.seeding.set(btih, { target: p.target.path, infoHash: btih });
    this.log.info({ target: p.target.path, info_hash: btih, announce }, 'seeding over BitTorrent');
  }

  /** Leaves the torrent (its file is not touched: packages/ and encoded/ own their files). */
  private async unseed(btih: string, target: string): Promise<void> {
    this.seeding.delete(btih);
    const client = this.client;
    if (!client) return;
    // Resolves once the torrent is destroyed; rejects at once when the client no longer has it.
    await new Promise<void>((resolve) => {
      client.remove(btih, { destroyStore: false }, () => resolve()).catch(() => resolve());
    });
    this.log.info({ target, info_hash: btih }, 'no longer seeding over BitTorrent');
  }

  status(): SeedingStatus {
    const torrents = (this.client?.torrents ?? []).map((t) => ({
      target: this.seeding.get(t.infoHash)?.target ?? t.name,
      info_hash: t.infoHash,
      peers: t.numPeers,
      uploaded: t.uploaded,
    }));
    return { ...(this.tracker ? { tracker: this.tracker.announceUrl } : {}), torrents };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.chain.catch(() => {});
    if (this.client) await destroyClient(this.client);
    await this.tracker?.close();
  }
}
