/**
 * The configured mirrors as live sources for one command: mirrors.toml records turned into ranked
 * Source objects, the TUF refresh through them, and the run's outcomes written back as health
 * (last_success, failure_count, measured latency and throughput) with automatic pruning.
 */
import { readFileSync } from 'node:fs';
import { DchatError } from '../errors.ts';
import type { SeedSourceType } from '../model/download-source.ts';
import { HttpsSource } from '../sources/https.ts';
import { type SourcesUpdate, updateTrustFromSources } from '../sources/mirror-fetcher.ts';
import type { Source } from '../sources/source.ts';
import type { HomePaths } from '../store/home.ts';
import { loadMirrors, type MirrorConfig, type MirrorRecord, updateMirrors } from '../store/mirrors.ts';
import type { EngineSource, SourceReport } from './engine.ts';
import { applyOutcomes, type MirrorOutcome, type PrunedMirror } from './planner/pruning.ts';
import { newHealth, rankSources } from './planner/ranking.ts';
import { openTrustStore } from './trust-session.ts';

/** `--source` spelling to seed source type. */
export const SOURCE_FLAG_TYPES: Record<string, SeedSourceType> = {
  https: 'HttpsMirror',
  ipfs: 'Ipfs',
  bittorrent: 'BitTorrent',
  peer: 'Peer',
  github: 'GitHub',
  fdroid: 'FDroid',
};

/** Source types this build has a transport for. */
export const SUPPORTED_TYPES: ReadonlySet<SeedSourceType> = new Set(['HttpsMirror']);

export interface LiveMirror {
  record: MirrorRecord;
  source: Source;
}

export interface MirrorSession {
  config: MirrorConfig;
  /** Usable mirrors, best first (priority, then measurements and region). */
  live: LiveMirror[];
  /** Configured mirrors this build cannot use (no transport yet), with the reason. */
  skipped: { record: MirrorRecord; reason: string }[];
  close(): Promise<void>;
}

export interface SessionOptions {
  /** Only mirrors of this type (`--source`). */
  type?: SeedSourceType;
  /** The process environment (NODE_EXTRA_CA_CERTS is added to the TLS roots explicitly too). */
  env?: NodeJS.ProcessEnv;
  now: number;
}

export async function openMirrors(paths: HomePaths, o: SessionOptions): Promise<MirrorSession> {
  const config = await loadMirrors(paths);
  return sessionFor(config, o);
}

