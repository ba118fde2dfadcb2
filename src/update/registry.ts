/**
 * The source registry of one operation (DESIGN.md `update/`): the configured mirrors (mirrors.toml)
 * turned into ranked, live Source objects by a transport table keyed by the one source-kind
 * vocabulary (model/source-kind.ts), plus sources the caller owns (a node's peers). Mirrors whose
 * kind has no transport in this build are listed as skipped, with the reason.
 */
import { readFileSync } from 'node:fs';
import type { EngineSource } from '../download/engine.ts';
import { newHealth, rankSources } from '../download/planner/ranking.ts';
import { defaultPriority, kindOfSeed, type SourceKind } from '../model/source-kind.ts';
import { BitTorrentSource } from '../sources/bittorrent/source.ts';
import { FdroidSource } from '../sources/fdroid.ts';
import { GitHubSource } from '../sources/github.ts';
import { HttpsSource } from '../sources/https.ts';
import type { EmbeddedHelia } from '../sources/ipfs/helia.ts';
import { ipfsMirrorSource } from '../sources/ipfs/mirror.ts';
import type { Source } from '../sources/source.ts';
import type { HomePaths } from '../store/home.ts';
import { loadMirrors, type MirrorConfig, type MirrorRecord } from '../store/mirrors.ts';
import { usesPublicNetwork } from '../store/trust-origin.ts';

/** What a transport may need beyond the record and the TLS roots. */
export interface TransportContext {
  /** Proxy settings (https_proxy, no_proxy) and API tokens web sources read. */
  env: NodeJS.ProcessEnv;
  /** The node's embedded IPFS node (bitswap), started on first use; absent outside a node. */
  ipfs?: () => Promise<EmbeddedHelia>;
}

/**
 * How a mirror record of each kind becomes a Source; kinds absent here have no transport yet. A
 * factory that throws leaves the record out of this operation, listed as skipped with the reason.
 */
const TRANSPORTS: Partial<
  Record<SourceKind, (r: MirrorRecord, ca: string | undefined, ctx: TransportContext) => Source>
> = {
  https: (r, ca, { env }) => new HttpsSource({ url: r.uri, id: r.id, env, ...(ca ? { ca } : {}) }),
  ipfs: (r, ca, ctx) => ipfsMirrorSource(r, ca, ctx.ipfs, ctx.env),
  bittorrent: (r, ca) => new BitTorrentSource({ id: r.id, uri: r.uri, ...(ca ? { ca } : {}) }),
  github: (r, ca, { env }) => new GitHubSource({ url: r.uri, id: r.id, env, ...(ca ? { ca } : {}) }),
  fdroid: (r, ca, { env }) => new FdroidSource({ url: r.uri, id: r.id, env, ...(ca ? { ca } : {}) }),
};

/** True when this build can fetch from mirrors of `kind`. */
export function hasTransport(kind: SourceKind): boolean {
  return TRANSPORTS[kind] !== undefined;
}

export interface LiveMirror {
  record: MirrorRecord;
  source: Source;
}

/** A source the caller brings (not from mirrors.toml): e.g. a node's PeerSource. */
export interface ExtraSource {
  source: Source;
  /** Default: the priority table's entry for the source's kind. */
  priority?: number;
}

export interface SourceRegistry {
  config: MirrorConfig;
  /** Usable mirrors, best first (priority, then measurements and region). */
  live: LiveMirror[];
  /** Sources the caller added (peers), used by downloads beside the mirrors. */
  extra: ExtraSource[];
  /** Configured mirrors this build cannot use (no transport yet), with the reason. */
  skipped: { record: MirrorRecord; reason: string }[];
  close(): Promise<void>;
}

export interface RegistryOptions {
  /** Only sources of this kind (`--source`). */
  kind?: SourceKind;
  /** The process environment (NODE_EXTRA_CA_CERTS is added to the TLS roots explicitly too). */
  env?: NodeJS.ProcessEnv;
  now: number;
  extra?: readonly ExtraSource[];
  /** The node's IPFS node, for `ipfs://CID` mirrors (TransportContext). */
  ipfs?: () => Promise<EmbeddedHelia>;
}

