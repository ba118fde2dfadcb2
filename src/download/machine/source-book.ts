/**
 * What the download machine knows about each source in this run (pure): its health for ranking
 * and penalties (planner/ranking.ts, planner/penalty.ts), what it did (SourceStats), what it was
 * measured at in this run (per chunk, to the first byte: the hedging deadlines), which chunks a
 * partial source (a peer) holds and how many peers hold each chunk, and the chunks a local copy
 * holds damaged.
 */
import {
  classifyFailure,
  type FailureAction,
  type FailureKind,
  onSourceFailure,
  onSourceSuccess,
  type PenaltyPolicy,
} from '../planner/penalty.ts';
import { ewma, isAvailable, newHealth, rankSources, type SourceHealth } from '../planner/ranking.ts';
import type { ChunkFilter } from '../planner/schedule.ts';
import type { FetchError, HedgeConfig, MachineSource, SourceStats } from './actions.ts';

/** Chunks after the first of their fetch before a source's steady pace is judged. */
export const STEADY_SAMPLES = 8;

export class SourceBook {
  private readonly chunkCount: number;
  private readonly info = new Map<string, MachineSource>();
  private readonly health = new Map<string, SourceHealth>();
  private readonly stats = new Map<string, SourceStats>();
  private readonly chunkMs = new Map<string, number>();
  private readonly paceMs = new Map<string, number>();
  /** Sum and count of the times between chunks after the first of each fetch. */
  private readonly steadyMs = new Map<string, [number, number]>();
  private readonly latency = new Map<string, number>();
  private readonly localBad = new Map<string, Set<number>>();
  private readonly held = new Map<string, Uint8Array>();
  /** How many partial sources hold each chunk. */
  readonly holders: Uint16Array;

  constructor(chunkCount: number) {
    this.chunkCount = chunkCount;
    this.holders = new Uint16Array(chunkCount);
  }

  /** False if it was known already. */
  add(s: MachineSource): boolean {
    if (this.info.has(s.id)) return false;
    this.info.set(s.id, s);
    if (s.partial) this.held.set(s.id, new Uint8Array(this.chunkCount));
    this.health.set(
      s.id,
      newHealth(s.id, s.priority, {
        ...(s.region !== undefined ? { region: s.region } : {}),
        ...(s.latencyMs !== undefined ? { latencyMs: s.latencyMs } : {}),
        ...(s.throughputBps !== undefined ? { throughputBps: s.throughputBps } : {}),
        ...(s.failureCount !== undefined ? { failureCount: s.failureCount } : {}),
      }),
    );
    this.stats.set(s.id, {
      id: s.id,
      bytes: 0,
      fetched: 0,
      chunks: 0,
      requests: 0,
      failures: [],
      banned: false,
      ok: false,
    });
    return true;
  }

  has(id: string): boolean {
    return this.info.has(id);
  }

  isLocal(id: string): boolean {
    return this.info.get(id)?.local === true;
  }

  label(id: string): string {
    return this.info.get(id)?.label ?? id;
  }

  /** Any partial source known (a swarm): full sources are then asked for what no peer has. */
  get swarm(): boolean {
    return this.held.size > 0;
  }

  /** What a partial source holds (undefined: it holds everything). */
  holding(id: string): Uint8Array | undefined {
    return this.held.get(id);
  }

  sourceHas(id: string, index: number): void {
    const h = this.held.get(id);
    if (!h || !(index >= 0 && index < h.length) || h[index] === 1) return;
    h[index] = 1;
    this.holders[index] = (this.holders[index] as number) + 1;
  }

  /** The chunks `id` must not be given: those it lacks (a peer) or holds damaged (a local copy). */
  exclude(id: string): ChunkFilter | undefined {
    const h = this.held.get(id);
    return h ? { has: (i: number) => h[i] !== 1 } : this.localBad.get(id);
  }

  markBad(id: string, index: number): void {
    const bad = this.localBad.get(id) ?? new Set<number>();
    bad.add(index);
    this.localBad.set(id, bad);
  }

  requestSent(id: string): void {
    const st = this.stats.get(id);
    if (st) st.requests++;
  }

  received(id: string, n: number): void {
    (this.stats.get(id) as SourceStats).fetched += n;
  }

  /** A verified chunk of `len` bytes from `id`, `ms` after the one before it (or the first byte). */
  delivered(id: string, len: number, ms: number): void {
    const st = this.stats.get(id) as SourceStats;
    st.chunks++;
    st.bytes += len;
    st.ok = !st.banned;
    this.chunkMs.set(id, ewma(this.chunkMs.get(id), Math.max(0, ms)));
    // Progress made: a later drop on this source may resume again.
    const h = this.health.get(id) as SourceHealth;
    if (h.resumesWithoutProgress !== 0 || h.consecutiveFailures !== 0)
      this.health.set(id, { ...h, resumesWithoutProgress: 0, consecutiveFailures: 0 });
  }

