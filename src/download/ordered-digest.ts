/**
 * Whole-file SHA-256 + BLAKE3 computed while the download runs. Both hashes need the bytes in file
 * order, chunks arrive in any order (several sources, resumed runs): verified chunks wait in a
 * bounded reorder window; a chunk that does not fit is "spilled" (it is in the partial file
 * anyway) and read back when its turn comes, as are chunks verified by an earlier run, which are
 * re-checked against the chunk table on the way (a damaged partial file is caught here).
 * A producer only waits for room when the hashing itself is the bottleneck, never for a chunk
 * another source still owes: that is what keeps it free of deadlock.
 */
import { createStreamDigest, type StreamDigest } from '../crypto/digest-pipeline.ts';
import { chunkHashHex, type Digests, digestEquals } from '../crypto/hash.ts';
import { DchatError } from '../errors.ts';
import { type ChunkTable, chunkRange } from '../model/chunks.ts';

export interface OrderedDigestOptions {
  table: ChunkTable;
  /** Reads chunk `index` back from the partial file (after its write completed). */
  readChunk: (index: number) => Promise<Buffer>;
  /** Called when a chunk read back fails its check: it must be fetched again and offered anew. */
  onBadChunk: (index: number) => void;
  windowBytes?: number;
  /** Receives buffers the hashing is done with (for reuse). */
  onReturn?: (buf: Buffer) => void;
}

export class OrderedDigest {
  private readonly table: ChunkTable;
  private readonly hasher: StreamDigest;
  private readonly readChunk: (index: number) => Promise<Buffer>;
  private readonly onBadChunk: (index: number) => void;
  private readonly windowBytes: number;
  /** Chunks held in memory, by index. */
  private readonly window = new Map<number, Buffer>();
  /** Chunks available from disk: index -> promise of their write (verified earlier or spilled). */
  private readonly onDisk = new Map<number, Promise<unknown>>();
  /** Chunks read back from an earlier run: re-check against the table. */
  private readonly recheck = new Set<number>();
  private held = 0;
  private cursor = 0;
  private wake: (() => void) | undefined;
  private roomWaiters: (() => void)[] = [];
  private failed: unknown;
  private stopped = false;
  readonly done: Promise<Digests>;

  constructor(o: OrderedDigestOptions) {
    this.table = o.table;
    // One hash thread: a download arrives slower than it hashes both (DigestPipeline.oneThread).
    this.hasher = createStreamDigest(o.table.size, {
      oneThread: true,
      ...(o.onReturn ? { onReturn: o.onReturn } : {}),
    });
    this.readChunk = o.readChunk;
    this.onBadChunk = o.onBadChunk;
    this.windowBytes = o.windowBytes ?? 24 * 1024 * 1024;
    this.done = this.pump();
    this.done.catch(() => {});
  }

  /** Chunks verified by an earlier run (trusted as recorded, re-checked when read back). */
  addResumed(indices: Iterable<number>): void {
    for (const i of indices) {
      this.onDisk.set(i, Promise.resolve());
      this.recheck.add(i);
    }
    this.poke();
  }

  /**
   * A chunk verified this run; `written` settles when it is in the partial file. Keeps the bytes
   * if they fit the window (or are next in line), waits while the hashing is behind, else spills.
   */
  async offer(index: number, data: Buffer, written: Promise<unknown>): Promise<void> {
    if (index < this.cursor || this.window.has(index)) return;
    this.onDisk.set(index, written);
    this.recheck.delete(index);
    while (index !== this.cursor && this.held + data.byteLength > this.windowBytes && this.canProgress()) {
      await new Promise<void>((r) => this.roomWaiters.push(r));
      if (this.stopped) return;
    }
    // While it waited the hashing may have passed it (read back from disk): kept now, it would sit
    // in the window for good, count against it, and push every later chunk to disk the same way.
    if (index < this.cursor || this.window.has(index)) return;
    if (index === this.cursor || this.held + data.byteLength <= this.windowBytes) {
      this.window.set(index, data);
      this.held += data.byteLength;
    }
    this.poke();
  }

  /** Bytes hashed so far (a prefix of the file). */
  get position(): number {
    return Math.min(this.cursor * this.table.chunk_size, this.table.size);
  }

  stop(reason?: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.failed ??= reason ?? new DchatError('E_ABORTED', 'download stopped');
    // The hasher is destroyed by the pump itself, never under a running update.
    this.poke();
    this.releaseWaiters();
  }

  private canProgress(): boolean {
    return this.window.has(this.cursor) || this.onDisk.has(this.cursor);
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private releaseWaiters(): void {
    const ws = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of ws) w();
  }

  private async pump(): Promise<Digests> {
    try {
      return await this.run();
    } catch (err) {
      this.hasher.destroy();
      throw err;
    }
  }

  private async run(): Promise<Digests> {
    const count = this.table.chunks.length;
    while (this.cursor < count) {
      if (this.stopped) throw this.failed;
      const i = this.cursor;
      let data = this.window.get(i);
      if (data) {
        this.window.delete(i);
        this.held -= data.byteLength;
        // The hasher takes the buffer over: its write to the partial file must be done first.
        await this.onDisk.get(i);
        if (this.stopped) throw this.failed;
      } else if (this.onDisk.has(i)) {
        await this.onDisk.get(i);
        if (this.stopped) throw this.failed;
        data = await this.readChunk(i);
        const { start, end } = chunkRange(this.table, i);
        const bad =
          data.byteLength !== end - start ||
          (this.recheck.has(i) && !digestEquals(chunkHashHex(data), this.table.chunks[i] as string));
        if (bad) {
          // Recorded as verified, but the disk no longer holds it: fetch it again.
          this.onDisk.delete(i);
          this.recheck.delete(i);
          this.onBadChunk(i);
          continue;
        }
      } else {
        // Waiting for a chunk a source still owes; producers must not wait on us meanwhile.
        this.releaseWaiters();
        await new Promise<void>((r) => {
          this.wake = r;
        });
        continue;
      }
      this.onDisk.delete(i);
      this.recheck.delete(i);
      // Offered while it was read back from disk: hashed already, the copy must not stay held.
      const late = this.window.get(i);
      if (late) {
        this.window.delete(i);
        this.held -= late.byteLength;
      }
      await this.hasher.update(data);
      this.cursor++;
      this.releaseWaiters();
    }
    if (this.stopped) throw this.failed;
    return this.hasher.digest();
  }
}
