/**
 * The download of one file as a sans-IO state machine (STYLE.md section 4, like the gossip core
 * and quinn-proto): every input is a method call carrying `now` (ms); every effect is a
 * MachineAction queued for the host to drain with `poll()`; `pollTimeout()` says when `tick(now)`
 * is next due. It decides everything about chunks and sources: who fetches which run (runs sized
 * to share the work, bounded so reordering memory stays bounded), work stealing, penalties and
 * bans (planner/penalty.ts), the slow-retrieval guard, hedging of a stalled source, the bandwidth
 * limit, when to checkpoint and report progress, and the final error. It never sees a byte: the
 * host verifies each chunk against the signed table and says so. So the engine's pump, the
 * in-memory tests under virtual time and the swarm simulator run exactly this code.
 *
 * Hedging (DESIGN.md, slow-retrieval defence; spec/CLI.md `update download`): a source idle with
 * nothing left to take looks at the other fetches; one that has not delivered a chunk for
 * `factor` times what the idle source measurably needs per chunk (and at least `minMs`) hands
 * its rest over: the idle source fetches from the stalled chunk on, the stalled one keeps only
 * that chunk, and whichever verifies it first wins. A source overtaken that way is penalised as
 * slow, so a trickling mirror at top priority costs a fraction of a second, not a minute.
 *
 * Several channels (planner/speed-share.ts): work goes by priority and measured speed, and adding
 * a slower channel must not make the download slower than its fastest. An outranked channel is
 * probed only when the fastest would still need the probe horizon for the rest; one over
 * MAX_SLOWDOWN times slower gets no new work; a source alone in taking part gets the whole rest in
 * one run (no request per bounded run), a channel joining later takes its run from the tail of the
 * largest one; and in the end-game an idle faster source takes over a slower one's unfinished run
 * (the slower fetch is cancelled, not penalised), so the end never waits for a slow channel.
 *
 * Over 500 lines on purpose: one state machine whose inputs and decisions share its state; its
 * separable parts already live beside it (source-book.ts, fetch.ts, final-error.ts, actions.ts).
 */
import { DchatError } from '../../errors.ts';
import { TokenBucket } from '../../util/token-bucket.ts';
import type { FailureAction } from '../planner/penalty.ts';
import { effectiveMinRate, RateWindow } from '../planner/rate.ts';
import { type Assignment, ChunkScheduler } from '../planner/schedule.ts';
import { PROBE_GRACE_MS, PROBE_HORIZON_MS, runForSpeed } from '../planner/speed-share.ts';
import type {
  FetchError,
  HedgeConfig,
  MachineAction,
  MachineConfig,
  MachineSource,
  SourceStats,
} from './actions.ts';
import {
  type Fetch,
  nextStall,
  nextTakeover,
  type ResolvedConfig,
  resolveConfig,
  slowerFetch,
  stalledFetch,
} from './fetch.ts';
import { noSourceError } from './final-error.ts';
import { SourceBook } from './source-book.ts';

export const DEFAULT_HEDGE: HedgeConfig = { minMs: 250, factor: 4 };

export class DownloadMachine {
  private readonly c: ResolvedConfig;
  private readonly region: string | undefined;
  private readonly hedgeCfg: HedgeConfig | undefined;
  private readonly target: string;
  private readonly scheduler: ChunkScheduler;
  private readonly book: SourceBook;
  private readonly startAt: number;
  private readonly fetches = new Map<number, Fetch>();
  /** Sources with a fetch the host still runs. */
  private readonly busy = new Set<string>();
  private readonly out: MachineAction[] = [];
  private head = 0;
  private readonly total: RateWindow;
  private readonly bucket: TokenBucket | undefined;
  private readonly limitRateBps: number | undefined;
  private nextFetch = 1;
  private spreads = 0;
  private fetchedBytes = 0;
  private verified = 0;
  private lastCheckpoint: number;
  private checkpointAt = 0;
  private lastProgress = Number.NEGATIVE_INFINITY;
  private doneSent = false;
  /** Nothing is handed out before `begin` (the host may still be fetching the chunk table). */
  private begun = false;
  private begunAt = 0;
  private readonly probeHorizonMs: number | undefined;
  private failedWith: DchatError | undefined;
  private now: number;

