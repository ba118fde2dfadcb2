import { Worker } from 'node:worker_threads';
import { Blake3Hasher } from '@napi-rs/blake-hash';
import { DchatError } from '../errors.ts';
import type { Digests } from './hash.ts';

const PRODUCED = 0;
const CONSUMED = 1;
const CLOSED = 2;
const HEADER = 3;

// Built files run as .js from dist/, sources as .ts under Node's type stripping.
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './sha256-worker.ts' : './sha256-worker.js',
  import.meta.url,
);

export interface ParallelDigestOptions {
  slots?: number;
  slotSize?: number;
  /** Called with every piece after it is in the ring (e.g. per-chunk hashing), on this thread. */
  onPiece?: (piece: Buffer) => void;
}

/**
 * SHA-256 and BLAKE3 of a byte stream on both cores: SHA-256 in a worker, BLAKE3 here, the bytes
 * shared through a ring of slots so neither thread copies what the other reads. Feed it with
 * `fill` (read straight into the ring: files) or `update` (copy a buffer in: network bodies).
 */
export class ParallelDigest {
  private readonly sab: SharedArrayBuffer;
  private readonly ctl: Int32Array;
  private readonly slots: number;
  private readonly slotSize: number;
  private readonly dataOffset: number;
  private readonly worker: Worker;
  private readonly result: Promise<string>;
  private readonly b3 = new Blake3Hasher();
  private readonly onPiece: ((piece: Buffer) => void) | undefined;
  private seq = 0;
  private size = 0;
  private closed = false;

  constructor(opts: ParallelDigestOptions = {}) {
    this.slots = opts.slots ?? 8;
    this.slotSize = opts.slotSize ?? 4 * 1024 * 1024;
    this.onPiece = opts.onPiece;
    this.dataOffset = (HEADER + this.slots) * 4;
    this.sab = new SharedArrayBuffer(this.dataOffset + this.slots * this.slotSize);
    this.ctl = new Int32Array(this.sab, 0, HEADER + this.slots);
    this.worker = new Worker(WORKER_URL, {
      workerData: { sab: this.sab, slots: this.slots, slotSize: this.slotSize },
    });
    this.result = new Promise((resolve, reject) => {
      this.worker.once('message', (m: { sha256: string }) => resolve(m.sha256));
      this.worker.once('error', (e) =>
        reject(new DchatError('E_INTERNAL', `hash worker failed: ${e.message}`, { cause: e })),
      );
      this.worker.once('exit', () => reject(new DchatError('E_INTERNAL', 'hash worker exited early')));
    });
    this.result.catch(() => {});
  }

  /** Waits for a free slot, lets `read` fill it (returns bytes written, 0 = end), hashes it. */
  async fill(read: (slot: Buffer) => Promise<number>): Promise<number> {
    const slot = await this.nextSlot();
    const n = await read(slot);
    if (n > 0) this.commit(slot, n);
    return n;
  }

  /** Copies `data` into the ring (as many slots as it needs) and hashes it. */
  async update(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.byteLength) {
      const slot = await this.nextSlot();
      const n = Math.min(slot.byteLength, data.byteLength - off);
      slot.set(data.subarray(off, off + n));
      this.commit(slot, n);
      off += n;
    }
  }

  get bytes(): number {
    return this.size;
  }

  async digest(): Promise<Digests> {
    this.close();
    const sha256 = await this.result;
    void this.worker.terminate();
    return { size: this.size, sha256, blake3: this.b3.digestBuffer().toString('hex') };
  }

  /** Stops the worker without a result (errors, aborts). Safe to call twice. */
  destroy(): void {
    this.close();
    void this.worker.terminate();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctl, CLOSED, 1);
    Atomics.notify(this.ctl, PRODUCED);
  }

  private async nextSlot(): Promise<Buffer> {
    if (this.closed) throw new DchatError('E_INTERNAL', 'digest already finished');
    // Ring full: wait until the worker hands a slot back.
    for (;;) {
      const consumed = Atomics.load(this.ctl, CONSUMED);
      if (this.seq - consumed < this.slots) break;
      const w = Atomics.waitAsync(this.ctl, CONSUMED, consumed, 5000);
      if (w.async) await w.value;
    }
    const slot = this.seq % this.slots;
    return Buffer.from(this.sab, this.dataOffset + slot * this.slotSize, this.slotSize);
  }

  private commit(slotBuf: Buffer, n: number): void {
    const piece = slotBuf.subarray(0, n);
    const slot = this.seq % this.slots;
    Atomics.store(this.ctl, HEADER + slot, n);
    this.seq++;
    Atomics.store(this.ctl, PRODUCED, this.seq);
    Atomics.notify(this.ctl, PRODUCED);
    this.size += n;
    // BLAKE3 here while the worker runs SHA-256 over the same slot.
    this.b3.update(piece);
    this.onPiece?.(piece);
  }
}
