import { readFile, rm } from 'node:fs/promises';
import { DchatError } from '../errors.ts';
import { LIMITS } from '../model/limits.ts';
import type { RoleName } from '../trust/metadata.ts';
import { DEFAULT_MAX_BYTES, parseMetadata } from '../trust/metadata.ts';
import type { TrustStore } from '../trust/updater.ts';
import { writeFileAtomic } from './atomic.ts';
import type { HomePaths } from './home.ts';

/**
 * Trusted TUF metadata kept under $DCHAT_HOME/trust, written atomically. Every root saved is also
 * kept by version (trust/roots/<N>.root.json): the TUF update saves each root of the chain it
 * follows, so the home keeps the whole chain, which a node hands to peers that are behind.
 */
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
      return await readCapped(this.paths.trustFile(role), DEFAULT_MAX_BYTES[role] * 4, role);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return role === 'root' ? this.defaultRoot : undefined;
      throw err;
    }
  }

  async save(role: RoleName, bytes: Uint8Array): Promise<void> {
    if (role === 'root') {
      const version = rootVersion(bytes);
      if (version !== undefined) await writeFileAtomic(this.paths.rootHistoryFile(version), bytes);
    }
    await writeFileAtomic(this.paths.trustFile(role), bytes);
  }

  async remove(role: RoleName): Promise<void> {
    await rm(this.paths.trustFile(role), { force: true });
  }

  /** The root of `version` as this home trusted it, if kept (unverified bytes: check the chain). */
  async loadRoot(version: number): Promise<Uint8Array | undefined> {
    if (!Number.isSafeInteger(version) || version < 1) return undefined;
    try {
      return await readCapped(this.paths.rootHistoryFile(version), LIMITS.rootBytes, 'root');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
}

async function readCapped(file: string, maxBytes: number, role: RoleName): Promise<Uint8Array> {
  const bytes = await readFile(file);
  if (bytes.byteLength > maxBytes)
    throw new DchatError('E_TOO_LARGE', `${file} is larger than any ${role} metadata we accept`);
  return bytes;
}

function rootVersion(bytes: Uint8Array): number | undefined {
  try {
    return parseMetadata('root', bytes).signed.version;
  } catch {
    // Not a root we could parse: the store keeps it as given (the caller verified it), unindexed.
    return undefined;
  }
}
