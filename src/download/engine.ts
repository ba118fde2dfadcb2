/**
 * The download engine: the pump around the download machine (download/machine). For one trusted
 * target it
 *   1. ends at once on a verified copy at the final path (local-copy.ts; a bad one is moved out
 *      and serves the chunks that still verify),
 *   2. gets the chunk table, checked against the signed Merkle root (chunk-table.ts),
 *   3. performs what the machine asks: fetches (one long range request per run, streamed),
 *      cancels, checkpoints; every chunk is checked (BLAKE3 against the table) BEFORE it is
 *      written to the partial file (partial-file.ts), and the machine hears of every byte, chunk,
 *      failure and tick. Which source fetches what, penalties, the slow guard, hedging and the
 *      final error are the machine's, never decided here;
 *   4. computes SHA-256 + BLAKE3 of the whole file meanwhile, in file order (OrderedDigest);
 *   5. fsyncs the file, checks it as a whole against the signed target (checkPackage), and only
 *      then installs it into packages/ (store/packages.ts) with its chunk table and target entry.
 * Nothing ever appears at the final path unless it passed every check; an interrupted run leaves
 * a partial file plus resume state (resume.ts) that the next run continues from.
 */
import { mkdir, rm } from 'node:fs/promises';
import { chunkHashHex, type Digests, digestEquals } from '../crypto/hash.ts';
import { DchatError, toDchatError, VerificationError } from '../errors.ts';
import { type ChunkTable, chunkLength, serializeChunkTable } from '../model/chunks.ts';
import type { Source } from '../sources/source.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { installPackage, packagePath } from '../store/packages.ts';
import { checkPackage } from '../trust/package-check.ts';
import { sleep } from '../util/sleep.ts';
import { fetchError, loadChunkTable } from './chunk-table.ts';
import { HashGate } from './hash-gate.ts';
import { checkLocalCopy, suspectSource } from './local-copy.ts';
import type { FetchError, MachineAction } from './machine/actions.ts';
import { DownloadMachine } from './machine/machine.ts';
import { OrderedDigest } from './ordered-digest.ts';
import { PartialFile } from './partial-file.ts';
import { acquireLock, discardPartial, loadResume, type PartialPaths, partialPaths } from './resume.ts';
import { type Run, readRun } from './run-reader.ts';
import {
  type DownloadEvent,
  type DownloadOptions,
  type DownloadResult,
  type EngineSource,
  machineConfig,
  machineSource,
  type SourceReport,
  startEvent,
} from './types.ts';

export type { DownloadEvent, DownloadOptions, DownloadResult, EngineSource, SourceReport } from './types.ts';

/**
 * Chunks waiting for the in-order whole-file hashes, by default, per source fetched from at once.
 * Runs shared between sources are sized to fit it (machineConfig), so chunks rarely spill to disk
 * and back: memory is bounded by this window, the hashing backlog (hash-gate.ts) and the buffers
 * in flight, not by the size of the package or the number of sources. 2 MiB: with 4 MiB (and a
 * 4 MiB backlog) three mirrors at 50 MB/s peaked at 144-153 MB (target 150), with 2 MiB at
 * 139-140 MB at the same speed (`npm run bench -- download`, same session).
 */
export const WINDOW_BYTES_PER_STREAM = 2 * 1024 * 1024;

export async function downloadPackage(o: DownloadOptions): Promise<DownloadResult> {
  return new Pump(o).run();
}

interface Task extends Run {
  id: number;
  source: Source;
  ctl: AbortController;
  promise: Promise<void>;
}

class Pump {
  private readonly o: DownloadOptions;
  private readonly clock: () => number;
  private readonly started: number;
  private readonly pp: PartialPaths;
  private readonly sources = new Map<string, Source>();
  private readonly own: Source[] = [];
  private readonly tasks = new Map<number, Task>();
  private readonly m: DownloadMachine;
  private table!: ChunkTable;
  private file: PartialFile | undefined;
  private digest: OrderedDigest | undefined;
  private readonly gate = new HashGate();
  private readonly window: number;
  private fatal: DchatError | undefined;
  private keepPartial = true;
  private done = false;
  private wakeResolve: (() => void) | undefined;

