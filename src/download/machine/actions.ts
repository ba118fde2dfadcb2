/**
 * What the download machine (machine.ts) is told and what it asks for. Plain data: the pump
 * (download/engine.ts), the in-memory test pump and the swarm simulator all speak it.
 */
import type { DchatError, ErrorCode } from '../../errors.ts';
import type { FailureAction, FailureKind, PenaltyPolicy } from '../planner/penalty.ts';

/** A source as the machine knows it: an id and numbers, no handle. */
export interface MachineSource {
  id: string;
  priority: number;
  /** Shown in messages (the URL); the id when absent. */
  label?: string;
  /** A local copy (the suspect file of an earlier run): takes all it may hold, never stolen from or hedged. */
  local?: boolean;
  /**
   * Holds only the chunks announced with `sourceHas` (a peer still downloading, in a swarm): it
   * is given runs of those only, and neither steals nor hedges.
   */
  partial?: boolean;
  region?: string;
  /** Measured by earlier runs (mirrors.toml); used until this run measures its own. */
  latencyMs?: number;
  throughputBps?: number;
  /** Failures in a row before this run. */
  failureCount?: number;
}

export interface MachineConfig {
  chunkCount: number;
  chunkSize: number;
  /** Bytes of the whole file (the last chunk may be short). */
  size: number;
  /** Chunks verified by an earlier run. */
  done?: Iterable<number>;
  /** Fetches running at once (hedges may add one). Default 3. */
  parallel?: number;
  /** Longest run handed to one network source while several share the work. */
  runBytes?: number;
  policy?: PenaltyPolicy;
  /** Slow-retrieval guard: a fetch below this over `slowWindowMs` is dropped (0: off). Default 4096. */
  minRateBps?: number;
  slowWindowMs?: number;
  /** Bytes/s for all fetches together (0/undefined: unlimited); `received` returns the wait. */
  limitRateBps?: number;
  preferredRegion?: string;
  /** A Checkpoint at most this often, or after `checkpointBytes` verified. */
  checkpointMs?: number;
  checkpointBytes?: number;
  progressMs?: number;
  /** Received bytes beyond which the download gives up (endless junk). Default 3 x size + 64 MiB. */
  maxFetchBytes?: number;
  /** Where this download starts looking for missing chunks (a swarm's nodes spread out). */
  startAt?: number;
  /**
   * An outranked channel not measured yet is probed only if the fastest measured source would
   * still need this long for what is left (planner/speed-share.ts; default PROBE_HORIZON_MS).
   */
  probeHorizonMs?: number;
  /** Hedging of stalled fetches (false: off). */
  hedge?: HedgeConfig | false;
}

export interface HedgeConfig {
  /** A stalled chunk is requested elsewhere no sooner than this. */
  minMs: number;
  /** ... and no sooner than this many times the other source's measured time for one chunk. */
  factor: number;
}

/** A fetch failed or stopped, as the pump saw it. */
export interface FetchError {
  code: ErrorCode;
  message: string;
  /** HTTP status, if any (404/410 mean the source lacks the file). */
  status?: number;
  details?: unknown;
}

export type MachineAction =
  /** Fetch chunks [start, end) from `source` as one request (or chunk by chunk). */
  | { type: 'fetch'; fetch: number; source: string; start: number; end: number }
  /** Fetch `fetch` now ends before chunk `end` (another source took the rest): stop reading there. */
  | { type: 'shrink'; fetch: number; end: number }
  /** Stop fetch `fetch` (slow, overtaken by a hedge, no longer needed); its end is not reported. */
  | { type: 'cancel'; fetch: number; reason: string }
  /** Make the chunks written so far durable, then record them (resume state). */
  | { type: 'checkpoint' }
  | {
      type: 'progress';
      bytesDone: number;
      bytesFetched: number;
      rateBps: number;
      chunksDone: number;
      chunksTotal: number;
      /** Source ids of the running fetches, one per fetch. */
      active: string[];
    }
  | {
      type: 'source-failed';
      source: string;
      code: ErrorCode;
      message: string;
      kind: FailureKind;
      action: FailureAction;
    }
  /** Every chunk is verified (again false if a recorded chunk is lost later). */
  | { type: 'done' }
  /** The download cannot finish: no source left, too many bytes, or stopped from outside. */
  /** `keepPartial`: record what is verified for the next run (not after a failed write). */
  | { type: 'failed'; error: DchatError; keepPartial: boolean };

/** What one source did in this run (health records, the result document). */
export interface SourceStats {
  id: string;
  bytes: number;
  fetched: number;
  chunks: number;
  requests: number;
  failures: { code: string; message: string; kind: FailureKind; action: FailureAction }[];
  banned: boolean;
  ok: boolean;
  latencyMs?: number;
  throughputBps?: number;
}