  constructor(now: number, config: MachineConfig, target = 'the package') {
    this.now = now;
    this.target = target;
    this.c = resolveConfig(config);
    this.region = config.preferredRegion;
    this.startAt = config.startAt ?? 0;
    this.probeHorizonMs = config.probeHorizonMs;
    this.book = new SourceBook(config.chunkCount);
    this.hedgeCfg = config.hedge === false ? undefined : (config.hedge ?? DEFAULT_HEDGE);
    this.limitRateBps = config.limitRateBps && config.limitRateBps > 0 ? config.limitRateBps : undefined;
    this.bucket = this.limitRateBps
      ? new TokenBucket(this.limitRateBps, Math.max(64 * 1024, this.limitRateBps / 4), now)
      : undefined;
    this.total = new RateWindow(2000, now);
    this.lastCheckpoint = now;
    this.scheduler = new ChunkScheduler(config.chunkCount, config.done ?? []);
    for (let i = 0; i < config.chunkCount; i++) if (this.scheduler.isDone(i)) this.verified += this.len(i);
  }

  // ---- inputs -------------------------------------------------------------------------------

  /** The chunk table is known: chunks `resumed` are verified already; work is handed out from now on. */
  begin(now: number, resumed: Iterable<number> = []): void {
    this.now = now;
    for (const i of resumed) {
      if (i < 0 || i >= this.c.chunkCount || this.scheduler.isDone(i)) continue;
      this.scheduler.markDone(i);
      this.verified += this.len(i);
    }
    this.checkpointAt = this.verified;
    this.lastCheckpoint = now;
    this.begun = true;
    this.begunAt = now;
    if (this.scheduler.isComplete()) {
      this.doneSent = true;
      this.emit({ type: 'done' });
      return;
    }
    this.schedule(now);
  }

  sourceAdded(now: number, s: MachineSource): void {
    this.now = now;
    if (this.book.add(s)) this.schedule(now);
  }

  /** Partial source `source` now holds chunk `index` (work is handed out at the next input or tick). */
  sourceHas(source: string, index: number): void {
    this.book.sourceHas(source, index);
  }

  /** A request went out to `source` (a chunk table, or one chunk of a source without ranges). */
  requestSent(source: string): void {
    this.book.requestSent(source);
  }

  /**
   * `n` bytes arrived for fetch `fetch`. Returns how long the host must wait before reading on
   * (the bandwidth limit; 0 without one).
   */
  received(now: number, fetch: number, n: number): number {
    this.now = now;
    const f = this.fetches.get(fetch);
    this.fetchedBytes += n;
    this.total.add(n, now);
    if (f) {
      f.firstByte ??= now;
      f.fetched += n;
      f.win.add(n, now);
      this.book.received(f.source, n);
    }
    if (this.fetchedBytes > this.c.maxFetchBytes)
      this.fail(
        new DchatError(
          'E_TOO_LARGE',
          `received ${this.fetchedBytes} bytes for a ${this.c.size}-byte package: giving up`,
        ),
      );
    return this.bucket ? this.bucket.take(now, n) : 0;
  }

  /**
   * Chunk `index`, the next of fetch `fetch`, matched the signed table. Returns true if it is the
   * first copy (the host writes it), false if another fetch delivered it already (dropped).
   */
  chunkVerified(now: number, fetch: number, index: number): boolean {
    this.now = now;
    const f = this.fetches.get(fetch);
    if (!f || this.failedWith) return false;
    if (this.scheduler.isDone(index)) {
      if (!f.closed) this.scheduler.complete(f.asg, index);
      return false;
    }
    this.scheduler.complete(f.asg, index);
    const len = this.len(index);
    this.verified += len;
    f.chunks++;
    // One chunk's time once data flows (the first also waited for the response).
    const since = f.chunks === 1 && f.firstByte !== undefined ? f.firstByte : f.lastChunkAt;
    this.book.delivered(f.source, len, now - since);
    this.book.paced(f.source, now - f.lastChunkAt, f.chunks === 1);
    f.lastChunkAt = now;
    this.overtake(now, index, f);
    if (this.scheduler.isComplete()) {
      this.progress(now, true);
      this.emit({ type: 'checkpoint' });
      this.lastCheckpoint = now;
      this.checkpointAt = this.verified;
      if (!this.doneSent) {
        this.doneSent = true;
        for (const g of this.fetches.values()) this.close(g, 'every chunk is verified');
        this.emit({ type: 'done' });
      }
      return true;
    }
    if (
      now - this.lastCheckpoint >= this.c.checkpointMs ||
      this.verified - this.checkpointAt >= this.c.checkpointBytes
    ) {
      this.lastCheckpoint = now;
      this.checkpointAt = this.verified;
      this.emit({ type: 'checkpoint' });
    }
    this.progress(now, false);
    return true;
  }

