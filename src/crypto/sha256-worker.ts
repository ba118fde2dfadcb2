/**
 * Worker thread body: SHA-256 on the second core while the main thread runs BLAKE3 over the same
 * bytes. The bytes are never copied between threads: the main thread fills slots of a shared ring
 * (SharedArrayBuffer) and this worker hashes each slot in order, then hands it back.
 * Control words (Int32Array over the same buffer): [0] slots produced, [1] slots consumed,
 * [2] closed flag, then one length per slot.
 */
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';

const PRODUCED = 0;
const CONSUMED = 1;
const CLOSED = 2;
const HEADER = 3;

const { sab, slots, slotSize } = workerData as { sab: SharedArrayBuffer; slots: number; slotSize: number };
const ctl = new Int32Array(sab, 0, HEADER + slots);
const dataOffset = (HEADER + slots) * 4;
const h = createHash('sha256');

for (let seq = 0; ; seq++) {
  // Sleep until the main thread has produced slot `seq` or closed the ring.
  while (Atomics.load(ctl, PRODUCED) <= seq) {
    if (Atomics.load(ctl, CLOSED) === 1 && Atomics.load(ctl, PRODUCED) <= seq) break;
    Atomics.wait(ctl, PRODUCED, seq, 1000);
  }
  if (Atomics.load(ctl, PRODUCED) <= seq) break;
  const slot = seq % slots;
  const len = Atomics.load(ctl, HEADER + slot);
  h.update(new Uint8Array(sab, dataOffset + slot * slotSize, len));
  Atomics.store(ctl, CONSUMED, seq + 1);
  Atomics.notify(ctl, CONSUMED);
}
parentPort?.postMessage({ sha256: h.digest('hex') });
