/**
 * One positioned read that fills `buf` unless the file ends first: a single `read` may return
 * fewer bytes than asked (a short read is not the end of the file), so it loops until the buffer is
 * full or a read returns 0. Returns the bytes read. Through a FileHandle, or a descriptor (fs's
 * callback call on the thread pool, or on this thread: readFullAtSync): a first use of
 * FileHandle's promise API compiles far more code, which a one-off step like a patch's decoding
 * pays in full.
 */
import { read, readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

export async function readFullAt(file: FileHandle | number, buf: Uint8Array, pos: number): Promise<number> {
  let n = 0;
  while (n < buf.byteLength) {
    const got =
      typeof file === 'number'
        ? await readFd(file, buf, n, buf.byteLength - n, pos + n)
        : (await file.read(buf, n, buf.byteLength - n, pos + n)).bytesRead;
    if (got === 0) break;
    n += got;
  }
  return n;
}

/** readFullAt of a descriptor on this thread. */
export function readFullAtSync(fd: number, buf: Uint8Array, pos: number): number {
  let n = 0;
  while (n < buf.byteLength) {
    const got = readSync(fd, buf, n, buf.byteLength - n, pos + n);
    if (got === 0) break;
    n += got;
  }
  return n;
}

function readFd(fd: number, buf: Uint8Array, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buf, off, len, pos, (err, got) => (err ? reject(err) : resolve(got)));
  });
}
