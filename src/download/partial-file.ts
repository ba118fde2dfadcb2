/**
 * The partial file of a download (download/resume.ts names it): verified chunks written at their
 * offsets one after another (several threads writing one file only contend for its inode lock),
 * read back for the whole-file hashes, made durable before the resume state names them, and cut
 * to the signed length at the end.
 */
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { DchatError, toDchatError } from '../errors.ts';
import { type ChunkTable, chunkRange } from '../model/chunks.ts';
import type { PackageTarget } from '../model/package.ts';
import { takePiece } from '../sources/piece-pool.ts';
import { readFullAt } from '../store/read-at.ts';
import { writeFullAt } from '../store/write-at.ts';
import { type PartialPaths, saveResume } from './resume.ts';

/** Writes queued at most; a producer waits beyond (each holds a chunk buffer: memory bound). */
export const MAX_PENDING_WRITES = 8;

export class PartialFile {
  private readonly pp: PartialPaths;
  private readonly table: ChunkTable;
  private readonly target: PackageTarget;
  private readonly onError: (e: DchatError) => void;
  private fh: FileHandle | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly pending = new Set<Promise<void>>();
  /** Chunks whose write completed in this run, and chunks an earlier run recorded. */
  readonly written = new Set<number>();
  readonly resumed = new Set<number>();
  private checkpointed = -1;
  private checkpointChain: Promise<void> = Promise.resolve();

  private constructor(
    pp: PartialPaths,
    table: ChunkTable,
    target: PackageTarget,
    onError: (e: DchatError) => void,
  ) {
    this.pp = pp;
    this.table = table;
    this.target = target;
    this.onError = onError;
  }

  static async open(
    pp: PartialPaths,
    table: ChunkTable,
    target: PackageTarget,
    resumed: Iterable<number>,
    onError: (e: DchatError) => void,
  ): Promise<PartialFile> {
    const p = new PartialFile(pp, table, target, onError);
    p.fh = await open(pp.part, constants.O_RDWR | constants.O_CREAT, 0o644);
    for (const i of resumed) p.resumed.add(i);
    return p;
  }

  /** Queues the write of a verified chunk; settles when it is in the file. */
  write(index: number, data: Buffer): Promise<void> {
    const fd = (this.fh as FileHandle).fd;
    const run = this.chain.then(() => writeFullAt(fd, data, index * this.table.chunk_size));
    this.chain = run.catch(() => {});
    const p: Promise<void> = run.then(
      () => {
        this.written.add(index);
        this.pending.delete(p);
      },
      (err: unknown) => {
        this.pending.delete(p);
        this.onError(
          new DchatError('E_IO', `cannot write ${this.pp.part}: ${(err as Error).message}`, { cause: err }),
        );
      },
    );
    this.pending.add(p);
    return p;
  }

  /** Waits while too many writes are queued (the disk is the bottleneck). */
  async room(): Promise<void> {
    while (this.pending.size >= MAX_PENDING_WRITES) await Promise.race(this.pending);
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  async readChunk(index: number): Promise<Buffer> {
    const { start, end } = chunkRange(this.table, index);
    // From the piece pool: the hashes give it back when done, so read-backs allocate nothing new.
    const buf = takePiece(end - start);
    return buf.subarray(0, await readFullAt(this.fh as FileHandle, buf, start));
  }

  /** A recorded chunk failed its re-check: it is no longer on disk as verified. */
  lost(index: number): void {
    this.resumed.delete(index);
    this.written.delete(index);
  }

  /** Makes the chunks written so far durable, then records them (never the other way round). */
  checkpoint(now: Date): Promise<void> {
    this.checkpointChain = this.checkpointChain.then(async () => {
      const durable = [...this.written, ...this.resumed];
      if (durable.length === this.checkpointed || !this.fh) return;
      try {
        await this.fh.datasync();
        await saveResume(this.pp, this.target, durable, now);
        this.checkpointed = durable.length;
      } catch (err) {
        this.onError(toDchatError(err, 'E_IO'));
      }
    });
    return this.checkpointChain;
  }

  /** Exactly the signed length (nothing left past the end survives), durable, closed. */
  async finish(): Promise<void> {
    await Promise.all([...this.pending]);
    await this.checkpointChain;
    const fh = this.fh as FileHandle;
    this.fh = undefined;
    try {
      await fh.truncate(this.target.length);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }

  async close(): Promise<void> {
    await this.checkpointChain;
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => {});
  }
}
