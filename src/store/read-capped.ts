/**
 * The one way the program reads a whole file it was pointed at (a flag, the home, a mirror
 * directory): opened without blocking (a FIFO cannot hang us), checked to be a regular file with
 * fstat (a device such as /dev/zero is refused before any byte is read), and read with a cap, so
 * an endless or huge file costs at most `maxBytes` + 1 bytes of memory. The error states the real
 * size when the file has one, or "more than N" when it grew while being read.
 */
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { DchatError, UsageError } from '../errors.ts';

/** Reads `path` whole; E_NOT_FOUND, E_IO (not a regular file, unreadable) or E_TOO_LARGE. */
export async function readCapped(path: string, maxBytes: number): Promise<Buffer> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (cause) {
    const errno = (cause as NodeJS.ErrnoException).code;
    throw new DchatError(
      errno === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO',
      `cannot read ${path}: ${(cause as Error).message}`,
      { cause },
    );
  }
  try {
    const st = await fh.stat();
    if (!st.isFile())
      throw new DchatError('E_IO', `${path} is not a regular file (${kindOf(st)})`, {
        details: { path },
      });
    if (st.size > maxBytes)
      throw new DchatError('E_TOO_LARGE', `${path} is ${st.size} bytes, more than the ${maxBytes} allowed`, {
        details: { path, size: st.size, max: maxBytes },
      });
    const buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(st.size + 1, 1)));
    let n = 0;
    for (;;) {
      if (n === buf.byteLength) {
        if (n > maxBytes) break;
        // The file grew after fstat: keep reading up to the cap.
        const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, n * 2 + 4096));
        buf.copy(bigger, 0, 0, n);
        return await readRest(fh, bigger, n, path, maxBytes);
      }
      const { bytesRead } = await fh.read(buf, n, buf.byteLength - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > maxBytes) throw grew(path, maxBytes);
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}

/** Like readCapped, but undefined when the file does not exist. */
export async function readCappedIfExists(path: string, maxBytes: number): Promise<Buffer | undefined> {
  try {
    return await readCapped(path, maxBytes);
  } catch (err) {
    if (err instanceof DchatError && err.code === 'E_NOT_FOUND') return undefined;
    throw err;
  }
}

async function readRest(
  fh: FileHandle,
  buf: Buffer,
  n: number,
  path: string,
  maxBytes: number,
): Promise<Buffer> {
  while (n < buf.byteLength) {
    const { bytesRead } = await fh.read(buf, n, buf.byteLength - n, n);
    if (bytesRead === 0) return buf.subarray(0, n);
    n += bytesRead;
  }
  if (n > maxBytes) throw grew(path, maxBytes);
  const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, n * 2));
  buf.copy(bigger, 0, 0, n);
  return readRest(fh, bigger, n, path, maxBytes);
}

function grew(path: string, maxBytes: number): DchatError {
  return new DchatError('E_TOO_LARGE', `${path} is more than the ${maxBytes} bytes allowed`, {
    details: { path, max: maxBytes },
  });
}

function kindOf(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}

/**
 * A file named by a command-line flag: a missing or unreadable file, or one that is not a regular
 * file, is E_USAGE naming the flag; a file over the cap stays E_TOO_LARGE.
 */
export async function readFlagFile(flag: string, path: string, maxBytes: number): Promise<Buffer> {
  try {
    return await readCapped(path, maxBytes);
  } catch (err) {
    if (err instanceof DchatError && err.code !== 'E_TOO_LARGE')
      throw new UsageError(flag, err.message, { cause: err });
    throw err;
  }
}
