/**
 * The update service (DESIGN.md `update/`): the use cases the CLI and the node share, each a
 * straight line through the layers: open the source registry, discover (TUF refresh through the
 * mirrors), download (mirrors and the node's peers together), verify; mirror health committed once
 * per operation. Callers parse arguments and render; they never assemble sources themselves.
 * Install and rollback (the activation supervisor) build on `download`'s result: a verified file
 * at `result.path` with its signed target.
 */

import { DchatError } from '../errors.ts';
import type { PackageTarget } from '../model/package.ts';
import { kindOfSeed, type SourceKind } from '../model/source-kind.ts';
import type { EmbeddedHelia } from '../sources/ipfs/helia.ts';
import type { HomePaths } from '../store/home.ts';
import type { MirrorSettings } from '../store/mirrors.ts';
import { findPackage, listPackages } from '../trust/package-check.ts';
import type { TrustedSet } from '../trust/trusted-set.ts';
import type { DeltaUse, DeltaWarning } from './delta.ts';
import type { Discovery } from './discover.ts';
import type { DownloadEvent, DownloadTuning, Fetched } from './download.ts';
import type { PrunedMirror, RunHealth } from './health.ts';
import type { ExtraSource, SourceRegistry } from './registry.ts';
import type { Verified, VerifyRequest } from './verify.ts';

/**
 * The fetching side (source registry, every transport, the download engine, mirror health), loaded
 * by the operations that fetch: `update verify` is offline and loads none of it (undici and the
 * sources are ~250 modules, ~0.1 s of every verify's start here).
 */
const fetching = async () => {
  const [attestations, delta, discover, download, health, registry] = await Promise.all([
    import('./attestations.ts'),
    import('./delta.ts'),
    import('./discover.ts'),
    import('./download.ts'),
    import('./health.ts'),
    import('./registry.ts'),
  ]);
  return { ...attestations, ...delta, ...discover, ...download, ...health, ...registry };
};

/** Mirrors pruned by the health record of a failed operation, and the threshold that pruned them. */
export type OnPruned = (pruned: PrunedMirror[], pruneAfter: number) => void;

export interface UpdateServiceInit {
  paths: HomePaths;
  /** The process environment (TLS roots for HTTPS mirrors). */
  env?: NodeJS.ProcessEnv;
  /** Reference time of trust decisions (DCHAT_FAKE_NOW in tests). */
  clock: () => Date;
  /** Sources beyond mirrors.toml, asked at each operation: a node's peers. */
  extraSources?: () => ExtraSource[];
  /** A node's embedded IPFS node, for `ipfs://CID` mirrors (bitswap). */
  ipfs?: () => Promise<EmbeddedHelia>;
}

/** What discovery found, for check and list-versions. */
export interface Checked {
  discovery: Discovery;
  packages: PackageTarget[];
  pruned: PrunedMirror[];
  pruneAfter: number;
}

export interface DownloadRequest extends DownloadTuning {
  version: string;
  platform: string;
  /** Only sources of this kind (`--source`). */
  kind?: SourceKind;
  signal?: AbortSignal;
  onEvent?: (e: DownloadEvent) => void;
  /** Mirrors pruned by a failed download's health record (a successful one returns them). */
  onPruned?: OnPruned;
  /** Called once the target is known, before any byte is fetched (for a header line). */
  onStart?: (info: { target: PackageTarget; mirrors: number; peers: number }) => void;
  /** A patch or compressed copy that failed: the full package is fetched instead. */
  onDeltaWarning?: (w: DeltaWarning) => void;
}

export interface Downloaded extends Fetched {
  target: PackageTarget;
  /** Present when the CLI refreshed trust through the mirrors first. */
  discovery?: Discovery;
  settings: MirrorSettings;
  pruned: PrunedMirror[];
  /** Set when an encoded target (a patch, the compressed package) made the package. */
  delta?: DeltaUse;
  deltaWarnings: DeltaWarning[];
  /** Rebuild attestations fetched beside the package (update/attestations.ts), if a mirror had any. */
  attestations?: { from: string | null; lines: number };
}

export class UpdateService {
  private readonly init: UpdateServiceInit;

  constructor(init: UpdateServiceInit) {
    this.init = init;
  }

  get paths(): HomePaths {
    return this.init.paths;
  }

  private async open(kind?: SourceKind): Promise<SourceRegistry> {
    const { openRegistry } = await fetching();
    return openRegistry(this.init.paths, {
      now: this.init.clock().getTime(),
      ...(this.init.env ? { env: this.init.env } : {}),
      ...(kind ? { kind } : {}),
      extra: this.init.extraSources?.() ?? [],
      ...(this.init.ipfs ? { ipfs: this.init.ipfs } : {}),
    });
  }

  /** `update check` / `list-versions`: refresh trust through the mirrors, list trusted packages. */
  async check(o: { signal?: AbortSignal; onPruned?: OnPruned } = {}): Promise<Checked> {
    const { discover, RunHealth } = await fetching();
    const reg = await this.open();
    const health = new RunHealth();
    const now = this.init.clock();
    try {
      const discovery = await discover(this.init.paths, reg, health, now, o.signal);
      const pruned = await health.commit(this.init.paths, now);
      return {
        discovery,
        packages: listPackages(discovery.trusted.requireTargets()),
        pruned,
        pruneAfter: reg.config.settings.prune_after_failures,
      };
    } catch (err) {
      o.onPruned?.(
        await health.commit(this.init.paths, now).catch(() => []),
        reg.config.settings.prune_after_failures,
      );
      throw err;
    } finally {
      await reg.close();
    }
  }

