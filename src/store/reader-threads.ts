/**
 * The reader threads of a large file's digest (file-digest.ts): one reads the file and runs SHA-256
 * (file-digest-worker.ts) and passes each piece to the BLAKE3 stage (crypto/digest-worker.ts), so
 * the calling thread is out of the loop. Kept light on purpose: starting them loads no hash module
 * on the calling thread (the threads load their own), so `update verify` starts them first thing
 * (cli/early-digest.ts), before the CLI loads.
 */
import { statSync } from 'node:fs';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { StageReport } from '../crypto/digest-worker.ts';
import type { Digests } from '../crypto/hash.ts';
import { startHashStage, WORKER_THRESHOLD } from '../crypto/hash-stage.ts';
import { asErrorCode, DchatError } from '../errors.ts';
import type { FileStageControl, FileStageInit, FileStageReport } from './file-digest-worker.ts';

/** The priority of a thread that may lag behind the one setting the pace (a nice value). */
export const LAGGING_NICE = 10;

/** One read; also the piece size the hash threads see. */
export const PIECE_SIZE = 4 * 1024 * 1024;

/** The size of a regular file, or undefined (missing, unreadable, not a file: the open says why). */
function statSize(path: string): number | undefined {
  try {
    const st = statSync(path);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

// Built files run as .js from dist/, sources as .ts under Node's type stripping.
const READER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './file-digest-worker.ts' : './file-digest-worker.js',
  import.meta.url,
);

export interface ReaderThreads {
  result: Promise<Digests>;
  limit(maxBytes: number): void;
  stop(reason: unknown): void;
}

/**
 * The reader threads of `path`, started now, when it is a file of WORKER_THRESHOLD bytes or more
 * (and no more than `maxBytes`); else undefined: a small file hashes on the caller's side in less
 * time than the threads start (and a missing or too large one fails there, with its code). One
 * stat decides, so the threads are running before this returns.
 */
export function readerThreadsFor(path: string, maxBytes: number): ReaderThreads | undefined {
  const size = statSize(path);
  return size !== undefined && size >= WORKER_THRESHOLD && size <= maxBytes
    ? readerThreads(path, maxBytes)
    : undefined;
}

/**
 * A large file without a chunk table: read and SHA-256 on one thread (file-digest-worker.ts),
 * BLAKE3 on another, the pieces going round between the two, so nothing waits on this thread.
 */
export function readerThreads(path: string, maxBytes: number): ReaderThreads {
  const toB3 = new MessageChannel();
  const back = new MessageChannel();
  const init: FileStageInit = {
    path,
    pieceSize: PIECE_SIZE,
    pieces: 4,
    maxBytes,
    next: toB3.port1,
    returns: back.port2,
  };
  const reader = new Worker(READER_URL, { workerData: init, transferList: [toB3.port1, back.port2] });
  // BLAKE3 runs ~3.5x faster than SHA-256 here, so its stage may lag and catch up within the
  // pieces in flight: at a lower priority it leaves the reading thread, whose SHA-256 sets the
  // pace, a core of its own on a busy 2-core machine (with the CLI thread lowered too, bench verify
  // 860 -> 839 ms median, interleaved A/B).
  const b3 = startHashStage('blake3', { input: toB3.port2, output: back.port1, nice: LAGGING_NICE });
  let sha: { hex: string; size: number } | undefined;
  let blake3: string | undefined;
  const settle = Promise.withResolvers<Digests>();
  const result = settle.promise;
  result.catch(() => {});
  let done = false;
  const finish = (e?: unknown) => {
    if (done) return;
    done = true;
    void reader.terminate();
    void b3.terminate();
    if (e !== undefined) settle.reject(e);
    else if (sha && blake3 !== undefined) settle.resolve({ size: sha.size, sha256: sha.hex, blake3 });
  };
  reader.on('message', (m: FileStageReport) => {
    if (m.type === 'error') finish(new DchatError(asErrorCode(m.code, 'E_IO'), m.message));
    else {
      sha = m;
      if (blake3 !== undefined) finish();
    }
  });
  b3.on('message', (m: StageReport) => {
    if (m.type !== 'digest') return;
    blake3 = m.hex;
    if (sha) finish();
  });
  for (const w of [reader, b3]) {
    w.once('error', (e) =>
      finish(new DchatError('E_INTERNAL', `hash thread failed: ${e.message}`, { cause: e })),
    );
    w.once('exit', () => finish(new DchatError('E_INTERNAL', 'hash thread exited early')));
  }
  return {
    result,
    limit: (n) => reader.postMessage({ type: 'limit', maxBytes: n } satisfies FileStageControl),
    stop: (reason) => finish(reason ?? new DchatError('E_ABORTED', `hashing ${path} stopped`)),
  };
}
