/**
 * SHA-256 and BLAKE3 of a file on disk (and optionally its chunk table). A large file without a
 * chunk table is read by a thread of its own that also runs SHA-256 and passes each piece to the
 * BLAKE3 thread (reader-threads.ts), so the calling thread is out of the loop: a CLI loading
 * its modules while it hashes no longer stalls the reads. Otherwise the file is read here through
 * libuv's pool into buffers that move to crypto/'s pipeline (digest-pipeline.ts) and come back for
 * the next read. Either way a caller can start hashing early (`startFileDigest`) and load what
 * decides the cap meanwhile.
 */
import { open } from 'node:fs/promises';
import { createStreamDigest, type StreamDigest } from '../crypto/digest-pipeline.ts';
import { ChunkHasher, type Digests } from '../crypto/hash.ts';
import { DchatError } from '../errors.ts';
import { readFullAt } from './read-at.ts';
import { PIECE_SIZE, readerThreadsFor } from './reader-threads.ts';

export interface FileDigestOptions {
  /** Also hash each chunk of this size with BLAKE3 (the chunk table). */
  chunkSize?: number;
  /** Stop reading past this many bytes (E_TOO_LARGE): a file on disk is untrusted too. */
  maxBytes?: number;
  signal?: AbortSignal;
}

export interface FileDigests extends Digests {
  chunks?: string[];
}

/** A file digest under way. */
export interface FileDigestRun {
  readonly result: Promise<FileDigests>;
  /**
   * Sets (or lowers) the cap once it is known: reading fails E_TOO_LARGE past it, at once if
   * already past it.
   */
  limit(maxBytes: number): void;
  /** Stops reading and hashing (no-op once finished). */
  stop(reason?: unknown): void;
}

export async function digestFile(path: string, opts: FileDigestOptions = {}): Promise<FileDigests> {
  return startFileDigest(path, opts).result;
}

/** Starts reading and hashing `path` now; see FileDigestRun. */
export function startFileDigest(path: string, opts: FileDigestOptions = {}): FileDigestRun {
  let maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
  let stopped: unknown;
  // A large file without a chunk table goes to the reader threads, started before this call
  // returns, not once the caller's thread gets back to its event loop (a CLI loading its modules
  // kept them from starting for ~150 ms).
  const threads = opts.chunkSize ? undefined : readerThreadsFor(path, maxBytes);
  if (threads) {
    const stop = () => threads.stop(opts.signal?.reason);
    opts.signal?.addEventListener('abort', stop, { once: true });
    if (opts.signal?.aborted) stop();
    const result = threads.result.finally(() => opts.signal?.removeEventListener('abort', stop));
    result.catch(() => {});
    return { result, limit: threads.limit, stop: threads.stop };
  }
  const tooLarge = (what: string) =>
    new DchatError('E_TOO_LARGE', `${path} ${what}, more than the ${maxBytes} bytes expected`);
  const run = async (): Promise<FileDigests> => {
    const fh = await open(path, 'r').catch((cause: NodeJS.ErrnoException) => {
      throw new DchatError(
        cause.code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO',
        `cannot open ${path}: ${cause.message}`,
        { cause },
      );
    });
    let hasher: StreamDigest | undefined;
    try {
      const { size } = await fh.stat();
      if (size > maxBytes) throw tooLarge(`is ${size} bytes`);
      const free: Buffer[] = [];
      hasher = createStreamDigest(size, { onReturn: (b) => free.push(b) });
      const chunker = opts.chunkSize ? new ChunkHasher(opts.chunkSize) : undefined;
      let pos = 0;
      for (;;) {
        opts.signal?.throwIfAborted();
        if (stopped !== undefined) throw stopped;
        const buf = free.pop() ?? Buffer.allocUnsafe(PIECE_SIZE);
        const n = await readFullAt(fh, buf, pos);
        if (n === 0) break;
        pos += n;
        if (pos > maxBytes) throw tooLarge('grew');
        const piece = n === buf.byteLength ? buf : buf.subarray(0, n);
        chunker?.update(piece);
        await hasher.update(piece);
      }
      if (pos > maxBytes) throw tooLarge(`is ${pos} bytes`);
      const out: FileDigests = await hasher.digest();
      if (chunker) out.chunks = chunker.finish();
      return out;
    } finally {
      hasher?.destroy();
      await fh.close();
    }
  };
  const result = run();
  result.catch(() => {});
  return {
    result,
    limit(n) {
      maxBytes = Math.min(maxBytes, n);
    },
    stop(reason) {
      stopped ??= reason ?? new DchatError('E_ABORTED', `hashing ${path} stopped`);
    },
  };
}
