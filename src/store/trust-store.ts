import { readFile, rm } from 'node:fs/promises';
import { DchatError } from '../errors.ts';
import type { RoleName } from '../trust/metadata.ts';
import { DEFAULT_MAX_BYTES } from '../trust/metadata.ts';
import type { TrustStore } from '../trust/updater.ts';
import { writeFileAtomic } from './atomic.ts';
import type { HomePaths } from './home.ts';

/** Trusted TUF metadata kept under $DCHAT_HOME/trust, written atomically. */
export class FileTrustStore implements TrustStore {
  private readonly paths: HomePaths;
  /** Root used when the home has none yet (the public network's, shipped in the package). */
  private readonly defaultRoot: Uint8Array | undefined;

  constructor(paths: HomePaths, defaultRoot?: Uint8Array) {
    this.paths = paths;
    this.defaultRoot = defaultRoot;
  }

  async load(role: RoleName): Promise<Uint8Array | undefined> {
    try {
      const bytes = await readFile(this.paths.trustFile(role));
      if (bytes.byteLength > DEFAULT_MAX_BYTES[role] * 4) {
        throw new DchatError(
          'E_TOO_LARGE',
          `${this.paths.trustFile(role)} is larger than any ${role} metadata we accept`,
        );
      }
      return bytes;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return role === 'root' ? this.defaultRoot : undefined;
      throw err;
    }
  }

  async save(role: RoleName, bytes: Uint8Array): Promise<void> {
    await writeFileAtomic(this.paths.trustFile(role), bytes);
  }

  async remove(role: RoleName): Promise<void> {
    await rm(this.paths.trustFile(role), { force: true });
  }
}
