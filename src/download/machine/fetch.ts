/**
 * The download machine's own bookkeeping (pure): a fetch as the machine tracks it, the stall
 * tests hedging is built on, and the configuration with its defaults filled in.
 */
import { DEFAULT_PENALTY_POLICY } from '../planner/penalty.ts';
import type { RateWindow } from '../planner/rate.ts';
import type { Assignment } from '../planner/schedule.ts';
import type { MachineConfig } from './actions.ts';

/** Longest run one network source gets while several share the work (bounds reordering memory). */
export const DEFAULT_RUN_BYTES = 8 * 1024 * 1024;

export interface Fetch {
  id: number;
  source: string;
  asg: Assignment;
  started: number;
  firstByte?: number;
  /** When it last delivered a verified chunk (its start before the first). */
  lastChunkAt: number;
  fetched: number;
  chunks: number;
  win: RateWindow;
  /** The machine is done with it (ended, failed, overtaken); the host still owes fetchEnded. */
  closed: boolean;
  /** Another source took over its rest (it keeps only the chunk it was receiving). */
  hedged: boolean;
}

/** A fetch `idle` could take over: running, not hedged already, not its own, not a local copy. */
function hedgeable(f: Fetch, idle: string, isLocal: (id: string) => boolean): boolean {
  return !f.closed && !f.hedged && f.source !== idle && !isLocal(f.source) && f.asg.next < f.asg.end;
}

/**
 * The fetch that has waited longest for its next chunk, if that is at least `deadline` ms, and
 * (for a partial source: `held` given) all of whose remaining chunks `idle` holds.
 */
export function stalledFetch(
  fetches: Iterable<Fetch>,
  idle: string,
  now: number,
  deadline: number,
  held: Uint8Array | undefined,
  isLocal: (id: string) => boolean,
): Fetch | undefined {
  let victim: Fetch | undefined;
  for (const f of fetches) {
    if (!hedgeable(f, idle, isLocal) || now - f.lastChunkAt < deadline) continue;
    if (held && !holdsAll(held, f.asg.next, f.asg.end)) continue;
    if (!victim || f.lastChunkAt < victim.lastChunkAt) victim = f;
  }
  return victim;
}

/**
 * The next instant after `now` at which some fetch will have stalled `deadline` ms (a deadline
 * already passed that no hedge followed cannot be acted on now: it is no wake-up).
 */
export function nextStall(
  fetches: Iterable<Fetch>,
  idle: string,
  now: number,
  deadline: number,
  isLocal: (id: string) => boolean,
): number | undefined {
  let best: number | undefined;
  for (const f of fetches) {
    if (!hedgeable(f, idle, isLocal)) continue;
    const t = f.lastChunkAt + deadline;
    if (t > now && (best === undefined || t < best)) best = t;
  }
  return best;
}

/**
 * End-game: the running fetch (not `idle`'s, not hedged, not a local copy's) whose rest `idle`
 * should finish soonest before its own source would, if `idle` gains on any: `idle` needs `idleMs`
 * a chunk; a measured source needs its pace (minus what it has waited for the current chunk); one
 * not measured yet is expected to need about as long again as it has waited so far.
 */
export function slowerFetch(
  fetches: Iterable<Fetch>,
  idle: string,
  now: number,
  idleMs: number,
  paceOf: (id: string) => number | undefined,
  held: Uint8Array | undefined,
  isLocal: (id: string) => boolean,
  minWaitMs = 0,
): Fetch | undefined {
  let victim: Fetch | undefined;
  let gain = 0;
  for (const f of fetches) {
    if (!hedgeable(f, idle, isLocal)) continue;
    if (held && !holdsAll(held, f.asg.next, f.asg.end)) continue;
    const left = f.asg.end - f.asg.next;
    const waited = now - f.lastChunkAt;
    const pace = paceOf(f.source);
    // Not measured yet: its first chunk may still be on its way (a request's latency, a busy
    // machine): not taken over before the hedging floor either.
    if (pace === undefined && waited < minWaitMs) continue;
    const theirs = pace === undefined ? waited : Math.max(0, pace - waited) + (left - 1) * pace;
    const g = theirs - left * idleMs;
    if (g > gain) {
      gain = g;
      victim = f;
    }
  }
  return victim;
}

/**
 * When the end-game next becomes worth it for `idle` (see slowerFetch): a fetch of a source not
 * measured yet is taken over once it has waited as long as `idle` needs for its rest, and at least
 * `minWaitMs`.
 */
export function nextTakeover(
  fetches: Iterable<Fetch>,
  idle: string,
  now: number,
  idleMs: number,
  paceOf: (id: string) => number | undefined,
  isLocal: (id: string) => boolean,
  minWaitMs = 0,
): number | undefined {
  let best: number | undefined;
  for (const f of fetches) {
    if (!hedgeable(f, idle, isLocal) || paceOf(f.source) !== undefined) continue;
    const t = f.lastChunkAt + Math.max(minWaitMs, (f.asg.end - f.asg.next) * idleMs) + 1;
    if (t > now && (best === undefined || t < best)) best = t;
  }
  return best;
}

function holdsAll(held: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (held[i] !== 1) return false;
  return true;
}

export type ResolvedConfig = Required<
  Omit<MachineConfig, 'done' | 'limitRateBps' | 'preferredRegion' | 'hedge' | 'startAt' | 'probeHorizonMs'>
>;

export function resolveConfig(config: MachineConfig): ResolvedConfig {
  return {
    chunkCount: config.chunkCount,
    chunkSize: config.chunkSize,
    size: config.size,
    parallel: Math.max(1, config.parallel ?? 3),
    runBytes: config.runBytes ?? DEFAULT_RUN_BYTES,
    policy: config.policy ?? DEFAULT_PENALTY_POLICY,
    minRateBps: config.minRateBps ?? 4096,
    slowWindowMs: config.slowWindowMs ?? 20_000,
    checkpointMs: config.checkpointMs ?? 500,
    checkpointBytes: config.checkpointBytes ?? 64 * 1024 * 1024,
    progressMs: config.progressMs ?? 200,
    maxFetchBytes: config.maxFetchBytes ?? 3 * config.size + 64 * 1024 * 1024,
  };
}
