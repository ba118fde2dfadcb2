import { open } from 'node:fs/promises';
import { Blake3Hasher } from '@napi-rs/blake-hash';
import { DchatError } from '../errors.ts';
import { blake3Bytes, type Digests, DualHasher } from './hash.ts';
import { ParallelDigest } from './parallel-digest.ts';

const READ_SIZE = 4 * 1024 * 1024;

/** Below this, a worker's start-up costs more than the hashing it saves. */
const WORKER_THRESHOLD = 16 * 1024 * 1024;

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

/**
 * SHA-256 and BLAKE3 of a file (and optionally its chunk table), read once and hashed on both
 * cores (ParallelDigest), so the pair costs about what SHA-256 alone costs.
 */
export async function digestFile(path: string, opts: FileDigestOptions = {}): Promise<FileDigests> {
  const fh = await open(path, 'r').catch((cause: NodeJS.ErrnoException) => {
    throw new DchatError(
      cause.code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO',
      `cannot open ${path}: ${cause.message}`,
      { cause },
    );
  });
  try {
    const { size: statSize } = await fh.stat();
    if (opts.maxBytes !== undefined && statSize > opts.maxBytes) {
      throw new DchatError(
        'E_TOO_LARGE',
        `${path} is ${statSize} bytes, more than the ${opts.maxBytes} expected`,
      );
    }
    if (statSize < WORKER_THRESHOLD) return await digestSmall(fh, opts);
    const chunker = opts.chunkSize ? new ChunkHasher(opts.chunkSize) : undefined;
    const pd = new ParallelDigest(chunker ? { onPiece: (p) => chunker.update(p) } : {});
    try {
      for (;;) {
        opts.signal?.throwIfAborted();
        const n = await pd.fill(
          async (slot) => (await fh.read(slot, 0, slot.byteLength, pd.bytes)).bytesRead,
        );
        if (n === 0) break;
        if (opts.maxBytes !== undefined && pd.bytes > opts.maxBytes) {
          throw new DchatError('E_TOO_LARGE', `${path} grew past the ${opts.maxBytes} bytes expected`);
        }
      }
      const out: FileDigests = await pd.digest();
      if (chunker) out.chunks = chunker.finish();
      return out;
    } finally {
      pd.destroy();
    }
  } finally {
    await fh.close();
  }
}

async function digestSmall(
  fh: import('node:fs/promises').FileHandle,
  opts: FileDigestOptions,
): Promise<FileDigests> {
  const dual = new DualHasher();
  const chunker = opts.chunkSize ? new ChunkHasher(opts.chunkSize) : undefined;
  const buf = Buffer.allocUnsafe(READ_SIZE);
  let size = 0;
  for (;;) {
    opts.signal?.throwIfAborted();
    const { bytesRead } = await fh.read(buf, 0, READ_SIZE, size);
    if (bytesRead === 0) break;
    const piece = buf.subarray(0, bytesRead);
    dual.update(piece);
    chunker?.update(piece);
    size += bytesRead;
    if (opts.maxBytes !== undefined && size > opts.maxBytes) {
      throw new DchatError('E_TOO_LARGE', `file grew past the ${opts.maxBytes} bytes expected`);
    }
  }
  const out: FileDigests = dual.digest();
  if (chunker) out.chunks = chunker.finish();
  return out;
}

/** Splits a byte stream into fixed-size chunks and BLAKE3-hashes each (the chunk table). */
export class ChunkHasher {
  private readonly hashes: string[] = [];
  private current = new Blake3Hasher();
  private filled = 0;
  private readonly chunkSize: number;

  constructor(chunkSize: number) {
    this.chunkSize = chunkSize;
  }

  update(data: Buffer): void {
    let off = 0;
    while (off < data.byteLength) {
      const take = Math.min(this.chunkSize - this.filled, data.byteLength - off);
      this.current.update(data.subarray(off, off + take));
      this.filled += take;
      off += take;
      if (this.filled === this.chunkSize) {
        this.hashes.push(this.current.digestBuffer().toString('hex'));
        this.current = new Blake3Hasher();
        this.filled = 0;
      }
    }
  }

  finish(): string[] {
    if (this.filled > 0) this.hashes.push(this.current.digestBuffer().toString('hex'));
    this.filled = 0;
    return this.hashes;
  }
}

/** BLAKE3 of one chunk, as the chunk table records it. */
export function chunkHashHex(chunk: Uint8Array): string {
  return blake3Bytes(chunk).toString('hex');
}
