/**
 * SHA-256 and BLAKE3 of a file on disk (and optionally its chunk table): the file is read here
 * (the I/O side), the hashing is crypto/'s one pipeline (digest-pipeline.ts: SHA-256 and BLAKE3
 * each on their own thread). Reads go through libuv's thread pool into buffers that move to the
 * hash threads and come back for the next read, so the calling thread does almost nothing and a
 * caller can start hashing early (`startFileDigest`) and load what decides the cap meanwhile.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { createStreamDigest, type StreamDigest } from '../crypto/digest-pipeline.ts';
import { ChunkHasher, type Digests } from '../crypto/hash.ts';
import { DchatError } from '../errors.ts';

/** One read; also the piece size the hash threads see. */
const READ_SIZE = 4 * 1024 * 1024;

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
        const buf = free.pop() ?? Buffer.allocUnsafe(READ_SIZE);
        const n = await readFull(fh, buf, pos);
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

/** Reads until `buf` is full or the file ends (a short read is not the end). */
async function readFull(fh: FileHandle, buf: Buffer, pos: number): Promise<number> {
  let n = 0;
  while (n < buf.byteLength) {
    const { bytesRead } = await fh.read(buf, n, buf.byteLength - n, pos + n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return n;
}
