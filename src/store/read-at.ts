/**
 * One positioned read that fills `buf` unless the file ends first: a single `read` may return
 * fewer bytes than asked (a short read is not the end of the file), so it loops until the buffer is
 * full or a read returns 0. Returns the bytes read.
 */
import type { FileHandle } from 'node:fs/promises';

export async function readFullAt(fh: FileHandle, buf: Uint8Array, pos: number): Promise<number> {
  let n = 0;
  while (n < buf.byteLength) {
    const { bytesRead } = await fh.read(buf, n, buf.byteLength - n, pos + n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return n;
}