  constructor(o: DownloadOptions) {
    this.o = o;
    this.clock = o.clock ?? Date.now;
    this.started = this.clock();
    this.pp = partialPaths(o.paths, o.target.path);
    const streams = Math.max(1, Math.min(o.parallelSources ?? 3, o.sources.length));
    this.window = o.windowBytes ?? streams * WINDOW_BYTES_PER_STREAM;
    this.m = new DownloadMachine(this.started, machineConfig(o, this.window), o.target.path);
    for (const s of o.sources) this.addSource(s);
  }

  async run(): Promise<DownloadResult> {
    await mkdir(this.pp.dir, { recursive: true });
    const release = await acquireLock(this.pp);
    const onAbort = () =>
      this.input((now) => this.m.abort(now, new DchatError('E_ABORTED', 'download interrupted')));
    this.o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      this.o.signal?.throwIfAborted();
      const { o } = this;
      const local = o.dest
        ? ({ kind: 'none' } as const)
        : await checkLocalCopy(o.paths, this.pp, o.target, o.root, o.allTargets ?? [], o.signal);
      if (local.kind === 'verified') {
        this.emit({ type: 'cached', path: local.result.path });
        return { ...local.result, durationMs: this.clock() - this.started };
      }
      if (local.kind === 'invalid') this.emit(local.event);
      const cache = await suspectSource(this.pp, o.target);
      if (cache) {
        this.own.push(cache);
        this.addSource({ source: cache, priority: 0 }, true);
      }
      const { table, from } = await loadChunkTable(
        o.target,
        o.dest
          ? [this.pp.table]
          : [this.pp.table, o.paths.chunkTableFile(o.target.custom.version, o.target.custom.platform)],
        {
          order: this.m.ranked(this.clock()),
          get: (id) => this.sources.get(id),
          requestSent: (id) => this.m.requestSent(id),
          failed: (id, err) => this.input((now) => this.m.sourceFailed(now, id, err)),
        },
        o.signal,
      );
      this.table = table;
      if (from !== 'local') this.emit({ type: 'chunk-table', source: from });
      const resumed = await loadResume(this.pp, o.target);
      await writeFileAtomic(this.pp.table, serializeChunkTable(table));
      this.file = await PartialFile.open(this.pp, table, o.target, resumed, (e) =>
        this.input((now) => this.m.abort(now, e)),
      );
      this.digest = new OrderedDigest({
        table,
        readChunk: (i) => (this.file as PartialFile).readChunk(i),
        onBadChunk: (i) => this.onLost(i),
        // Written and hashed: the buffer can carry the next piece of a download.
        onReturn: this.gate.returned,
        windowBytes: this.window,
      });
      this.digest.addResumed(resumed);
      const uris = [...this.sources.values()].map((s) => s.uri);
      this.emit(startEvent(o.target, table, resumed, uris));
      this.input((now) => this.m.begin(now, resumed));
      const digests = await this.loop();
      return await this.finish(digests, from);
    } catch (err) {
      const e = toDchatError(err);
      await this.shutdown(e);
      throw e;
    } finally {
      this.o.signal?.removeEventListener('abort', onAbort);
      await this.file?.close();
      await Promise.all(this.own.map((s) => s.close?.().catch(() => {})));
      await release();
      try {
        this.o.onFinish?.(this.reports());
      } catch {
        // Reporting must not change the outcome.
      }
    }
  }

  private addSource(s: EngineSource, local = false): void {
    const id = s.source.id;
    if (this.sources.has(id)) return;
    this.sources.set(id, s.source);
    this.m.sourceAdded(this.clock(), machineSource(s, local));
  }

  /** Feeds the machine one input at the current time, then performs every action it emits. */
  private input<T>(fn: (now: number) => T): T {
    const r = fn(this.clock());
    for (let a = this.m.poll(); a !== undefined; a = this.m.poll()) this.perform(a);
    // Deadlines may have moved even without an action: the loop re-reads pollTimeout.
    this.wake();
    return r;
  }

  private perform(a: MachineAction): void {
    const t = 'fetch' in a ? this.tasks.get(a.fetch) : undefined;
    switch (a.type) {
      case 'fetch': {
        const task: Task = {
          id: a.fetch,
          source: this.sources.get(a.source) as Source,
          next: a.start,
          end: a.end,
          ctl: new AbortController(),
          cancelled: false,
          promise: Promise.resolve(),
        };
        this.tasks.set(task.id, task);
        task.promise = this.runTask(task);
        break;
      }
      case 'shrink':
        if (t) t.end = Math.min(t.end, a.end);
        break;
      case 'cancel': {
        if (t && !t.cancelled) {
          t.cancelled = true;
          t.ctl.abort(new DchatError('E_ABORTED', a.reason));
        }
        break;
      }
      case 'checkpoint':
        void this.file?.checkpoint(new Date(this.clock()));
        break;
      case 'progress':
        this.emit({
          type: 'progress',
          bytes_done: a.bytesDone,
          bytes_total: this.o.target.length,
          bytes_fetched: a.bytesFetched,
          rate_bps: a.rateBps,
          chunks_done: a.chunksDone,
          chunks_total: a.chunksTotal,
          active: a.active.map((id) => this.sources.get(id)?.uri ?? id),
        });
        break;
      case 'source-failed':
        this.emit({
          type: 'source-failed',
          source: this.sources.get(a.source)?.uri ?? a.source,
          code: a.code,
          message: a.message,
          action: a.action,
        });
        break;
      case 'done':
        this.done = true;
        break;
      case 'failed':
        this.fatal ??= a.error;
        this.keepPartial = a.keepPartial;
        break;
    }
  }

  /** Waits for the machine's next deadline, an input, or the whole-file hashes. */
  private async loop(): Promise<Digests> {
    const digest = this.digest as OrderedDigest;
    for (;;) {
      if (this.fatal) throw this.fatal;
      const woken = new Promise<void>((r) => {
        this.wakeResolve = r;
      });
      if (this.done) {
        const r = await Promise.race([digest.done.then((d) => ({ d })), woken]);
        if (r) return r.d;
        continue;
      }
      const due = this.m.pollTimeout();
      let timer: NodeJS.Timeout | undefined;
      const timeout =
        due === Number.POSITIVE_INFINITY
          ? undefined
          : new Promise<void>((r) => {
              timer = setTimeout(r, Math.max(0, due - this.clock()));
            });
      await Promise.race([woken, digest.done, ...(timeout ? [timeout] : [])]);
      clearTimeout(timer);
      if (!this.fatal && !this.done) this.input((now) => this.m.tick(now));
    }
  }

  private wake(): void {
    const r = this.wakeResolve;
    this.wakeResolve = undefined;
    r?.();
  }

  private onLost(index: number): void {
    this.file?.lost(index);
    this.done = false;
    this.emit({ type: 'chunk-recheck-failed', chunk: index });
    this.input((now) => this.m.chunkLost(now, index));
  }

  private async runTask(task: Task): Promise<void> {
    let err: FetchError | undefined;
    try {
      await this.fetchRun(task);
    } catch (e) {
      if (!task.cancelled) err = fetchError(toDchatError(e));
    }
    this.tasks.delete(task.id);
    this.input((now) => this.m.fetchEnded(now, task.id, err));
  }

  /** Reads the task's run; the machine hears of every byte and chunk. */
  private fetchRun(task: Task): Promise<void> {
    const signal = this.o.signal ? AbortSignal.any([this.o.signal, task.ctl.signal]) : task.ctl.signal;
    return readRun(task.source, this.o.target, this.table, task, signal, {
      request: () => this.m.requestSent(task.source.id),
      received: (n) => this.received(task, n, signal),
      chunk: (data) => this.onChunk(task, data),
    });
  }

  private async received(task: Task, n: number, signal: AbortSignal): Promise<void> {
    const wait = this.input((now) => this.m.received(now, task.id, n));
    if (this.fatal) throw this.fatal;
    if (wait > 0) await sleep(wait, signal);
  }

  /** Verify, then write, then hand to the whole-file hashes: in that order, always. */
  private async onChunk(task: Task, data: Buffer): Promise<void> {
    const index = task.next++;
    if (!digestEquals(chunkHashHex(data), this.table.chunks[index] as string)) {
      if (task.source.type === 'cache') this.emit({ type: 'chunk-recheck-failed', chunk: index });
      this.input((now) => this.m.chunkRejected(now, task.id, index));
      return;
    }
    if (!this.input((now) => this.m.chunkVerified(now, task.id, index))) return;
    const file = this.file as PartialFile;
    const digest = this.digest as OrderedDigest;
    const written = file.write(index, data);
    await file.room();
    await this.gate.room(() => digest.position);
    await digest.offer(index, data, written);
  }

  private async finish(digests: Digests, from: string): Promise<DownloadResult> {
    const { o } = this;
    const file = this.file as PartialFile;
    await file.finish();
    if (this.fatal) throw this.fatal;
    this.file = undefined;
    const verdict = checkPackage(o.target, digests, o.root, o.allTargets ?? []);
    if (!verdict.ok) {
      // Every chunk matched the signed table, yet the whole does not match the signed target.
      await discardPartial(this.pp);
      throw new VerificationError(
        verdict.code ?? 'E_HASH_MISMATCH',
        verdict.message ?? 'package check failed',
      );
    }
    this.emit({ type: 'verified', sha256: digests.sha256, blake3: digests.blake3 });
    if (o.dest) await o.dest.install(this.pp.part, this.table);
    else await installPackage(o.paths, this.pp.part, o.target, this.table);
    await Promise.all([this.pp.state, this.pp.table, this.pp.suspect].map((p) => rm(p, { force: true })));
    const resumedChunks = file.resumed.size;
    return {
      path: o.dest?.final ?? packagePath(o.paths, o.target),
      target: o.target.path,
      version: o.target.custom.version,
      platform: o.target.custom.platform,
      size: digests.size,
      sha256: digests.sha256,
      blake3: digests.blake3,
      alreadyPresent: false,
      chunks: this.table.chunks.length,
      resumedChunks,
      resumedBytes: [...file.resumed].reduce((n, i) => n + chunkLength(this.table, i), 0),
      fetchedBytes: this.m.bytesFetched,
      durationMs: this.clock() - this.started,
      chunkTableFrom: from,
      sources: this.reports(),
      checks: [{ name: 'chunks', ok: true }, ...verdict.checks],
    };
  }

  /** On failure: stop every stream, let writes land, record what is durable for the next run. */
  private async shutdown(err: DchatError): Promise<void> {
    this.input((now) => this.m.abort(now, err));
    this.gate.close();
    this.digest?.stop(this.fatal ?? err);
    await Promise.allSettled([...this.tasks.values()].map((t) => t.promise));
    await this.file?.settled();
    if (this.file && this.keepPartial && err.code !== 'E_IO')
      await this.file.checkpoint(new Date(this.clock()));
  }

  private reports(): SourceReport[] {
    return this.m.sourceStats().map((s) => {
      const src = this.sources.get(s.id) as Source;
      return { ...s, uri: src.uri, type: src.type };
    });
  }

  private emit(e: DownloadEvent): void {
    try {
      this.o.onEvent?.(e);
    } catch {
      // A broken progress consumer must not break the download.
    }
  }
}