export function sessionFor(config: MirrorConfig, o: SessionOptions): MirrorSession {
  const ca = extraCa(o.env);
  const ranked = rankRecords(config.mirrors, o.now, config.settings.region);
  const live: LiveMirror[] = [];
  const skipped: MirrorSession['skipped'] = [];
  for (const record of ranked) {
    if (o.type && record.source_type !== o.type) continue;
    if (!SUPPORTED_TYPES.has(record.source_type)) {
      skipped.push({ record, reason: `no ${record.source_type} transport in this build yet` });
      continue;
    }
    live.push({ record, source: new HttpsSource({ url: record.uri, id: record.id, ...(ca ? { ca } : {}) }) });
  }
  return {
    config,
    live,
    skipped,
    close: async () => {
      await Promise.all(live.map((m) => m.source.close?.().catch(() => {})));
    },
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

export function engineSources(live: readonly LiveMirror[]): EngineSource[] {
  return live.map(({ record, source }) => ({
    source,
    priority: record.priority,
    failureCount: record.failure_count,
    ...(record.region !== undefined ? { region: record.region } : {}),
    ...(record.latency_ms !== undefined ? { latencyMs: record.latency_ms } : {}),
    ...(record.throughput_bps !== undefined ? { throughputBps: record.throughput_bps } : {}),
  }));
}

/**
 * The TUF refresh through the session's mirrors (see sources/mirror-fetcher.ts). Outcomes of each
 * attempt are returned for the health records, whether the refresh succeeded or not.
 */
export async function refreshTrust(
  paths: HomePaths,
  session: MirrorSession,
  now: Date,
  signal?: AbortSignal,
): Promise<{ update?: SourcesUpdate; error?: DchatError; outcomes: MirrorOutcome[] }> {
  if (session.live.length === 0) {
    const why = session.skipped.length
      ? ` (${session.skipped.map((s) => `${s.record.uri}: ${s.reason}`).join('; ')})`
      : '';
    return {
      error: new DchatError(
        'E_NO_SOURCE',
        `no usable mirror configured${why}: add one with \`dchat update add-mirror --url URL --mirror-type https\``,
      ),
      outcomes: [],
    };
  }
  const store = await openTrustStore(paths);
  try {
    const update = await updateTrustFromSources(
      store,
      session.live.map((m) => m.source),
      now,
      signal ? { signal } : {},
    );
    return { update, outcomes: attemptOutcomes(update.attempts) };
  } catch (err) {
    const e = err instanceof DchatError ? err : new DchatError('E_INTERNAL', String(err), { cause: err });
    const attempts = (e.details as { failures?: { source: string; code: string; message: string }[] })
      ?.failures;
    const outcomes: MirrorOutcome[] = [];
    if (attempts) {
      for (const a of attempts) {
        const m = session.live.find((l) => l.source.uri === a.source);
        if (m) outcomes.push({ id: m.record.id, ok: false, error: `${a.code} ${a.message}` });
      }
    } else if (session.live.length === 1 && e.code !== 'E_NOT_INITIALIZED' && e.code !== 'E_ABORTED') {
      outcomes.push({
        id: (session.live[0] as LiveMirror).record.id,
        ok: false,
        error: `${e.code} ${e.message}`,
      });
    }
    return { error: e, outcomes };
  }
}

function attemptOutcomes(attempts: SourcesUpdate['attempts']): MirrorOutcome[] {
  return attempts.map((a) => ({
    id: a.source.id,
    ok: a.ok,
    ...(a.latencyMs !== undefined ? { latencyMs: a.latencyMs } : {}),
    ...(a.error ? { error: `${a.error.code} ${a.error.message}` } : {}),
  }));
}

/** What each mirror did in a download, as health outcomes. */
export function downloadOutcomes(reports: readonly SourceReport[]): MirrorOutcome[] {
  return reports
    .filter((r) => r.type !== 'cache' && (r.chunks > 0 || r.failures.length > 0))
    .map((r) => {
      const last = r.failures.at(-1);
      return {
        id: r.id,
        ok: r.ok && !r.banned,
        ...(r.latencyMs !== undefined ? { latencyMs: r.latencyMs } : {}),
        ...(r.throughputBps !== undefined ? { throughputBps: r.throughputBps } : {}),
        ...(last ? { error: `${last.code} ${last.message}` } : {}),
      };
    });
}

/**
 * Merges outcomes of one run (several steps may report the same mirror: a failure anywhere that
 * was not made good by a success counts as a failure; corrupt data always counts).
 */
export function mergeOutcomes(...lists: MirrorOutcome[][]): MirrorOutcome[] {
  const out = new Map<string, MirrorOutcome>();
  for (const o of lists.flat()) {
    const prev = out.get(o.id);
    if (!prev) {
      out.set(o.id, { ...o });
      continue;
    }
    out.set(o.id, {
      id: o.id,
      ok: prev.ok && o.ok,
      ...((o.latencyMs ?? prev.latencyMs) !== undefined
        ? { latencyMs: (o.latencyMs ?? prev.latencyMs) as number }
        : {}),
      ...((o.throughputBps ?? prev.throughputBps) !== undefined
        ? { throughputBps: (o.throughputBps ?? prev.throughputBps) as number }
        : {}),
      ...((o.error ?? prev.error) !== undefined ? { error: (o.error ?? prev.error) as string } : {}),
    });
  }
  return [...out.values()];
}

/**
 * Writes a run's outcomes into mirrors.toml (re-read first, so concurrent edits are kept) and
 * prunes mirrors that failed `prune_after_failures` times in a row. Returns what was pruned.
 */
export async function recordHealth(
  paths: HomePaths,
  outcomes: readonly MirrorOutcome[],
  now: Date,
): Promise<PrunedMirror[]> {
  if (outcomes.length === 0) return [];
  let pruned: PrunedMirror[] = [];
  await updateMirrors(paths, (cfg) => {
    const touched = cfg.mirrors.some((m) => outcomes.some((o) => o.id === m.id));
    if (!touched) return undefined;
    const r = applyOutcomes(cfg.mirrors, outcomes, now, cfg.settings.prune_after_failures);
    pruned = r.pruned;
    return { settings: cfg.settings, mirrors: r.records };
  });
  return pruned;
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
