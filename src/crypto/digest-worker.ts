/**
 * One stage of DigestPipeline (digest-pipeline.ts): a thread that runs one hash (`algo`) over a
 * byte stream whose pieces arrive in order as transferred ArrayBuffers (no copy, no shared
 * memory), then passes each piece on: to the next stage's port, or back to the parent (an ack, so
 * the sender can bound what is in flight and reuse the buffer). At the end it reports its digest
 * to the parent and passes the end on. Pure computation: bytes in, a digest out.
 */
import { createHash } from 'node:crypto';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { Blake3Hasher } from '@napi-rs/blake-hash';
import { lowerThisThread } from '../util/thread-priority.ts';

export type StageMessage = { type: 'data'; buf: ArrayBuffer; len: number } | { type: 'end' };
export type StageReport =
  | { type: 'ack'; buf: ArrayBuffer; len: number }
  | { type: 'digest'; algo: string; hex: string };

const { algo, input, output, nice } = workerData as {
  /** `both`: one thread runs the pair (enough where the bytes come slower than it hashes). */
  algo: 'sha256' | 'blake3' | 'both';
  /** Where pieces come from (the previous stage); the parent when absent. */
  input?: MessagePort;
  /** Where pieces go next (the next stage); back to the parent as acks when absent. */
  output?: MessagePort;
  /** This thread's own priority (a nice value; 0 = unchanged). */
  nice?: number;
};

if (nice) lowerThisThread(nice);

// No top-level await here: the single-executable build bundles workers as CommonJS.
const sha = algo !== 'blake3' ? createHash('sha256') : undefined;
const b3 = algo !== 'sha256' ? new Blake3Hasher() : undefined;
const from = input ?? parentPort;

from?.on('message', (m: StageMessage) => {
  if (m.type === 'data') {
    const piece = Buffer.from(m.buf, 0, m.len);
    sha?.update(piece);
    b3?.update(piece);
    if (output) output.postMessage(m, [m.buf]);
    else parentPort?.postMessage({ type: 'ack', buf: m.buf, len: m.len } satisfies StageReport, [m.buf]);
    return;
  }
  if (sha)
    parentPort?.postMessage({ type: 'digest', algo: 'sha256', hex: sha.digest('hex') } satisfies StageReport);
  if (b3)
    parentPort?.postMessage({
      type: 'digest',
      algo: 'blake3',
      hex: b3.digestBuffer().toString('hex'),
    } satisfies StageReport);
  output?.postMessage(m);
  // The parent ends this thread once it has every report (a thread that ended by itself could
  // race its last messages).
});