  /**
   * Chunk `index` of fetch `fetch` did not match the signed table. A local copy just loses that
   * chunk (a network source fetches it); a network source is banned, its chunks go elsewhere.
   */
  chunkRejected(now: number, fetch: number, index: number): void {
    this.now = now;
    const f = this.fetches.get(fetch);
    if (!f || f.closed) return;
    if (this.book.isLocal(f.source)) {
      this.book.markBad(f.source, index);
      this.scheduler.skip(f.asg, index);
      this.schedule(now);
      return;
    }
    this.failFetch(now, f, {
      code: 'E_CHUNK_MISMATCH',
      message: `${this.label(f.source)}: chunk ${index} does not match the signed chunk table`,
      details: { chunk: index },
    });
  }

  /** The host's fetch ended: cleanly (`error` undefined) or with the error it saw. */
  fetchEnded(now: number, fetch: number, error?: FetchError): void {
    this.now = now;
    const f = this.fetches.get(fetch);
    if (!f) return;
    this.fetches.delete(fetch);
    this.busy.delete(f.source);
    this.measure(now, f, error === undefined);
    if (!f.closed) {
      f.closed = true;
      let err = error;
      // A source must deliver its whole range or fail; one that just stops is a truncation.
      if (!err && f.asg.next < f.asg.end)
        err = {
          code: 'E_NETWORK',
          message: `${this.label(f.source)}: range ended before chunk ${f.asg.next} of [${f.asg.next}, ${f.asg.end})`,
        };
      if (err && !this.failedWith) {
        const action = this.recordFailure(now, f.source, err, f.chunks > 0);
        const again = action === 'resume' ? this.scheduler.reopen(f.asg) : undefined;
        // Same source, same range, from the last verified chunk: before anyone else is tried.
        if (again) this.start(now, f.source, again);
      }
      this.scheduler.release(f.asg);
    }
    this.schedule(now);
  }

  /** A failure outside any fetch (e.g. its chunk table), penalised like one. */
  sourceFailed(now: number, source: string, error: FetchError): FailureAction | undefined {
    this.now = now;
    if (!this.book.has(source)) return undefined;
    const action = this.recordFailure(now, source, error, false);
    this.schedule(now);
    return action;
  }

  /** A chunk recorded as verified turned out damaged on disk: fetch it again. */
  chunkLost(now: number, index: number): void {
    this.now = now;
    if (!this.scheduler.isDone(index)) return;
    this.scheduler.markMissing(index);
    this.verified -= this.len(index);
    this.checkpointAt = Math.min(this.checkpointAt, this.verified);
    this.doneSent = false;
    this.schedule(now);
  }

  /** Time passed: the slow guard, hedging, expired penalties, progress. */
  tick(now: number): void {
    this.now = now;
    if (!this.begun || this.failedWith) return;
    const live = [...this.fetches.values()].filter((f) => !f.closed);
    const min = effectiveMinRate(this.c.minRateBps, this.limitRateBps, live.length);
    for (const f of live) {
      if (f.win.tooSlow(now, min))
        this.failFetch(now, f, {
          code: 'E_SLOW_SOURCE',
          message: `${this.label(f.source)}: below the minimum rate of ${Math.round(min)} B/s over ${f.win.windowMs / 1000}s`,
        });
    }
    this.schedule(now);
    this.progress(now, false);
  }

  /** Stopped from outside (the operator, a failed write): every fetch ends, Failed is emitted. */
  abort(now: number, error: DchatError): void {
    this.now = now;
    this.fail(error);
  }

  // ---- outputs ------------------------------------------------------------------------------

  poll(): MachineAction | undefined {
    if (this.head < this.out.length) return this.out[this.head++];
    if (this.head > 0) {
      this.out.length = 0;
      this.head = 0;
    }
    return undefined;
  }

