/**
 * Download (DESIGN.md "The main paths"): one trusted target fetched by the download engine from
 * every source of the registry at once (HTTPS mirrors and, on a node, peers), each chunk verified
 * against the signed table before it is written, the whole file before it is renamed into
 * packages/. The settings of mirrors.toml apply unless the caller overrides them. Within one run a
 * source is warned about once (its first failure); the full list is in the result's reports.
 */
import {
  type DownloadEvent,
  type DownloadOptions,
  type DownloadResult,
  downloadPackage,
  type SourceReport,
} from '../download/engine.ts';
import { DchatError, toDchatError } from '../errors.ts';
import { report, verificationResultOf } from '../metrics/sink.ts';
import type { PackageTarget } from '../model/package.ts';
import { parseRate } from '../model/rate.ts';
import type { Source } from '../sources/source.ts';
import type { HomePaths } from '../store/home.ts';
import type { MirrorSettings } from '../store/mirrors.ts';
import { listPackages } from '../trust/package-check.ts';
import type { TrustedSet } from '../trust/trusted-set.ts';
import { downloadOutcomes, type RunHealth } from './health.ts';
import { logChecks, logSourcesTried } from './log-lines.ts';
import { engineSources, type SourceRegistry } from './registry.ts';

export type { DownloadEvent, DownloadResult, SourceReport };

/** What the caller may override of mirrors.toml's [settings] for one download. */
export interface DownloadTuning {
  limitRateBps?: number;
  minRateBps?: number;
  slowWindowSecs?: number;
  parallelSources?: number;
}

export interface FetchTargetOptions extends DownloadTuning {
  signal?: AbortSignal;
  onEvent?: (e: DownloadEvent) => void;
  /** A target that is not a package (update/delta.ts): where the engine hands the verified file. */
  dest?: DownloadOptions['dest'];
}

export interface Fetched {
  result: DownloadResult;
  reports: SourceReport[];
}

/** Resolved tunables: flags over mirrors.toml over defaults. */
export function tuning(settings: MirrorSettings, o: DownloadTuning): Required<DownloadTuning> {
  return {
    limitRateBps: o.limitRateBps ?? settingRate(settings.limit_rate) ?? 0,
    minRateBps: o.minRateBps ?? settingRate(settings.min_rate) ?? 4096,
    slowWindowSecs: o.slowWindowSecs ?? settings.slow_window_secs,
    parallelSources: o.parallelSources ?? settings.parallel_sources,
  };
}

function settingRate(v: string | number): number | undefined {
  return typeof v === 'number' ? v : parseRate(v);
}

/**
 * Fetches `target` from every source of `reg` (mirrors and extra sources together). The health
 * of each mirror goes to `health` whatever the outcome; the caller commits it once.
 */
export async function fetchTarget(
  paths: HomePaths,
  reg: SourceRegistry,
  trusted: TrustedSet,
  target: PackageTarget,
  health: RunHealth,
  o: FetchTargetOptions = {},
): Promise<Fetched> {
  const sources = engineSources(reg).filter((s) => s.source.serves?.(target) ?? true);
  if (sources.length === 0)
    throw new DchatError('E_NO_SOURCE', `no source to fetch ${target.path} from (no mirror, no peer)`);
  // Only the sources of the best priority start joining now (a swarm, a node): the download machine
  // may never ask an outranked channel (planner/speed-share.ts), and starting one costs CPU the
  // fastest source needs; one asked later starts at its first request.
  const best = Math.min(...sources.map((s) => s.priority));
  for (const s of sources) if (s.priority === best) s.source.prepare?.(target.path);
  const t = tuning(reg.config.settings, o);
  logSourcesTried(sources);
  let reports: SourceReport[] = [];
  const warned = new Set<string>();
  try {
    const result = await downloadPackage({
      target,
      allTargets: listPackages(trusted.requireTargets()),
      root: trusted.root.signed,
      sources,
      paths,
      limitRateBps: t.limitRateBps,
      minRateBps: t.minRateBps,
      slowWindowMs: t.slowWindowSecs * 1000,
      parallelSources: t.parallelSources,
      ...(reg.config.settings.region ? { preferredRegion: reg.config.settings.region } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.dest ? { dest: o.dest } : {}),
      onEvent: (e) => {
        // One warning per source per run: later failures of the same source are in its report.
        if (e.type === 'source-failed') {
          if (warned.has(e.source)) return;
          warned.add(e.source);
        }
        o.onEvent?.(e);
      },
      onFinish: (r) => {
        reports = r;
      },
    });
    addPeerFailures(sources, result.sources);
    reportDownload(result, reports);
    logChecks(result.version, result.checks);
    return { result, reports };
  } catch (err) {
    // An interrupt names its own cause (signal, deadline): report that, not the engine's E_ABORTED.
    const reason: unknown = o.signal?.aborted ? o.signal.reason : undefined;
    const e = reason instanceof DchatError ? reason : toDchatError(err);
    reportFailure(e, reports);
    throw e;
  } finally {
    health.add(downloadOutcomes(reports));
  }
}

/** The seed's metrics of a completed download: each kind that delivered, each failure, the check. */
function reportDownload(result: DownloadResult, reports: readonly SourceReport[]): void {
  for (const r of reports) for (const _ of r.failures) report.downloadFailed(r.type);
  const kinds = new Set(reports.filter((r) => r.bytes > 0).map((r) => r.type));
  if (kinds.size === 0) kinds.add('cache');
  for (const k of kinds) report.downloaded(k, result.durationMs / 1000);
  if (!result.alreadyPresent) report.verified('success');
}

/** A failed download: every source failure, and the verdict when the whole-file check failed. */
function reportFailure(e: DchatError, reports: readonly SourceReport[]): void {
  for (const r of reports) for (const _ of r.failures) report.downloadFailed(r.type);
  if (reports.every((r) => r.failures.length === 0)) for (const r of reports) report.downloadFailed(r.type);
  const verdict = verificationResultOf(e.code);
  if (verdict && verdict !== 'success') report.verified(verdict);
}

/** Failures of peers a source dropped itself (BitTorrent E_BAD_PIECE), added to its report. */
function addPeerFailures(sources: readonly { source: Source }[], reports: SourceReport[]): void {
  for (const { source } of sources) {
    const rep = reports.find((r) => r.id === source.id);
    if (!rep) continue;
    for (const b of source.peerFailures ?? [])
      rep.failures.push({ code: b.code, message: b.message, kind: 'corrupt', action: 'resume' });
  }
}