/**
 * The mirrors of `paths` as a registry. On a home whose root came from `trust init`, records the
 * shipped defaults left behind (an `update check` run before `trust init`) are not used: such a
 * home contacts only what add-mirror gave it (spec/CLI.md).
 */
export async function openRegistry(paths: HomePaths, o: RegistryOptions): Promise<SourceRegistry> {
  const config = await loadMirrors(paths);
  if (config.fromFile && !(await usesPublicNetwork(paths)))
    config.mirrors = config.mirrors.filter((m) => m.origin !== 'default');
  return registryFor(config, o);
}

/** How many mirrors of `paths` this build can fetch from now (0 when none, or mirrors.toml is bad). */
export async function usableMirrorCount(paths: HomePaths): Promise<number> {
  try {
    const reg = await openRegistry(paths, { now: 0 });
    await reg.close();
    return reg.live.length;
  } catch {
    return 0;
  }
}

export function registryFor(config: MirrorConfig, o: RegistryOptions): SourceRegistry {
  const ca = extraCa(o.env);
  const live: LiveMirror[] = [];
  const skipped: SourceRegistry['skipped'] = [];
  for (const record of rankRecords(config.mirrors, o.now, config.settings.region)) {
    const kind = kindOfSeed(record.source_type);
    if (o.kind && kind !== o.kind) continue;
    const make = TRANSPORTS[kind];
    if (!make) {
      skipped.push({ record, reason: `no ${record.source_type} transport in this build yet` });
      continue;
    }
    try {
      live.push({
        record,
        source: make(record, ca, { env: o.env ?? {}, ...(o.ipfs ? { ipfs: o.ipfs } : {}) }),
      });
    } catch (err) {
      // One unusable record (a URL its transport cannot read) does not take the others down.
      skipped.push({ record, reason: (err as Error).message });
    }
  }
  const extra = (o.extra ?? []).filter((e) => !o.kind || e.source.type === o.kind);
  return {
    config,
    live,
    extra,
    skipped,
    close: async () => {
      await Promise.all(live.map((m) => m.source.close?.().catch(() => {})));
    },
  };
}

/** The sources of `reg` of one kind (all when `kind` is undefined); closing stays with `reg`. */
export function narrowRegistry(reg: SourceRegistry, kind: SourceKind | undefined): SourceRegistry {
  if (!kind) return reg;
  return {
    ...reg,
    live: reg.live.filter((m) => m.source.type === kind),
    extra: reg.extra.filter((e) => e.source.type === kind),
  };
}

/** Records in planner order: priority, then measured latency/throughput, region, failures. */
export function rankRecords(records: readonly MirrorRecord[], now: number, region?: string): MirrorRecord[] {
  const byId = new Map(records.map((r) => [r.id, r]));
  const healths = records.map((r) =>
    newHealth(r.id, r.priority, {
      ...(r.region !== undefined ? { region: r.region } : {}),
      ...(r.latency_ms !== undefined ? { latencyMs: r.latency_ms } : {}),
      ...(r.throughput_bps !== undefined ? { throughputBps: r.throughput_bps } : {}),
      failureCount: r.failure_count,
    }),
  );
  return rankSources(healths, now, region).map((h) => byId.get(h.id) as MirrorRecord);
}

/** Every source of the registry as the download engine takes them: mirrors and peers together. */
export function engineSources(reg: Pick<SourceRegistry, 'live' | 'extra'>): EngineSource[] {
  return [
    ...reg.live.map(({ record, source }) => ({
      source,
      priority: record.priority,
      failureCount: record.failure_count,
      ...(record.region !== undefined ? { region: record.region } : {}),
      ...(record.latency_ms !== undefined ? { latencyMs: record.latency_ms } : {}),
      ...(record.throughput_bps !== undefined ? { throughputBps: record.throughput_bps } : {}),
    })),
    ...reg.extra.map((e) => ({ source: e.source, priority: e.priority ?? defaultPriority(e.source.type) })),
  ];
}

function extraCa(env: NodeJS.ProcessEnv | undefined): string | undefined {
  const file = env?.NODE_EXTRA_CA_CERTS;
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
