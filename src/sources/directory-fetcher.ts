import { join } from 'node:path';
import { DchatError } from '../errors.ts';
import { readCappedIfExists } from '../store/read-capped.ts';
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
    return readCappedIfExists(join(this.dir, 'metadata', name), maxBytes);
  }
}

/**
 * The capped read of a file that may be absent (undefined): one implementation for the whole
 * program, store/read-capped.ts (regular files only, cap checked before reading).
 */
export { readCappedIfExists as readCapped } from '../store/read-capped.ts';
