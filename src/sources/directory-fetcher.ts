import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { DchatError } from '../errors.ts';
import type { MetadataFetcher } from '../trust/updater.ts';

/** Repository metadata from a local mirror directory (`--metadata DIR`): DIR/metadata/<name>. */
export class DirectoryFetcher implements MetadataFetcher {
  private readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  async fetch(name: string, maxBytes: number): Promise<Uint8Array | undefined> {
    if (name.includes('/') || name.includes('\\') || name.startsWith('.')) {
      throw new DchatError('E_MALFORMED', `bad metadata file name ${name.slice(0, 64)}`);
    }
    return readCapped(join(this.dir, 'metadata', name), maxBytes);
  }
}

/** Reads at most maxBytes+1 bytes so an endless file fails E_TOO_LARGE without being read whole. */
export async function readCapped(path: string, maxBytes: number): Promise<Uint8Array | undefined> {
  let fh: import('node:fs/promises').FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DchatError('E_IO', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, 64 * 1024 * 1024));
    let n = 0;
    while (n < buf.byteLength) {
      const { bytesRead } = await fh.read(buf, n, buf.byteLength - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > maxBytes)
      throw new DchatError('E_TOO_LARGE', `${path} is larger than the ${maxBytes} bytes allowed`);
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}
