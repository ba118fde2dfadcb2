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

/** Incremental SHA-256 + BLAKE3 on one thread (small inputs; files use file-digest.ts). */
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
