/**
 * The download engine (I/O around the pure planner). For one trusted target:
 *   1. a verified copy already at the final path ends it at once (the local cache);
 *   2. the chunk table comes from a local copy or any source and is checked against the signed
 *      Merkle root before use;
 *   3. missing chunks (not recorded by a previous run's resume state) are fetched as long ranges
 *      from several ranked sources at once; every chunk is checked (BLAKE3 against the table)
 *      BEFORE it is written to the partial file; a source that fails is penalised or banned
 *      (planner/penalty.ts) and its chunks go elsewhere; a dropped connection first resumes on the
 *      same source from its last verified chunk; a source below the minimum rate is dropped;
 *   4. SHA-256 + BLAKE3 of the whole file are computed meanwhile, in file order (OrderedDigest);
 *   5. the file is fsynced, checked as a whole against the signed target (checkPackage), and only
 *      then renamed to $DCHAT_HOME/packages/dchat-<version>-<platform>, with its chunk table and
 *      signed target entry beside it for offline `verify`.
 * Nothing ever appears at the final path unless it passed every check; an interrupted run leaves
 * a partial file plus resume state (download/resume.ts) that the next run continues from.
 */
import { constants, write as fsWrite } from 'node:fs';
import { type FileHandle, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import type { Root } from '@tufjs/models';
import { chunkHashHex, digestEquals } from '../crypto/hash.ts';
import {
  DchatError,
  type ErrorCode,
  isSecurityCode,
  SourceError,
  toDchatError,
  VerificationError,
} from '../errors.ts';
import { type ChunkTable, chunkRange, parseChunkTable, serializeChunkTable } from '../model/chunks.ts';
import { LIMITS } from '../model/limits.ts';
import type { PackageTarget } from '../model/package.ts';
import { CacheSource } from '../sources/cache.ts';
import { readCapped } from '../sources/directory-fetcher.ts';
import { releasePiece } from '../sources/piece-pool.ts';
import type { Source } from '../sources/source.ts';
import { copyFileAtomic, fsyncDir, writeFileAtomic } from '../store/atomic.ts';
import { digestFile } from '../store/file-digest.ts';
import type { HomePaths } from '../store/home.ts';
import { commitPackage } from '../store/package-sidecars.ts';
import { checkChunkTable, checkPackage } from '../trust/package-check.ts';
import { OrderedDigest } from './ordered-digest.ts';
import {
  classifyFailure,
  DEFAULT_PENALTY_POLICY,
  type FailureAction,
  type FailureKind,
  onSourceFailure,
  onSourceSuccess,
  type PenaltyPolicy,
} from './planner/penalty.ts';
import { isAvailable, newHealth, rankSources, type SourceHealth } from './planner/ranking.ts';
import { effectiveMinRate, RateWindow, TokenBucket } from './planner/rate.ts';
import { type Assignment, ChunkScheduler } from './planner/schedule.ts';
import {
  acquireLock,
  discardPartial,
  loadResume,
  type PartialPaths,
  partialPaths,
  saveResume,
} from './resume.ts';

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
  signal?: AbortSignal;
  onEvent?: (e: DownloadEvent) => void;
  /** Called once at the end, success or not, with what each source did (health records). */
  onFinish?: (reports: SourceReport[]) => void;
  progressIntervalMs?: number;
  /** Milliseconds clock (tests may pin it; penalties and rates are judged on it). */
  clock?: () => number;
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

const RUN_BYTES = 64 * 1024 * 1024;
const CHECKPOINT_BYTES = 64 * 1024 * 1024;

export async function downloadPackage(o: DownloadOptions): Promise<DownloadResult> {
  return new Download(o).run();
}

interface Task {
  id: number;
  sourceId: string;
  source: Source;
  asg: Assignment;
  ctl: AbortController;
  win: RateWindow;
  started: number;
  firstByte?: number;
  fetched: number;
  chunks: number;
  promise: Promise<void>;
}

class Download {
  private readonly o: DownloadOptions;
  private readonly target: PackageTarget;
  private readonly clock: () => number;
  private readonly pp: PartialPaths;
  private readonly finalPath: string;
  private readonly health = new Map<string, SourceHealth>();
  private readonly sources = new Map<string, Source>();
  private readonly reports = new Map<string, SourceReport>();
  private readonly tasks = new Map<number, Task>();
  private readonly busy = new Set<string>();
  private readonly written = new Set<number>();
  private readonly resumedGood = new Set<number>();
  private readonly pendingWrites = new Set<Promise<void>>();
  private writeChain: Promise<void> = Promise.resolve();
  /** Chunks a local copy holds damaged: never asked from it again (other chunks still are). */
  private readonly localBad = new Map<string, Set<number>>();
  private readonly policy: PenaltyPolicy;
  private readonly parallel: number;
  private readonly bucket: TokenBucket | undefined;
  private readonly total: RateWindow;
  private readonly own: Source[] = [];
  private table!: ChunkTable;
  private scheduler!: ChunkScheduler;
  private digest!: OrderedDigest;
  private fh: FileHandle | undefined;
  private fatal: DchatError | undefined;
  private wakeResolve: (() => void) | undefined;
  private wakePromise: Promise<void>;
  private nextTaskId = 1;
  private fetched = 0;
  private verifiedBytes = 0;
  private resumedBytes = 0;
  private maxFetch = 0;
  private lastCheckpoint = 0;
  private checkpointBytes = 0;
  private checkpointed = -1;
  private checkpointChain: Promise<void> = Promise.resolve();
  private lastProgress = 0;
  private chunkTableFrom = '';
  private readonly started: number;

  constructor(o: DownloadOptions) {
    this.o = o;
    this.target = o.target;
    this.clock = o.clock ?? Date.now;
    this.started = this.clock();
    this.pp = partialPaths(o.paths, o.target.path);
    this.finalPath = o.paths.packageFile(o.target.custom.version, o.target.custom.platform);
    this.policy = o.penalty ?? DEFAULT_PENALTY_POLICY;
    this.parallel = Math.max(1, o.parallelSources ?? 3);
    this.bucket =
      o.limitRateBps && o.limitRateBps > 0 ? new TokenBucket(o.limitRateBps, this.clock()) : undefined;
    this.total = new RateWindow(2000, this.clock());
    this.wakePromise = new Promise((r) => {
      this.wakeResolve = r;
    });
    for (const s of o.sources) this.addSource(s);
  }

  async run(): Promise<DownloadResult> {
    await mkdir(this.pp.dir, { recursive: true });
    const release = await acquireLock(this.pp);
    const onAbort = () => this.fail(new DchatError('E_ABORTED', 'download interrupted'));
    this.o.signal?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    try {
      this.o.signal?.throwIfAborted();
      const present = await this.checkExisting();
      if (present) return present;
      await this.addSuspectCache();
      this.table = await this.loadChunkTable();
      const resumed = await loadResume(this.pp, this.target);
      await this.writeLocal(this.pp.table, serializeChunkTable(this.table));
      this.fh = await open(this.pp.part, constants.O_RDWR | constants.O_CREAT, 0o644);
      this.scheduler = new ChunkScheduler(this.table.chunks.length, resumed);
      for (const i of resumed) this.resumedGood.add(i);
      this.resumedBytes = resumed.reduce((n, i) => n + this.chunkLength(i), 0);
      this.verifiedBytes = this.resumedBytes;
      this.maxFetch = 3 * this.target.length + 64 * 1024 * 1024;
      this.digest = new OrderedDigest({
        table: this.table,
        readChunk: (i) => this.readChunk(i),
        onBadChunk: (i) => this.onBadResumedChunk(i),
        // Written and hashed: the buffer can carry the next piece of a download.
        onReturn: releasePiece,
        ...(this.o.windowBytes !== undefined ? { windowBytes: this.o.windowBytes } : {}),
      });
      this.digest.addResumed(resumed);
      this.emit({
        type: 'start',
        target: this.target.path,
        size: this.target.length,
        chunks: this.table.chunks.length,
        chunk_size: this.table.chunk_size,
        resumed_chunks: resumed.length,
        resumed_bytes: this.resumedBytes,
        sources: [...this.sources.values()].map((s) => s.uri),
      });
      const tick = Math.max(50, Math.min(1000, (this.o.slowWindowMs ?? 20_000) / 4));
      timer = setInterval(() => this.onTick(), tick);
      const digests = await this.loop();
      return await this.finish(digests);
    } catch (err) {
      const e = toDchatError(err);
      await this.shutdown(e);
      throw e;
    } finally {
      if (timer) clearInterval(timer);
      this.o.signal?.removeEventListener('abort', onAbort);
      await this.fh?.close().catch(() => {});
      await Promise.all(this.own.map((s) => s.close?.().catch(() => {})));
      await release();
      try {
        this.o.onFinish?.([...this.reports.values()]);
      } catch {
        // Reporting must not change the outcome.
      }
    }
  }

  private addSource(s: EngineSource): void {
    const id = s.source.id;
    if (this.sources.has(id)) return;
    this.sources.set(id, s.source);
    this.health.set(
      id,
      newHealth(id, s.priority, {
        ...(s.region !== undefined ? { region: s.region } : {}),
        ...(s.latencyMs !== undefined ? { latencyMs: s.latencyMs } : {}),
        ...(s.throughputBps !== undefined ? { throughputBps: s.throughputBps } : {}),
        ...(s.failureCount !== undefined ? { failureCount: s.failureCount } : {}),
      }),
    );
    this.reports.set(id, {
      id,
      uri: s.source.uri,
      type: s.source.type,
      bytes: 0,
      fetched: 0,
      chunks: 0,
      requests: 0,
      failures: [],
      banned: false,
      ok: false,
    });
  }

  // ---- 1. the local copy -------------------------------------------------------------------

  /** A verified file at the final path ends the download; a bad one is moved out of packages/. */
  private async checkExisting(): Promise<DownloadResult | undefined> {
    const st = await stat(this.finalPath).catch(() => undefined);
    if (!st) return undefined;
    const info = this.target.custom.chunks;
    try {
      const d = await digestFile(this.finalPath, {
        maxBytes: this.target.length,
        chunkSize: info.size,
        ...(this.o.signal ? { signal: this.o.signal } : {}),
      });
      const verdict = checkPackage(this.target, d, this.o.root, this.o.allTargets ?? []);
      if (!verdict.ok) throw new VerificationError(verdict.code ?? 'E_HASH_MISMATCH', verdict.message ?? '');
      const table: ChunkTable = {
        format: 'dchat.chunks/1',
        hash: 'blake3',
        chunk_size: info.size,
        size: d.size,
        chunks: d.chunks ?? [],
      };
      checkChunkTable(this.target, table);
      await this.writeSidecars(table);
      this.emit({ type: 'cached', path: this.finalPath });
      return {
        path: this.finalPath,
        target: this.target.path,
        version: this.target.custom.version,
        platform: this.target.custom.platform,
        size: d.size,
        sha256: d.sha256,
        blake3: d.blake3,
        alreadyPresent: true,
        chunks: table.chunks.length,
        resumedChunks: 0,
        resumedBytes: 0,
        fetchedBytes: 0,
        durationMs: this.clock() - this.started,
        chunkTableFrom: 'local',
        sources: [],
        checks: verdict.checks,
      };
    } catch (err) {
      const e = toDchatError(err);
      if (e.code === 'E_ABORTED' || e.code === 'E_IO') throw e;
      // Not the release: it leaves packages/ now, and serves only the chunks that still verify.
      await mkdir(this.pp.dir, { recursive: true });
      await rename(this.finalPath, this.pp.suspect);
      await fsyncDir(this.o.paths.packagesDir).catch(() => {});
      this.emit({ type: 'cache-invalid', path: this.finalPath, code: e.code, message: e.message });
      return undefined;
    }
  }

  private async addSuspectCache(): Promise<void> {
    const st = await stat(this.pp.suspect).catch(() => undefined);
    if (!st?.isFile()) return;
    const source = new CacheSource({ files: { [this.target.path]: this.pp.suspect }, id: 'cache' });
    this.own.push(source);
    this.addSource({ source, priority: 0 });
  }

  // ---- 2. the chunk table ------------------------------------------------------------------

  private async loadChunkTable(): Promise<ChunkTable> {
    const name = this.target.path;
    for (const local of [
      this.pp.table,
      this.o.paths.chunkTableFile(this.target.custom.version, this.target.custom.platform),
    ]) {
      const bytes = await readCapped(local, LIMITS.chunkTableBytes).catch(() => undefined);
      if (!bytes) continue;
      try {
        const table = parseChunkTable(bytes);
        checkChunkTable(this.target, table);
        this.chunkTableFrom = 'local';
        return table;
      } catch {
        // A stale or damaged local copy: a source's table decides.
      }
    }
    let lastSecurity: DchatError | undefined;
    const tried: string[] = [];
    for (const h of rankSources([...this.health.values()], this.clock(), this.o.preferredRegion)) {
      const source = this.sources.get(h.id) as Source;
      this.o.signal?.throwIfAborted();
      const report = this.reports.get(h.id) as SourceReport;
      try {
        report.requests++;
        const timeout = AbortSignal.timeout(20_000);
        const bytes = await source.fetchChunkTable(name, {
          maxBytes: LIMITS.chunkTableBytes,
          signal: this.o.signal ? AbortSignal.any([this.o.signal, timeout]) : timeout,
        });
        if (!bytes) {
          tried.push(`${source.uri}: none`);
          continue;
        }
        let table: ChunkTable;
        try {
          table = parseChunkTable(bytes);
          checkChunkTable(this.target, table);
        } catch (err) {
          const e = toDchatError(err);
          throw new SourceError(
            e.code === 'E_TOO_LARGE' ? 'E_TOO_LARGE' : 'E_CHUNK_MISMATCH',
            `${source.uri}: ${e.message}`,
            {
              cause: e,
            },
          );
        }
        this.chunkTableFrom = source.uri;
        this.emit({ type: 'chunk-table', source: source.uri });
        return table;
      } catch (err) {
        const e = toDchatError(err);
        if (e.code === 'E_ABORTED' && this.o.signal?.aborted) throw e;
        if (isSecurityCode(e.code)) lastSecurity = e;
        tried.push(`${source.uri}: ${e.code} ${e.message}`);
        this.recordFailure(h.id, e, false);
      }
    }
    if (lastSecurity) throw lastSecurity;
    throw new DchatError(
      'E_NO_SOURCE',
      `no source has a usable chunk table for ${name}${tried.length ? ` (${tried.join('; ')})` : ''}`,
    );
  }

  // ---- 3. chunks ---------------------------------------------------------------------------

  private async loop(): Promise<import('../crypto/hash.ts').Digests> {
    for (;;) {
      if (this.fatal) throw this.fatal;
      if (this.scheduler.isComplete()) {
        const r = await Promise.race([this.digest.done.then((d) => ({ d })), this.wakeup()]);
        if (r) return r.d;
        continue;
      }
      this.startTasks();
      if (this.tasks.size === 0) {
        const now = this.clock();
        const waits = [...this.health.values()]
          .filter((h) => !h.banned && h.penaltyUntil !== undefined && h.penaltyUntil > now)
          .map((h) => (h.penaltyUntil as number) - now);
        if (waits.length === 0) throw this.noSourceError();
        await Promise.race([sleep(Math.min(...waits)), this.wakeup(), this.digest.done]);
        continue;
      }
      await Promise.race([
        ...[...this.tasks.values()].map((t) => t.promise),
        this.wakeup(),
        this.digest.done,
      ]);
    }
  }

  private wakeup(): Promise<undefined> {
    return this.wakePromise.then(() => undefined);
  }

  private wake(): void {
    const r = this.wakeResolve;
    this.wakePromise = new Promise((res) => {
      this.wakeResolve = res;
    });
    r?.();
  }

  /**
   * Hands out work at `now`: a local copy first takes everything it may hold (one run), network
   * sources share the rest in bounded runs, and an idle network source steals the back half of the
   * largest network run in flight (never a local one: that would only refetch what is on disk).
   */
  private startTasks(): void {
    const now = this.clock();
    const ranked = rankSources([...this.health.values()], now, this.o.preferredRegion).filter((h) =>
      isAvailable(h, now),
    );
    const isLocal = (id: string) => this.sources.get(id)?.type === 'cache';
    const network = ranked.filter((h) => !isLocal(h.id)).length;
    const share = Math.min(this.parallel, network);
    const count = this.table.chunks.length;
    const runChunks =
      share <= 1
        ? count
        : Math.max(
            1,
            Math.min(
              Math.floor(RUN_BYTES / this.table.chunk_size),
              Math.ceil(this.scheduler.unassigned / share),
            ),
          );
    for (const h of ranked) {
      if (this.tasks.size >= this.parallel) break;
      if (this.busy.has(h.id)) continue;
      const local = isLocal(h.id);
      const asg =
        this.scheduler.assign(
          h.id,
          { share: 1, maxRunChunks: local ? count : runChunks },
          this.localBad.get(h.id),
        ) ??
        (this.scheduler.unassigned === 0 && !local
          ? this.scheduler.steal(h.id, 2, (a) => !isLocal(a.sourceId))
          : undefined);
      if (!asg) continue;
      this.startTask(h.id, asg);
    }
  }

  private startTask(sourceId: string, asg: Assignment): void {
    const now = this.clock();
    const task: Task = {
      id: this.nextTaskId++,
      sourceId,
      source: this.sources.get(sourceId) as Source,
      asg,
      ctl: new AbortController(),
      win: new RateWindow(this.o.slowWindowMs ?? 20_000, now),
      started: now,
      fetched: 0,
      chunks: 0,
      promise: Promise.resolve(),
    };
    this.busy.add(sourceId);
    this.tasks.set(task.id, task);
    task.promise = this.runTask(task);
  }

  private async runTask(task: Task): Promise<void> {
    let err: DchatError | undefined;
    try {
      await this.fetchAssignment(task);
    } catch (e) {
      err = toDchatError(e);
    }
    this.tasks.delete(task.id);
    this.busy.delete(task.sourceId);
    const now = this.clock();
    const h = this.health.get(task.sourceId) as SourceHealth;
    const report = this.reports.get(task.sourceId) as SourceReport;
    if (task.firstByte !== undefined) {
      const measured = onSourceSuccess(h, {
        latencyMs: task.firstByte - task.started,
        bytes: task.fetched,
        ms: now - task.firstByte,
      });
      if (measured.latencyMs !== undefined) report.latencyMs = Math.round(measured.latencyMs);
      if (measured.throughputBps !== undefined) report.throughputBps = Math.round(measured.throughputBps);
      if (!err) this.health.set(task.sourceId, measured);
      else
        this.health.set(task.sourceId, {
          ...h,
          ...(measured.latencyMs !== undefined ? { latencyMs: measured.latencyMs } : {}),
          ...(measured.throughputBps !== undefined ? { throughputBps: measured.throughputBps } : {}),
        });
    }
    if (!err || this.fatal || (err.code === 'E_ABORTED' && this.o.signal?.aborted)) {
      this.scheduler.release(task.asg);
      return;
    }
    const action = this.recordFailure(task.sourceId, err, task.chunks > 0);
    if (action === 'resume' && !this.fatal) {
      // Same source, same range, from the last verified chunk: before anyone else is tried.
      const again = this.scheduler.reopen(task.asg);
      if (again) this.startTask(task.sourceId, again);
      return;
    }
    this.scheduler.release(task.asg);
  }

  private recordFailure(sourceId: string, err: DchatError, progressed: boolean): FailureAction {
    const h = this.health.get(sourceId) as SourceHealth;
    const report = this.reports.get(sourceId) as SourceReport;
    const status = (err.details as { status?: number } | undefined)?.status;
    const kind = classifyFailure(err.code, status);
    const d = onSourceFailure(h, kind, this.clock(), progressed, this.policy);
    this.health.set(sourceId, d.health);
    report.failures.push({ code: err.code, message: err.message, kind, action: d.action });
    report.banned = d.health.banned;
    this.emit({
      type: 'source-failed',
      source: report.uri,
      code: err.code,
      message: err.message,
      action: d.action,
    });
    return d.action;
  }

  private async fetchAssignment(task: Task): Promise<void> {
    const { asg, source } = task;
    const report = this.reports.get(task.sourceId) as SourceReport;
    const signal = this.o.signal ? AbortSignal.any([this.o.signal, task.ctl.signal]) : task.ctl.signal;
    while (asg.next < asg.end) {
      const start = asg.next * this.table.chunk_size;
      const end = Math.min(asg.end * this.table.chunk_size, this.target.length);
      const req = {
        target: this.target.path,
        sha256: this.target.sha256,
        start,
        end,
        maxBytes: end - start,
        signal,
      };
      report.requests++;
      if (!source.streamRange) {
        const { end: cEnd } = chunkRange(this.table, asg.next);
        const data = await source.fetchRange({ ...req, end: cEnd, maxBytes: cEnd - start });
        this.received(task, data.byteLength);
        if (data.byteLength !== cEnd - start)
          throw new SourceError(
            'E_SIZE_MISMATCH',
            `${source.uri}: chunk ${asg.next} has ${data.byteLength} bytes`,
          );
        await this.throttle(data.byteLength, signal);
        await this.acceptChunk(task, asg.next, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
        continue;
      }
      let idx = asg.next;
      let buf: Buffer | undefined;
      let fill = 0;
      let got = 0;
      let stopped = false;
      stream: for await (const piece of source.streamRange(req)) {
        got += piece.byteLength;
        if (got > end - start)
          throw new SourceError(
            'E_TOO_LARGE',
            `${source.uri} sent more than the ${end - start} bytes asked for`,
          );
        this.received(task, piece.byteLength);
        await this.throttle(piece.byteLength, signal);
        const bytes = Buffer.isBuffer(piece)
          ? piece
          : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
        let off = 0;
        while (off < bytes.byteLength) {
          const len = this.chunkLength(idx);
          let chunk: Buffer | undefined;
          if (fill === 0 && bytes.byteLength - off >= len) {
            // A whole chunk inside the piece: checked and written from there, no copy.
            chunk = off === 0 && len === bytes.byteLength ? bytes : bytes.subarray(off, off + len);
            off += len;
          } else {
            buf ??= Buffer.allocUnsafe(len);
            const n = Math.min(bytes.byteLength - off, len - fill);
            bytes.copy(buf, fill, off, off + n);
            fill += n;
            off += n;
            if (fill === len) {
              chunk = buf;
              buf = undefined;
              fill = 0;
            }
          }
          if (!chunk) continue;
          await this.acceptChunk(task, idx, chunk);
          idx++;
          // Done, or the tail of this run was handed to another source: stop reading.
          if (idx >= asg.end) {
            stopped = true;
            break stream;
          }
        }
      }
      // A source must deliver its whole range or fail; one that just stops is a truncation.
      if (!stopped && got < end - start)
        throw new SourceError('E_NETWORK', `${source.uri}: range ended after ${got} of ${end - start} bytes`);
    }
  }

  private received(task: Task, n: number): void {
    const now = this.clock();
    task.firstByte ??= now;
    task.fetched += n;
    task.win.add(n, now);
    this.total.add(n, now);
    this.fetched += n;
    (this.reports.get(task.sourceId) as SourceReport).fetched += n;
    if (this.fetched > this.maxFetch)
      this.fail(
        new DchatError(
          'E_TOO_LARGE',
          `received ${this.fetched} bytes for a ${this.target.length}-byte package: giving up`,
        ),
      );
    if (this.fatal) throw this.fatal;
  }

  private async throttle(n: number, signal: AbortSignal): Promise<void> {
    if (!this.bucket) return;
    const wait = this.bucket.take(n, this.clock());
    if (wait > 0) await sleep(wait, signal);
  }

  /**
   * Verify, then write, then hand to the whole-file hashes: in that order, always. Returns false
   * for a damaged chunk of a local copy (skipped: a network source fetches it).
   */
  private async acceptChunk(task: Task, index: number, data: Buffer): Promise<boolean> {
    if (!digestEquals(chunkHashHex(data), this.table.chunks[index] as string)) {
      if (task.source.type === 'cache') {
        const bad = this.localBad.get(task.sourceId) ?? new Set<number>();
        bad.add(index);
        this.localBad.set(task.sourceId, bad);
        this.scheduler.skip(task.asg, index);
        this.emit({ type: 'chunk-recheck-failed', chunk: index });
        this.wake();
        return false;
      }
      throw new SourceError(
        'E_CHUNK_MISMATCH',
        `${task.source.uri}: chunk ${index} does not match the signed chunk table`,
        { details: { chunk: index } },
      );
    }
    if (this.fatal) throw this.fatal;
    const written = this.write(index, data);
    this.scheduler.complete(task.asg, index);
    task.chunks++;
    const report = this.reports.get(task.sourceId) as SourceReport;
    report.chunks++;
    report.bytes += data.byteLength;
    report.ok = !report.banned;
    this.verifiedBytes += data.byteLength;
    // Progress made: a later drop on this source may resume again.
    const h = this.health.get(task.sourceId) as SourceHealth;
    if (h.resumesWithoutProgress !== 0 || h.consecutiveFailures !== 0)
      this.health.set(task.sourceId, { ...h, resumesWithoutProgress: 0, consecutiveFailures: 0 });
    if (this.pendingWrites.size >= 32) await Promise.race(this.pendingWrites);
    await this.digest.offer(index, data, written);
    this.maybeCheckpoint();
    this.maybeProgress(false);
    return true;
  }

  /**
   * Queues the write of a verified chunk. Writes run one after another: several threads writing
   * one file only contend for its inode lock (CPU burnt spinning) and scatter the disk I/O.
   */
  private write(index: number, data: Buffer): Promise<void> {
    const fd = (this.fh as FileHandle).fd;
    const position = index * this.table.chunk_size;
    const run = this.writeChain.then(() => writeAll(fd, data, position));
    this.writeChain = run.catch(() => {});
    const p: Promise<void> = run.then(
      () => {
        this.written.add(index);
        this.pendingWrites.delete(p);
      },
      (err: unknown) => {
        this.pendingWrites.delete(p);
        this.fail(
          new DchatError('E_IO', `cannot write ${this.pp.part}: ${(err as Error).message}`, { cause: err }),
        );
      },
    );
    this.pendingWrites.add(p);
    return p;
  }

  private async readChunk(index: number): Promise<Buffer> {
    const { start, end } = chunkRange(this.table, index);
    const buf = Buffer.allocUnsafe(end - start);
    let off = 0;
    while (off < buf.byteLength) {
      const { bytesRead } = await (this.fh as FileHandle).read(buf, off, buf.byteLength - off, start + off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return buf.subarray(0, off);
  }

  private onBadResumedChunk(index: number): void {
    this.resumedGood.delete(index);
    this.written.delete(index);
    this.scheduler.markMissing(index);
    this.verifiedBytes -= this.chunkLength(index);
    this.resumedBytes -= this.chunkLength(index);
    this.emit({ type: 'chunk-recheck-failed', chunk: index });
    this.wake();
  }

  /**
   * Every `checkpointMs`, or every CHECKPOINT_BYTES written: this also spreads the disk writeback
   * over the download, so the final fsync has little left to flush.
   */
  private maybeCheckpoint(): void {
    const now = this.clock();
    const bytes = this.verifiedBytes - this.checkpointBytes;
    if (now - this.lastCheckpoint < (this.o.checkpointMs ?? 500) && bytes < CHECKPOINT_BYTES) return;
    this.lastCheckpoint = now;
    this.checkpointBytes = this.verifiedBytes;
    void this.checkpoint();
  }

  /** Makes the chunks written so far durable, then records them (never the other way round). */
  private checkpoint(): Promise<void> {
    this.checkpointChain = this.checkpointChain.then(async () => {
      const durable = [...this.written, ...this.resumedGood];
      if (durable.length === this.checkpointed || !this.fh) return;
      try {
        await this.fh.datasync();
        await saveResume(this.pp, this.target, durable, new Date(this.clock()));
        this.checkpointed = durable.length;
      } catch (err) {
        this.fail(toDchatError(err, 'E_IO'));
      }
    });
    return this.checkpointChain;
  }

  private maybeProgress(force: boolean): void {
    const now = this.clock();
    if (!force && now - this.lastProgress < (this.o.progressIntervalMs ?? 200)) return;
    this.lastProgress = now;
    this.emit({
      type: 'progress',
      bytes_done: this.verifiedBytes,
      bytes_total: this.target.length,
      bytes_fetched: this.fetched,
      rate_bps: Math.round(this.total.rate(now)),
      chunks_done: this.scheduler.done,
      chunks_total: this.scheduler.count,
      active: [...this.tasks.values()].map((t) => t.source.uri),
    });
  }

  /** Slow-retrieval guard and progress between chunks. */
  private onTick(): void {
    const now = this.clock();
    const min = effectiveMinRate(this.o.minRateBps ?? 4096, this.o.limitRateBps, this.tasks.size);
    for (const t of this.tasks.values()) {
      if (t.win.tooSlow(now, min)) {
        t.ctl.abort(
          new SourceError(
            'E_SLOW_SOURCE',
            `${t.source.uri}: below the minimum rate of ${Math.round(min)} B/s over ${t.win.windowMs / 1000}s`,
          ),
        );
      }
    }
    this.maybeProgress(false);
  }

  private fail(err: DchatError): void {
    if (this.fatal) return;
    this.fatal = err;
    for (const t of this.tasks.values()) t.ctl.abort(err);
    this.wake();
  }

  /** The error of a run that ran out of sources, from what each source did. */
  private noSourceError(): DchatError {
    const failed = [...this.reports.values()].filter((r) => r.failures.length > 0);
    if (failed.length === 0)
      return new DchatError('E_NO_SOURCE', `no source to download ${this.target.path} from`);
    const all = failed.flatMap((r) => r.failures.map((f) => ({ ...f, uri: r.uri })));
    const summary = failed
      .map((r) => `${r.uri}: ${r.failures.at(-1)?.code} ${r.failures.at(-1)?.message}`)
      .join('; ');
    const details = { failures: all.map((f) => ({ source: f.uri, code: f.code, message: f.message })) };
    const corrupt = all.find((f) => f.kind === 'corrupt');
    if (corrupt)
      return new VerificationError(
        corrupt.code as ErrorCode,
        `${corrupt.message} (no source left that serves ${this.target.path} intact)`,
        {
          details,
        },
      );
    if (all.every((f) => f.kind === 'slow'))
      return new DchatError('E_SLOW_SOURCE', `every source was too slow: ${summary}`, { details });
    if (failed.length === 1) {
      const last = all.at(-1) as (typeof all)[number];
      return new DchatError(last.code as ErrorCode, last.message, { details });
    }
    return new DchatError('E_NO_SOURCE', `no source could deliver ${this.target.path}: ${summary}`, {
      details,
    });
  }

  // ---- 5. the end --------------------------------------------------------------------------

  private async finish(digests: import('../crypto/hash.ts').Digests): Promise<DownloadResult> {
    await Promise.all([...this.pendingWrites]);
    if (this.fatal) throw this.fatal;
    const fh = this.fh as FileHandle;
    // Exactly the signed length: nothing a previous run (or anyone) left past the end survives.
    await fh.truncate(this.target.length);
    await fh.datasync();
    await fh.close();
    this.fh = undefined;
    this.maybeProgress(true);
    const verdict = checkPackage(this.target, digests, this.o.root, this.o.allTargets ?? []);
    if (!verdict.ok) {
      // Every chunk matched the signed table, yet the whole does not match the signed target.
      await discardPartial(this.pp);
      throw new VerificationError(
        verdict.code ?? 'E_HASH_MISMATCH',
        verdict.message ?? 'package check failed',
      );
    }
    this.emit({ type: 'verified', sha256: digests.sha256, blake3: digests.blake3 });
    await this.writeSidecars(this.table, () => this.commit());
    await rm(this.pp.state, { force: true });
    await rm(this.pp.table, { force: true });
    await rm(this.pp.suspect, { force: true });
    return {
      path: this.finalPath,
      target: this.target.path,
      version: this.target.custom.version,
      platform: this.target.custom.platform,
      size: digests.size,
      sha256: digests.sha256,
      blake3: digests.blake3,
      alreadyPresent: false,
      chunks: this.table.chunks.length,
      resumedChunks: this.resumedGood.size,
      resumedBytes: this.resumedBytes,
      fetchedBytes: this.fetched,
      durationMs: this.clock() - this.started,
      chunkTableFrom: this.chunkTableFrom,
      sources: [...this.reports.values()],
      checks: [{ name: 'chunks', ok: true }, ...verdict.checks],
    };
  }

  /** The chunk table and the signed target entry, beside the package (for offline verify). */
  private async writeSidecars(table: ChunkTable, place?: () => Promise<void>): Promise<void> {
    await commitPackage(this.o.paths, this.target, table, place);
  }

  /** The partial file becomes the package: one rename (same filesystem), then the directory fsync. */
  private async commit(): Promise<void> {
    await mkdir(this.o.paths.packagesDir, { recursive: true });
    try {
      await rename(this.pp.part, this.finalPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await copyFileAtomic(this.pp.part, this.finalPath, 0o644);
      await rm(this.pp.part, { force: true });
    }
    await fsyncDir(this.o.paths.packagesDir);
  }

  /** On failure: stop every stream, let writes land, record what is durable for the next run. */
  private async shutdown(err: DchatError): Promise<void> {
    this.fail(err);
    if (this.digest) this.digest.stop(err);
    await Promise.allSettled([...this.tasks.values()].map((t) => t.promise));
    await Promise.allSettled([...this.pendingWrites]);
    if (this.fh && this.scheduler && err.code !== 'E_IO') {
      this.lastCheckpoint = 0;
      await this.checkpoint().catch(() => {});
    }
  }

  private async writeLocal(path: string, data: Buffer): Promise<void> {
    await writeFileAtomic(path, data);
  }

  private chunkLength(index: number): number {
    const { start, end } = chunkRange(this.table, index);
    return end - start;
  }

  private emit(e: DownloadEvent): void {
    try {
      this.o.onEvent?.(e);
    } catch {
      // A broken progress consumer must not break the download.
    }
  }
}

/** pwrite of all of `data` at `position` (short writes continued), on the thread pool. */
function writeAll(fd: number, data: Buffer, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (off: number) => {
      fsWrite(fd, data, off, data.byteLength - off, position + off, (err, n) => {
        if (err) return reject(err);
        if (off + n < data.byteLength) {
          if (n === 0) return reject(new Error('write made no progress'));
          return step(off + n);
        }
        resolve();
      });
    };
    step(0);
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
