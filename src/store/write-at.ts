/**
 * One positioned write of all of `data`: a single `write` may take fewer bytes than given, so it
 * goes on until all are written; one that takes none is an error, not a loop. On the thread pool
 * (writeFullAt) or on this thread (writeFullAtSync: a write into the page cache smaller than a
 * round trip to the pool costs).
 */
import { write, writeSync } from 'node:fs';

export function writeFullAt(fd: number, data: Uint8Array, pos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (off: number) => {
      write(fd, data, off, data.byteLength - off, pos + off, (err, n) => {
        if (err) return reject(err);
        if (off + n < data.byteLength) {
          if (n === 0) return reject(new Error('write made no progress'));
          return step(off + n);
        }
        resolve();
      });
    };
    step(0);
  });
}

export function writeFullAtSync(fd: number, data: Uint8Array, pos: number): void {
  for (let off = 0; off < data.byteLength; ) {
    const n = writeSync(fd, data, off, data.byteLength - off, pos + off);
    if (n === 0) throw new Error('write made no progress');
    off += n;
  }
}
