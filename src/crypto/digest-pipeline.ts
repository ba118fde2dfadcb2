/**
 * The one whole-stream hashing pipeline: SHA-256 and BLAKE3 of a byte stream, each on its own
 * thread, so the pair costs about what SHA-256 alone costs and the calling thread keeps only its
 * own work (reading a file, or TLS and the per-chunk checks of a download); or both on one thread
 * (`oneThread`) where the stream comes slower than that thread hashes. Pieces travel by
 * transfer, never copied: caller -> SHA-256 stage -> BLAKE3 stage -> back to the caller, who may
 * reuse the buffer (`onReturn`). At most `maxInFlight` bytes are between the caller and the return.
 * Used by file verification (store/file-digest.ts) and the download engine (ordered-digest.ts).
 *
 * Pure: bytes in, digests out (the workers compute, they do no I/O). Below WORKER_THRESHOLD bytes
 * a worker's start-up costs more than it saves: `createStreamDigest` hashes small streams inline.
 */
import { MessageChannel, type Worker } from 'node:worker_threads';
import { DchatError } from '../errors.ts';
import type { StageReport } from './digest-worker.ts';
import { type Digests, DualHasher } from './hash.ts';
import { startHashStage, WORKER_THRESHOLD } from './hash-stage.ts';

/** What both the inline hasher and the pipeline offer. */
export interface StreamDigest {
  /**
   * Hashes `data` next. The caller gives the bytes up: when `data` spans a whole ArrayBuffer its
   * memory moves to the workers (and comes back through `onReturn`), so it must not be touched
   * afterwards. Resolves once there is room for more.
   */
  update(data: Buffer): Promise<void> | void;
  digest(): Promise<Digests>;
  /** Stops without a result (errors, aborts). Safe to call twice, and after `digest`. */
  destroy(): void;
}

export interface DigestPipelineOptions {
  /** Bytes handed over and not yet back (default 16 MiB: 8 chunks ahead of the slower hash). */
  maxInFlight?: number;
  /** Receives each transferred buffer back once both hashes are done with it. */
  onReturn?: (buf: Buffer) => void;
  /**
   * Both hashes on one thread (~0.8 s per GiB here): for streams that arrive slower than that, such
   * as a download, where a second thread would only cost its ~15 MB of memory.
   */
  oneThread?: boolean;
}

/** The pipeline for a stream of `expectedSize` bytes, or one thread when that is faster. */
export function createStreamDigest(expectedSize: number, o: DigestPipelineOptions = {}): StreamDigest {
  if (expectedSize >= WORKER_THRESHOLD) return new DigestPipeline(o);
  const dual = new DualHasher();
  return {
    update: (d) => {
      dual.update(d);
    },
    digest: async () => dual.digest(),
    destroy: () => {},
  };
}

export class DigestPipeline implements StreamDigest {
  /** The threads, first stage first. */
  private readonly threads: Worker[];
  private readonly maxInFlight: number;
  private readonly onReturn: ((buf: Buffer) => void) | undefined;
  private inFlight = 0;
  private size = 0;
  private waiters: (() => void)[] = [];
  private readonly hex: { sha256?: string; blake3?: string } = {};
  private readonly result: Promise<Digests>;
  private resolveResult!: (d: Digests) => void;
  private rejectResult!: (e: unknown) => void;
  private failure: DchatError | undefined;
  private ended = false;

  constructor(o: DigestPipelineOptions = {}) {
    this.maxInFlight = o.maxInFlight ?? 16 * 1024 * 1024;
    this.onReturn = o.onReturn;
    this.result = new Promise<Digests>((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    this.result.catch(() => {});
    if (o.oneThread) this.threads = [startHashStage('both', {})];
    else {
      const { port1, port2 } = new MessageChannel();
      this.threads = [
        startHashStage('sha256', { output: port1 }),
        startHashStage('blake3', { input: port2 }),
      ];
    }
    for (const w of this.threads) {
      w.on('message', (m: StageReport) => this.onReport(m));
      w.once('error', (e) =>
        this.fail(new DchatError('E_INTERNAL', `hash worker failed: ${e.message}`, { cause: e })),
      );
      w.once('exit', () => {
        if (this.hex.sha256 === undefined || this.hex.blake3 === undefined)
          this.fail(this.failure ?? new DchatError('E_INTERNAL', 'hash worker exited early'));
      });
    }
  }

  get bytes(): number {
    return this.size;
  }

  async update(data: Buffer): Promise<void> {
    if (this.ended) throw new DchatError('E_INTERNAL', 'digest already finished');
    while (this.inFlight > 0 && this.inFlight + data.byteLength > this.maxInFlight && !this.failure)
      await new Promise<void>((r) => this.waiters.push(r));
    if (this.failure) throw this.failure;
    if (data.byteLength === 0) return;
    // A buffer spanning its own ArrayBuffer moves as is; anything else (a slice, a small buffer
    // from Node's shared pool, which may never be transferred) is copied into a fresh one first.
    let buf: ArrayBuffer;
    if (
      data.byteOffset === 0 &&
      data.buffer.byteLength === data.byteLength &&
      data.buffer instanceof ArrayBuffer
    )
      buf = data.buffer;
    else {
      buf = new ArrayBuffer(data.byteLength);
      new Uint8Array(buf).set(data);
    }
    this.inFlight += data.byteLength;
    this.size += data.byteLength;
    this.threads[0]?.postMessage({ type: 'data', buf, len: data.byteLength }, [buf]);
  }

  async digest(): Promise<Digests> {
    if (!this.ended) {
      this.ended = true;
      this.threads[0]?.postMessage({ type: 'end' });
    }
    return this.result;
  }

  destroy(): void {
    this.ended = true;
    this.fail(new DchatError('E_ABORTED', 'digest stopped'));
  }

  private onReport(m: StageReport): void {
    if (m.type === 'ack') {
      this.inFlight -= m.len;
      this.onReturn?.(Buffer.from(m.buf));
      this.wakeAll();
      return;
    }
    if (m.algo === 'sha256') this.hex.sha256 = m.hex;
    else this.hex.blake3 = m.hex;
    const { sha256, blake3 } = this.hex;
    if (sha256 !== undefined && blake3 !== undefined && !this.failure) {
      this.resolveResult({ size: this.size, sha256, blake3 });
      for (const w of this.threads) void w.terminate();
    }
  }

  private fail(e: DchatError): void {
    this.failure ??= e;
    this.rejectResult(this.failure);
    for (const w of this.threads) void w.terminate();
    this.wakeAll();
  }

  private wakeAll(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }
}