  /** When `tick` is next due (Infinity: nothing to wait for but the host). */
  pollTimeout(): number {
    if (!this.begun || this.failedWith || this.scheduler.isComplete()) return Number.POSITIVE_INFINITY;
    const live = [...this.fetches.values()].filter((f) => !f.closed);
    if (live.length > 0) {
      let t = this.now + Math.max(50, Math.min(1000, this.c.slowWindowMs / 4));
      const hedge = this.hedgeDue();
      if (hedge !== undefined) t = Math.min(t, hedge);
      // Outranked channels waiting for a better source's first measurement.
      const grace = this.begunAt + PROBE_GRACE_MS;
      if (grace > this.now) t = Math.min(t, grace);
      const probe = this.probeCheckMs();
      if (probe !== undefined) t = Math.min(t, this.now + probe);
      return t;
    }
    if (this.fetches.size > 0) return Number.POSITIVE_INFINITY;
    const waits = this.book.penaltyEnds(this.now);
    return waits.length > 0 ? Math.min(...waits) : Number.POSITIVE_INFINITY;
  }

  // ---- queries ------------------------------------------------------------------------------

  get chunksDone(): number {
    return this.scheduler.done;
  }

  get bytesDone(): number {
    return this.verified;
  }

  get bytesFetched(): number {
    return this.fetchedBytes;
  }

  isDone(index: number): boolean {
    return this.scheduler.isDone(index);
  }

  /** What each source did so far, in the order they were added. */
  sourceStats(): SourceStats[] {
    return this.book.allStats();
  }

  /** Sources in the order to try them at `now` (banned ones left out): e.g. for the chunk table. */
  ranked(now: number): string[] {
    return this.book.ranked(now, this.region).map((h) => h.id);
  }

  // ---- decisions ----------------------------------------------------------------------------