  failed(
    now: number,
    id: string,
    err: FetchError,
    progressed: boolean,
    policy: PenaltyPolicy,
  ): { kind: FailureKind; action: FailureAction } {
    const h = this.health.get(id) as SourceHealth;
    const st = this.stats.get(id) as SourceStats;
    const kind = classifyFailure(err.code, err.status);
    const d = onSourceFailure(h, kind, now, progressed, policy);
    this.health.set(id, d.health);
    st.failures.push({ code: err.code, message: err.message, kind, action: d.action });
    st.banned = d.health.banned;
    if (st.banned) st.ok = false;
    return { kind, action: d.action };
  }

  /** Folds what one fetch measured into its source's health (rates over real transfers only). */
  measure(id: string, latencyMs: number, bytes: number, ms: number, ok: boolean): void {
    const h = this.health.get(id) as SourceHealth;
    const st = this.stats.get(id) as SourceStats;
    this.latency.set(id, ewma(this.latency.get(id), latencyMs));
    const m = onSourceSuccess(h, { latencyMs, bytes, ms });
    if (m.latencyMs !== undefined) st.latencyMs = Math.round(m.latencyMs);
    if (m.throughputBps !== undefined) st.throughputBps = Math.round(m.throughputBps);
    if (ok && !h.banned && h.penaltyUntil === undefined) this.health.set(id, m);
    else
      this.health.set(id, {
        ...h,
        ...(m.latencyMs !== undefined ? { latencyMs: m.latencyMs } : {}),
        ...(m.throughputBps !== undefined ? { throughputBps: m.throughputBps } : {}),
      });
  }

  /** Sources in the order to use them at `now`, banned ones left out. */
  ranked(now: number, region: string | undefined): SourceHealth[] {
    return rankSources([...this.health.values()], now, region);
  }

  available(now: number, id: string): boolean {
    return isAvailable(this.health.get(id) as SourceHealth, now);
  }

  /** Ends of the penalties still running at `now` (sources not banned that will be usable again). */
  penaltyEnds(now: number): number[] {
    return [...this.health.values()]
      .filter((h) => !h.banned && h.penaltyUntil !== undefined && h.penaltyUntil > now)
      .map((h) => h.penaltyUntil as number);
  }

  ids(): string[] {
    return [...this.info.keys()];
  }

  allStats(): SourceStats[] {
    return [...this.stats.values()];
  }

  /**
   * What a verified chunk from `id` costs in this run, request time included (moving average, ms):
   * its pace, for sharing the work; undefined until one came. (chunkMs, from the first byte on,
   * reads 0 for a source that hands over whole chunks at once.)
   */
  pace(id: string): number | undefined {
    return this.paceMs.get(id);
  }

  /** A verified chunk from `id`, `ms` after the one before it or after its request went out. */
  paced(id: string, ms: number, first: boolean): void {
    this.paceMs.set(id, ewma(this.paceMs.get(id), Math.max(0, ms)));
    if (first) return;
    const [sum, n] = this.steadyMs.get(id) ?? [0, 0];
    this.steadyMs.set(id, [sum + Math.max(0, ms), n + 1]);
  }

  /**
   * What a chunk from `id` costs once its data flows: the mean time between the chunks after the
   * first of each fetch (no request, connection or channel start-up in them), over the whole run,
   * so one late chunk (the process busy elsewhere a moment) does not swing it; undefined until
   * STEADY_SAMPLES were seen.
   */
  steady(id: string): number | undefined {
    const [sum, n] = this.steadyMs.get(id) ?? [0, 0];
    return n >= STEADY_SAMPLES ? sum / n : undefined;
  }

  /**
   * How long a chunk may take before `id` takes it over: `factor` times what `id` measurably needs
   * for one (this run, else an earlier run's throughput), never below `minMs`; undefined when
   * nothing was measured (no guessing).
   */
  hedgeDeadline(id: string, chunkSize: number, cfg: HedgeConfig): number | undefined {
    if (this.isLocal(id)) return undefined;
    const info = this.info.get(id) as MachineSource;
    const h = this.health.get(id) as SourceHealth;
    const perChunk =
      this.chunkMs.get(id) ?? (info.throughputBps ? (chunkSize / info.throughputBps) * 1000 : undefined);
    if (perChunk === undefined) return undefined;
    const lat = this.latency.get(id) ?? info.latencyMs ?? h.latencyMs ?? 0;
    return Math.max(cfg.minMs, cfg.factor * (lat + perChunk));
  }
}