  /**
   * `update download`: refresh trust through the mirrors, then fetch the target from every source
   * (mirrors and extra sources). Health is committed once at the end, whatever the outcome.
   */
  async download(r: DownloadRequest): Promise<Downloaded> {
    const { discover, fetchAttestations, hasTransport, narrowRegistry, RunHealth } = await fetching();
    if (r.kind && r.kind !== 'peer' && !hasTransport(r.kind))
      throw new DchatError(
        'E_NO_SOURCE',
        `--source ${r.kind}: this build has no ${r.kind} transport yet (use https)`,
      );
    // Trust is refreshed through every mirror that serves metadata; `kind` narrows the bytes only
    // (IPFS, BitTorrent... carry packages, not the TUF repository).
    const reg = await this.open();
    const health = new RunHealth();
    const now = () => this.init.clock();
    try {
      const discovery = await discover(this.init.paths, reg, health, now(), r.signal);
      const out = await this.fetch(narrowRegistry(reg, r.kind), discovery.trusted, r, health);
      const pruned = await health.commit(this.init.paths, now());
      const attestations = await fetchAttestations(this.init.paths, reg, out.target.path, r.signal);
      return { ...out, discovery, pruned, attestations };
    } catch (err) {
      r.onPruned?.(
        await health.commit(this.init.paths, now()).catch(() => []),
        reg.config.settings.prune_after_failures,
      );
      throw interruption(r.signal) ?? err;
    } finally {
      await reg.close();
    }
  }

  /**
   * A node's download: trust as the node holds it (gossip keeps it current; no refresh), bytes
   * from the configured mirrors and the node's peers together.
   */
  async downloadTrusted(trusted: TrustedSet, r: DownloadRequest): Promise<Downloaded> {
    const { RunHealth } = await fetching();
    const reg = await this.open(r.kind);
    const health = new RunHealth();
    try {
      const out = await this.fetch(reg, trusted, r, health);
      const pruned = await health.commit(this.init.paths, this.init.clock());
      return { ...out, pruned };
    } catch (err) {
      r.onPruned?.(
        await health.commit(this.init.paths, this.init.clock()).catch(() => []),
        reg.config.settings.prune_after_failures,
      );
      throw interruption(r.signal) ?? err;
    } finally {
      await reg.close();
    }
  }

  private async fetch(
    reg: SourceRegistry,
    trusted: TrustedSet,
    r: DownloadRequest,
    health: RunHealth,
  ): Promise<Omit<Downloaded, 'pruned' | 'discovery'>> {
    const { engineSources, fetchTarget, tryEncoded } = await fetching();
    const target = findPackage(trusted.requireTargets(), r.version, r.platform);
    if (r.kind && engineSources(reg).length === 0) {
      const skipped = reg.skipped.filter((m) => kindOfSeed(m.record.source_type) === r.kind);
      const why = skipped.map((m) => `; ${m.record.uri}: ${m.reason}`).join('');
      throw new DchatError(
        'E_NO_SOURCE',
        `no ${r.kind} source to fetch ${target.path} from (no ${r.kind} mirror usable here${why})`,
      );
    }
    r.onStart?.({ target, mirrors: reg.live.length, peers: reg.extra.length });
    const attempt = await tryEncoded(this.init.paths, reg, trusted, target, health, {
      ...r,
      ...(r.onDeltaWarning ? { onWarning: r.onDeltaWarning } : {}),
    });
    const fetched = attempt.fetched ?? (await fetchTarget(this.init.paths, reg, trusted, target, health, r));
    return {
      ...fetched,
      target,
      settings: reg.config.settings,
      ...(attempt.used ? { delta: attempt.used } : {}),
      deltaWarnings: attempt.warnings,
    };
  }

  /** The releases the stored trusted metadata lists, offline (none when nothing is trusted yet). */
  async trustedOffline(): Promise<PackageTarget[]> {
    const { trustOffline } = await import('../download/trust-session.ts');
    try {
      const trusted = await trustOffline(this.init.paths, this.init.clock());
      return trusted.targets ? listPackages(trusted.targets) : [];
    } catch (err) {
      if (err instanceof DchatError && (err.code === 'E_NOT_INITIALIZED' || err.code === 'E_NOT_FOUND'))
        return [];
      throw err;
    }
  }

  /** `update verify`: offline, or after a TUF update from a repository directory. */
  async verify(r: VerifyRequest): Promise<Verified> {
    const { verifyPackage } = await import('./verify.ts');
    return verifyPackage(this.init.paths, r, this.init.clock());
  }
}

/** What stopped an aborted operation, when the caller said (a signal, a deadline): that, not E_ABORTED. */
function interruption(signal: AbortSignal | undefined): DchatError | undefined {
  const reason: unknown = signal?.aborted ? signal.reason : undefined;
  return reason instanceof DchatError ? reason : undefined;
}