  /**
   * Hands out work at `now`: a local copy takes everything it may hold (one run), network sources
   * share the rest in bounded runs; an idle network source hedges a stalled fetch, else steals
   * the back half of the largest network run in flight. Out of sources: Failed.
   */
  private schedule(now: number): void {
    if (!this.begun || this.failedWith || this.scheduler.isComplete()) return;
    const ranked = this.book.ranked(now, this.region).filter((h) => this.book.available(now, h.id));
    const count = this.c.chunkCount;
    // Chunks not verified yet (in runs or not): what the fastest would need time for.
    const remaining = count - this.scheduler.done;
    let live = this.liveCount();
    // The fastest measured network source: the others' runs are sized against it.
    let bestMs: number | undefined;
    // What the fastest would need for the rest (the probe horizon): see restFor.
    let restMs: number | undefined;
    // Ranked by priority first: the best priority among the network sources.
    const top = ranked.find((h) => !this.isLocal(h.id))?.priority;
    for (const h of ranked) {
      // Only a source that can serve every chunk sets the pace: a fast peer holding a few chunks
      // must not starve the only sources of the rest (a swarm's peers).
      const ms = this.isLocal(h.id) || this.book.holding(h.id) ? undefined : this.paceNow(now, h.id);
      if (ms !== undefined && (bestMs === undefined || ms < bestMs)) bestMs = ms;
      if (ms === undefined) continue;
      const rest = this.restFor(now, h.id, remaining);
      if (restMs === undefined || rest < restMs) restMs = rest;
    }
    /** The speed share of network source `h` for a full run of `base` chunks (0: nothing now). */
    const shareOf = (h: { id: string; priority: number }, base: number) =>
      runForSpeed({
        base,
        // A stalled source's own pace counts its wait too (it is not given more meanwhile).
        ownMs: this.paceNow(now, h.id),
        bestMs,
        unassigned: remaining,
        ...(restMs !== undefined ? { restMs } : {}),
        outranked: top !== undefined && h.priority > top,
        sinceBeginMs: now - this.begunAt,
        ...(this.probeHorizonMs !== undefined ? { horizonMs: this.probeHorizonMs } : {}),
      });
    // The network sources that take part now (running, or to be given work): runs are bounded to
    // share the work between them; a source alone gets the whole rest in one run, as it would
    // alone (no request per bounded run), and a channel joining later takes its run from the tail.
    const working = ranked.filter(
      (h) =>
        !this.isLocal(h.id) &&
        (this.busy.has(h.id) || this.book.holding(h.id) !== undefined || shareOf(h, 1) > 0),
    ).length;
    const share = Math.min(this.c.parallel, working);
    const runChunks =
      share <= 1
        ? count
        : Math.max(1, Math.min(Math.floor(this.c.runBytes / this.c.chunkSize), Math.ceil(remaining / share)));
    for (const h of ranked) {
      if (this.busy.has(h.id)) continue;
      const local = this.isLocal(h.id);
      if (live >= this.c.parallel) {
        // Over the limit only to hedge, by one fetch: a stalled stream must not block the download.
        if (local || live > this.c.parallel) break;
        // The end-game swaps a slower fetch for this one: the count stays.
        const hb =
          this.hedgeFor(now, h.id) ??
          (this.scheduler.unassigned === 0 ? this.endgameFor(now, h.id) : undefined);
        if (hb) {
          this.start(now, h.id, hb);
          live = this.liveCount();
        }
        continue;
      }
      const held = this.book.holding(h.id);
      const speedShare = local || held ? runChunks : shareOf(h, runChunks);
      // Alone in taking part: the whole rest, as bounded runs are only there to share the work.
      const mine = share <= 1 && speedShare > 0 ? runChunks : speedShare;
      // Hopelessly slower than the best: no new work and no stealing, only a hedge of a stall.
      if (mine === 0) {
        const hb = this.scheduler.unassigned === 0 ? this.hedgeFor(now, h.id) : undefined;
        if (hb) {
          this.start(now, h.id, hb);
          live++;
        }
        continue;
      }
      const run = { share: 1, maxRunChunks: local ? count : mine, from: this.startAt };
      const holders = this.book.holders;
      const asg =
        (held
          ? this.scheduler.assign(h.id, run, this.book.exclude(h.id))
          : ((this.book.swarm && !local
              ? this.scheduler.assign(
                  h.id,
                  { ...run, from: this.spread() },
                  { has: (i: number) => holders[i] !== 0 },
                )
              : undefined) ?? this.scheduler.assign(h.id, run, this.book.exclude(h.id)))) ??
        (this.scheduler.unassigned === 0 && !local
          ? (this.hedgeFor(now, h.id) ??
            this.endgameFor(now, h.id) ??
            (held ? undefined : this.stealFor(h.id, mine)))
          : undefined);
      if (!asg) continue;
      this.start(now, h.id, asg);
      live = this.liveCount();
    }
    if (this.fetches.size === 0) {
      const waiting = this.book.penaltyEnds(now).length > 0;
      if (!waiting) this.fail(noSourceError(this.sourceStats(), (id) => this.label(id), this.target));
    }
  }

  /**
   * What a chunk from `id` costs as of `now`: its measured pace, or longer when its running fetch
   * has waited longer than that for its next chunk (a source that stalls stops looking fast, so
   * the channels it outranks are probed and can hedge it). Undefined until measured.
   */
  private paceNow(now: number, id: string): number | undefined {
    const pace = this.book.pace(id);
    return pace === undefined ? undefined : Math.max(pace, this.waited(now, id));
  }

  /**
   * What measured source `id` would need for the chunks not handed out yet: its pace once data
   * flows (a first chunk's request and a channel's start-up left out, they would inflate it many
   * times) or, when it stalls (waits over PROBE_GRACE_MS and 4 times that pace), its wait per
   * chunk; 0 while it settles (one chunk so far, not stalled): too early to judge.
   */
  private restFor(now: number, id: string, remaining: number): number {
    const steady = this.book.steady(id);
    const waited = this.waited(now, id);
    const stalled = waited >= Math.max(PROBE_GRACE_MS, 4 * (steady ?? 0));
    const per = stalled ? waited : (steady ?? 0);
    return per * remaining;
  }

  /** How long the running fetch of `id` has waited for its next chunk (0: none running). */
  private waited(now: number, id: string): number {
    let waited = 0;
    for (const f of this.fetches.values())
      if (!f.closed && f.source === id) waited = Math.max(waited, now - f.lastChunkAt);
    return waited;
  }

