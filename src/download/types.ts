/**
 * The public shapes of `downloadPackage` (download/engine.ts): options, events, per-source
 * reports and the result (callers, the CLI, the node and the update service, depend on these
 * names), and how options and sources map onto the download machine's.
 */
import type { Root } from '@tufjs/models';
import { type ChunkTable, chunkRange } from '../model/chunks.ts';
import type { PackageTarget } from '../model/package.ts';
import type { Source } from '../sources/source.ts';
import type { HomePaths } from '../store/home.ts';
import type { HedgeConfig, MachineConfig, MachineSource } from './machine/actions.ts';
import type { FailureAction, FailureKind, PenaltyPolicy } from './planner/penalty.ts';

export interface EngineSource {
  source: Source;
  priority: number;
  region?: string;
  latencyMs?: number;
  throughputBps?: number;
  /** Failures in a row before this run (mirrors.toml failure_count). */
  failureCount?: number;
}

export type DownloadEvent =
  | {
      type: 'start';
      target: string;
      size: number;
      chunks: number;
      chunk_size: number;
      resumed_chunks: number;
      resumed_bytes: number;
      sources: string[];
    }
  | { type: 'cached'; path: string }
  | { type: 'cache-invalid'; path: string; code: string; message: string }
  | { type: 'chunk-table'; source: string }
  | {
      type: 'progress';
      bytes_done: number;
      bytes_total: number;
      bytes_fetched: number;
      rate_bps: number;
      chunks_done: number;
      chunks_total: number;
      active: string[];
    }
  | { type: 'source-failed'; source: string; code: string; message: string; action: FailureAction }
  | { type: 'chunk-recheck-failed'; chunk: number }
  | { type: 'verified'; sha256: string; blake3: string };

export interface DownloadOptions {
  target: PackageTarget;
  /** Every trusted target (a whole-file match with another one is reported as E_WRONG_TARGET). */
  allTargets?: readonly PackageTarget[];
  root: Root;
  sources: readonly EngineSource[];
  paths: HomePaths;
  /** Bytes/s for all streams together (0 or undefined: unlimited). */
  limitRateBps?: number;
  /** Slow-retrieval guard: a stream below this rate over `slowWindowMs` is dropped (0: off). */
  minRateBps?: number;
  slowWindowMs?: number;
  /** Sources fetched from at the same time. */
  parallelSources?: number;
  preferredRegion?: string;
  /** How often verified chunks are made durable and recorded (resume state). */
  checkpointMs?: number;
  /** Memory for chunks waiting for the in-order whole-file hashes. */
  windowBytes?: number;
  penalty?: PenaltyPolicy;
  /** Hedging of a stalled source (download/machine): false turns it off. */
  hedge?: HedgeConfig | false;
  signal?: AbortSignal;
  onEvent?: (e: DownloadEvent) => void;
  /** Called once at the end, success or not, with what each source did (health records). */
  onFinish?: (reports: SourceReport[]) => void;
  progressIntervalMs?: number;
  /** Milliseconds clock (tests may pin it; penalties and rates are judged on it). */
  clock?: () => number;
  /**
   * Where a target that is not a package goes (an encoded target, update/delta.ts): no local copy
   * is looked for in packages/, and the verified file is handed to `install` instead of being
   * installed as a package. `final` is the path `install` puts it at.
   */
  dest?: { final: string; install(file: string, table: ChunkTable): Promise<void> };
}

export interface SourceReport {
  id: string;
  uri: string;
  type: string;
  /** Verified bytes this source delivered. */
  bytes: number;
  /** Bytes received from it (verified or not). */
  fetched: number;
  chunks: number;
  requests: number;
  failures: { code: string; message: string; kind: FailureKind; action: FailureAction }[];
  banned: boolean;
  /** Delivered something and nothing that contradicted signed metadata. */
  ok: boolean;
  latencyMs?: number;
  throughputBps?: number;
}

export interface DownloadResult {
  path: string;
  target: string;
  version: string;
  platform: string;
  size: number;
  sha256: string;
  blake3: string;
  alreadyPresent: boolean;
  chunks: number;
  resumedChunks: number;
  resumedBytes: number;
  /** Bytes received from sources in this run (network and cache). */
  fetchedBytes: number;
  durationMs: number;
  chunkTableFrom: string;
  sources: SourceReport[];
  checks: { name: string; ok: boolean }[];
}

/**
 * The machine's configuration for a download with options `o`. Runs shared between sources are
 * at most a share of the reorder window, so what several sources deliver out of order fits it.
 */
export function machineConfig(o: DownloadOptions, windowBytes: number): MachineConfig {
  const info = o.target.custom.chunks;
  const parallel = Math.max(1, o.parallelSources ?? 3);
  return {
    chunkCount: info.count,
    chunkSize: info.size,
    size: o.target.length,
    parallel,
    runBytes: Math.max(info.size, Math.floor(windowBytes / parallel)),
    ...(o.penalty ? { policy: o.penalty } : {}),
    ...(o.minRateBps !== undefined ? { minRateBps: o.minRateBps } : {}),
    ...(o.slowWindowMs !== undefined ? { slowWindowMs: o.slowWindowMs } : {}),
    ...(o.limitRateBps ? { limitRateBps: o.limitRateBps } : {}),
    ...(o.preferredRegion ? { preferredRegion: o.preferredRegion } : {}),
    ...(o.checkpointMs !== undefined ? { checkpointMs: o.checkpointMs } : {}),
    ...(o.progressIntervalMs !== undefined ? { progressMs: o.progressIntervalMs } : {}),
    ...(o.hedge !== undefined ? { hedge: o.hedge } : {}),
  };
}

/** A source as the machine sees it (a local copy: `local`, or a cache-type source). */
export function machineSource(s: EngineSource, local = false): MachineSource {
  return {
    id: s.source.id,
    priority: s.priority,
    label: s.source.uri,
    local: local || s.source.type === 'cache',
    ...(s.region !== undefined ? { region: s.region } : {}),
    ...(s.latencyMs !== undefined ? { latencyMs: s.latencyMs } : {}),
    ...(s.throughputBps !== undefined ? { throughputBps: s.throughputBps } : {}),
    ...(s.failureCount !== undefined ? { failureCount: s.failureCount } : {}),
  };
}

/** The `start` event: what will be fetched, and what an earlier run verified already. */
export function startEvent(
  target: PackageTarget,
  table: ChunkTable,
  resumed: readonly number[],
  sources: string[],
): DownloadEvent {
  const bytes = resumed.reduce((n, i) => n + (chunkRange(table, i).end - chunkRange(table, i).start), 0);
  return {
    type: 'start',
    target: target.path,
    size: target.length,
    chunks: table.chunks.length,
    chunk_size: table.chunk_size,
    resumed_chunks: resumed.length,
    resumed_bytes: bytes,
    sources,
  };
}
