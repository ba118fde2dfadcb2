/**
 * SHA-256 + BLAKE3 of a download, both on a second core. Network bodies arrive as fresh buffers the
 * download no longer needs once they are verified and written, so they are handed to a worker by
 * transfer (no copy): neither hash costs the thread that runs TLS and the per-chunk checks. At most
 * `maxInFlight` bytes wait in the worker. (ParallelDigest in crypto/ suits files read straight into
 * its shared ring; copying network data into shared memory is several times slower than memcpy.)
 */
import { Worker } from 'node:worker_threads';
import type { Digests } from '../crypto/hash.ts';
import { DchatError } from '../errors.ts';

// Built files run as .js from dist/, sources as .ts under Node's type stripping.
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './digest-worker.ts' : './digest-worker.js',
  import.meta.url,
);

export class StreamDigest {
  private readonly worker: Worker;
  private readonly maxInFlight: number;
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private result: Promise<Digests>;
  private resolveResult!: (d: Digests) => void;
  private failure: DchatError | undefined;
  private ended = false;
  private readonly onReturn: ((buf: Buffer) => void) | undefined;

  /** `onReturn` receives each buffer back once hashed (nothing else refers to it any more). */
  constructor(o: { maxInFlight?: number; onReturn?: (buf: Buffer) => void } = {}) {
    this.maxInFlight = o.maxInFlight ?? 32 * 1024 * 1024;
    this.onReturn = o.onReturn;
    this.worker = new Worker(WORKER_URL);
    this.result = new Promise<Digests>((resolve, reject) => {
      this.resolveResult = resolve;
      this.worker.once('error', (e) => {
        this.failure = new DchatError('E_INTERNAL', `hash worker failed: ${e.message}`, { cause: e });
        reject(this.failure);
        this.wakeAll();
      });
    });
    this.result.catch(() => {});
    this.worker.on(
      'message',
      (m: { type: 'ack'; len: number; buf: ArrayBuffer } | ({ type: 'digest' } & Digests)) => {
        if (m.type === 'ack') {
          this.inFlight -= m.len;
          this.onReturn?.(Buffer.from(m.buf));
          this.wakeAll();
        } else {
          this.resolveResult({ size: m.size, sha256: m.sha256, blake3: m.blake3 });
          void this.worker.terminate();
        }
      },
    );
  }

  /**
   * Hands `data` to the worker. The caller gives it up: its memory is transferred when `data`
   * spans a whole ArrayBuffer (else copied first) and must not be touched afterwards.
   */
  async update(data: Buffer): Promise<void> {
    if (this.ended) throw new DchatError('E_INTERNAL', 'digest already finished');
    while (this.inFlight > 0 && this.inFlight + data.byteLength > this.maxInFlight) {
      if (this.failure) throw this.failure;
      await new Promise<void>((r) => this.waiters.push(r));
    }
    if (this.failure) throw this.failure;
    // A buffer spanning its own ArrayBuffer moves as is; anything else (a slice, a small buffer
    // from Node's shared pool, which may never be transferred) is copied into a fresh one first.
    const whole = data.byteOffset === 0 && data.buffer.byteLength === data.byteLength;
    let buf: ArrayBuffer;
    if (whole && data.buffer instanceof ArrayBuffer) buf = data.buffer;
    else {
      buf = new ArrayBuffer(data.byteLength);
      new Uint8Array(buf).set(data);
    }
    this.inFlight += data.byteLength;
    try {
      this.worker.postMessage({ type: 'data', buf, off: 0, len: data.byteLength }, [buf]);
    } catch {
      // Not transferable after all: send a copy.
      this.worker.postMessage({ type: 'data', buf, off: 0, len: data.byteLength });
    }
  }

  async digest(): Promise<Digests> {
    if (!this.ended) {
      this.ended = true;
      this.worker.postMessage({ type: 'end' });
    }
    return this.result;
  }

  destroy(): void {
    this.ended = true;
    void this.worker.terminate();
    this.failure ??= new DchatError('E_ABORTED', 'digest stopped');
    this.wakeAll();
  }

  private wakeAll(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }
}