  /**
   * While a channel waits for its probe (planner/speed-share.ts), how soon to look again: the
   * fastest source's pace times what is left must reach the horizon, so a stall is seen about a
   * quarter of that late at most.
   */
  private probeCheckMs(): number | undefined {
    const left = this.c.chunkCount - this.scheduler.done;
    if (left === 0) return undefined;
    const waiting = this.book
      .ids()
      .some(
        (id) =>
          !this.busy.has(id) &&
          !this.isLocal(id) &&
          this.book.pace(id) === undefined &&
          this.book.available(this.now, id),
      );
    if (!waiting) return undefined;
    const horizon = this.probeHorizonMs ?? PROBE_HORIZON_MS;
    return Math.max(50, Math.min(1000, horizon / left / 4));
  }

  /** The stalled fetch `idle` should take over now, if any (its rest becomes `idle`'s run). */
  private hedgeFor(now: number, idle: string): Assignment | undefined {
    const deadline = this.hedgeDeadline(idle);
    if (deadline === undefined) return undefined;
    // A partial source (a peer still downloading) takes over only what it holds.
    const held = this.book.holding(idle);
    const victim = stalledFetch(this.fetches.values(), idle, now, deadline, held, (id) => this.isLocal(id));
    if (!victim) return undefined;
    const b = this.scheduler.hedge(victim.asg, idle);
    if (!b) return undefined;
    victim.hedged = true;
    this.emit({ type: 'shrink', fetch: victim.id, end: victim.asg.end });
    return b;
  }

  /**
   * End-game (nothing left to hand out): `idle` takes over the rest of a slower source's run when
   * it should finish it sooner than that source would (fetch.ts slowerFetch), and the slower fetch
   * is cancelled, not penalised (it is slower, not faulty). So the download ends at the pace of its
   * fastest source instead of waiting for a slow channel's probe or short run, and the slow
   * channel stops costing CPU at once.
   */
  private endgameFor(now: number, idle: string): Assignment | undefined {
    const idleMs = this.book.pace(idle);
    // Part of hedging (off with it): BitTorrent's end-game, for a source merely slower.
    if (!this.hedgeCfg || idleMs === undefined || this.isLocal(idle)) return undefined;
    const victim = slowerFetch(
      this.fetches.values(),
      idle,
      now,
      idleMs,
      (id) => this.book.pace(id),
      this.book.holding(idle),
      (id) => this.isLocal(id),
      this.hedgeCfg.minMs,
    );
    if (!victim) return undefined;
    const b = this.scheduler.hedge(victim.asg, idle);
    if (!b) return undefined;
    this.close(victim, `${this.label(idle)} is faster: it takes over chunks [${b.next}, ${b.end})`);
    this.scheduler.release(victim.asg);
    return b;
  }

  /**
   * Where to look for a chunk no peer has, for a full source in a swarm: a new place each time
   * (golden-ratio steps from `startAt`), so nodes asking one seed at once rarely ask for the same.
   */
  private spread(): number {
    this.spreads++;
    return Math.floor((this.startAt + this.spreads * 0.6180339887 * this.c.chunkCount) % this.c.chunkCount);
  }

  /**
   * Work stealing for `idle`: the back half of the largest network run, at most `max` chunks
   * (a slower source's share); its fetch is told where to stop.
   */
  private stealFor(idle: string, max?: number): Assignment | undefined {
    const b = this.scheduler.steal(idle, 2, (a) => !this.isLocal(a.sourceId), max);
    if (!b) return undefined;
    for (const f of this.fetches.values())
      if (!f.closed && f.asg.end === b.next && f.asg.next < b.next && f.source !== idle)
        this.emit({ type: 'shrink', fetch: f.id, end: f.asg.end });
    return b;
  }

  private hedgeDeadline(idle: string): number | undefined {
    return this.hedgeCfg ? this.book.hedgeDeadline(idle, this.c.chunkSize, this.hedgeCfg) : undefined;
  }

