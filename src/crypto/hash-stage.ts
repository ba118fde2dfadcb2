/**
 * A hash stage's thread (digest-worker.ts) and when threads pay: kept apart from the pipeline
 * (digest-pipeline.ts) so that starting the threads loads nothing heavy on the calling thread (no
 * native hash module: the stages load it themselves), as `update verify` does first thing
 * (cli/early-digest.ts).
 */
import { type MessagePort, Worker } from 'node:worker_threads';

/** Below this size one thread hashes faster than workers start. */
export const WORKER_THRESHOLD = 16 * 1024 * 1024;

// Built files run as .js from dist/, sources as .ts under Node's type stripping.
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './digest-worker.ts' : './digest-worker.js',
  import.meta.url,
);

/**
 * One hash stage on a thread of its own (digest-worker.ts): pieces come from `input` (else the
 * parent) and go on to `output` (else back to the parent as acks). Also the BLAKE3 stage behind
 * store/'s file reader. `nice`: the thread lowers its own scheduling priority to this (Linux
 * keeps one per thread), for a stage that may lag behind a slower one without slowing the whole.
 */
export function startHashStage(
  algo: 'sha256' | 'blake3' | 'both',
  ports: { input?: MessagePort; output?: MessagePort; nice?: number },
): Worker {
  const transferList = [ports.input, ports.output].filter((p) => p !== undefined);
  return new Worker(WORKER_URL, { workerData: { algo, ...ports }, transferList });
}
