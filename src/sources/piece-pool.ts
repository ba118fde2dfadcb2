/**
 * Recycled piece buffers for range bodies. Fresh 1 MiB buffers cost page faults and garbage
 * collections (about a third of a second per GiB here); a consumer done with a piece (written,
 * hashed, no reference kept) gives it back with `releasePiece`. Only whole, untouched piece buffers
 * are taken back, and the pool never holds more than POOL_BYTES.
 */
const piecePool = new Map<number, Buffer[]>();
const POOL_BYTES = 8 * 1024 * 1024;
/** Small buffers are cheap to allocate; only piece-sized ones are worth keeping. */
const POOL_MIN = 64 * 1024;
let pooled = 0;

export function takePiece(size: number): Buffer {
  const buf = piecePool.get(size)?.pop();
  if (!buf) return Buffer.allocUnsafe(size);
  pooled -= size;
  return buf;
}

/** Gives a piece buffer back for reuse. The caller must hold no reference to it any more. */
export function releasePiece(buf: Uint8Array): void {
  const size = buf.byteLength;
  if (
    size < POOL_MIN ||
    pooled + size > POOL_BYTES ||
    buf.byteOffset !== 0 ||
    buf.buffer.byteLength !== size ||
    !(buf.buffer instanceof ArrayBuffer)
  )
    return;
  const list = piecePool.get(size) ?? [];
  list.push(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, 0, size));
  piecePool.set(size, list);
  pooled += size;
}