  /** The earliest instant a hedge may become due (for pollTimeout), if an idle source could hedge. */
  private hedgeDue(): number | undefined {
    if (!this.hedgeCfg || this.scheduler.unassigned > 0) return undefined;
    let best: number | undefined;
    for (const id of this.book.ids()) {
      if (this.busy.has(id) || !this.book.available(this.now, id)) continue;
      const d = this.hedgeDeadline(id);
      if (d === undefined) continue;
      const t = nextStall(this.fetches.values(), id, this.now, d, (x) => this.isLocal(x));
      if (t !== undefined && (best === undefined || t < best)) best = t;
      const idleMs = this.book.pace(id);
      const e =
        idleMs === undefined
          ? undefined
          : nextTakeover(
              this.fetches.values(),
              id,
              this.now,
              idleMs,
              (x) => this.book.pace(x),
              (x) => this.isLocal(x),
              this.hedgeCfg?.minMs,
            );
      if (e !== undefined && (best === undefined || e < best)) best = e;
    }
    return best;
  }

  /** Chunk `index` was just delivered by `by`: fetches also holding it move on; an emptied one was overtaken. */
  private overtake(now: number, index: number, by: Fetch): void {
    for (const g of this.fetches.values()) {
      if (g === by || g.closed || g.asg.next !== index) continue;
      this.scheduler.advance(g.asg);
      if (g.asg.next < g.asg.end) continue;
      if (g.hedged) {
        const ms = Math.round(now - g.lastChunkAt);
        this.failFetch(now, g, {
          code: 'E_SLOW_SOURCE',
          message: `${this.label(g.source)}: stalled ${ms} ms on chunk ${index}, which ${this.label(by.source)} delivered meanwhile`,
        });
      } else this.close(g, `chunk ${index} was delivered by another source`);
    }
  }

  private start(now: number, source: string, asg: Assignment): void {
    const f: Fetch = {
      id: this.nextFetch++,
      source,
      asg,
      started: now,
      lastChunkAt: now,
      fetched: 0,
      chunks: 0,
      win: new RateWindow(this.c.slowWindowMs, now),
      closed: false,
      hedged: false,
    };
    this.fetches.set(f.id, f);
    this.busy.add(source);
    this.emit({ type: 'fetch', fetch: f.id, source, start: asg.next, end: asg.end });
  }

  /** The machine ends `f` with a failure of its own finding (slow, corrupt, overtaken). */
  private failFetch(now: number, f: Fetch, err: FetchError): void {
    this.close(f, err.message);
    this.recordFailure(now, f.source, err, f.chunks > 0);
    this.scheduler.release(f.asg);
    this.schedule(now);
  }

  private close(f: Fetch, reason: string): void {
    if (f.closed) return;
    f.closed = true;
    this.emit({ type: 'cancel', fetch: f.id, reason });
  }

  private recordFailure(now: number, source: string, err: FetchError, progressed: boolean): FailureAction {
    const { kind, action } = this.book.failed(now, source, err, progressed, this.c.policy);
    this.emit({ type: 'source-failed', source, code: err.code, message: err.message, kind, action });
    return action;
  }

  /** Folds what fetch `f` measured into its source's health (rates over real transfers only). */
  private measure(now: number, f: Fetch, ok: boolean): void {
    if (f.firstByte !== undefined)
      this.book.measure(f.source, f.firstByte - f.started, f.fetched, now - f.firstByte, ok);
  }

  private progress(now: number, force: boolean): void {
    if (!force && now - this.lastProgress < this.c.progressMs) return;
    this.lastProgress = now;
    this.emit({
      type: 'progress',
      bytesDone: this.verified,
      bytesFetched: this.fetchedBytes,
      rateBps: Math.round(this.total.rate(now)),
      chunksDone: this.scheduler.done,
      chunksTotal: this.c.chunkCount,
      active: [...this.fetches.values()].filter((f) => !f.closed).map((f) => f.source),
    });
  }

  private fail(err: DchatError): void {
    if (this.failedWith) return;
    this.failedWith = err;
    for (const f of this.fetches.values()) this.close(f, err.message);
    this.emit({ type: 'failed', error: err, keepPartial: err.code !== 'E_IO' });
  }

  private emit(a: MachineAction): void {
    this.out.push(a);
  }

  private liveCount(): number {
    let n = 0;
    for (const f of this.fetches.values()) if (!f.closed) n++;
    return n;
  }

  private isLocal(id: string): boolean {
    return this.book.isLocal(id);
  }

  private label(id: string): string {
    return this.book.label(id);
  }

  private len(index: number): number {
    return Math.min(this.c.chunkSize, this.c.size - index * this.c.chunkSize);
  }
}
