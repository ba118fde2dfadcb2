import { createHash } from 'node:crypto';
import { Blake3Hasher, blake3 } from '@napi-rs/blake-hash';

/** Both digests of the same bytes, lowercase hex, as the signed metadata records them. */
export interface Digests {
  size: number;
  sha256: string;
  blake3: string;
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function blake3Hex(data: Uint8Array): string {
  return blake3(asBuffer(data)).toString('hex');
}

export function blake3Bytes(data: Uint8Array): Buffer {
  return blake3(asBuffer(data));
}

/** Incremental SHA-256 + BLAKE3 on one thread (small inputs; large streams use digest-pipeline.ts). */
export class DualHasher {
  private readonly sha = createHash('sha256');
  private readonly b3 = new Blake3Hasher();
  private size = 0;

  update(data: Uint8Array): this {
    const buf = asBuffer(data);
    this.sha.update(buf);
    this.b3.update(buf);
    this.size += buf.byteLength;
    return this;
  }

  digest(): Digests {
    return {
      size: this.size,
      sha256: this.sha.digest('hex'),
      blake3: this.b3.digestBuffer().toString('hex'),
    };
  }
}

export function digestBytes(data: Uint8Array): Digests {
  return new DualHasher().update(data).digest();
}

/** Constant-time comparison of two hex digests of equal length. */
export function digestEquals(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
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

  update(data: Uint8Array): void {
    const buf = asBuffer(data);
    let off = 0;
    while (off < buf.byteLength) {
      const take = Math.min(this.chunkSize - this.filled, buf.byteLength - off);
      this.current.update(buf.subarray(off, off + take));
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
