/**
 * Worker body of StreamDigest: SHA-256 and BLAKE3 of a byte stream whose pieces arrive in order as
 * transferred ArrayBuffers (no copy, no shared memory), acknowledged so the sender can bound what
 * is in flight. The download's main thread keeps TLS and the per-chunk checks; this core hashes.
 */
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { Blake3Hasher } from '@napi-rs/blake-hash';

type Message = { type: 'data'; buf: ArrayBuffer; off: number; len: number } | { type: 'end' };

const sha = createHash('sha256');
const b3 = new Blake3Hasher();
let size = 0;

parentPort?.on('message', (m: Message) => {
  if (m.type === 'data') {
    const piece = Buffer.from(m.buf, m.off, m.len);
    sha.update(piece);
    b3.update(piece);
    size += m.len;
    // The buffer goes back to the sender, who may reuse it (no fresh 1 MiB buffer per chunk).
    parentPort?.postMessage({ type: 'ack', len: m.len, buf: m.buf }, [m.buf]);
    return;
  }
  parentPort?.postMessage({
    type: 'digest',
    size,
    sha256: sha.digest('hex'),
    blake3: b3.digestBuffer().toString('hex'),
  });
});
