import { rm } from 'node:fs/promises';
import { DchatError } from '../errors.ts';
import { LIMITS } from '../model/limits.ts';
import type { RoleName } from '../trust/metadata.ts';
import { DEFAULT_MAX_BYTES, parseMetadata } from '../trust/metadata.ts';
import type { TrustCommit, TrustDocs, TrustStore } from '../trust/updater.ts';
import { writeFileAtomic } from './atomic.ts';
import type { HomePaths } from './home.ts';
import { type LockOptions, withHomeLock } from './lock.ts';
import { readCapped, readCappedIfExists } from './read-capped.ts';

const ROLES: readonly RoleName[] = ['root', 'timestamp', 'snapshot', 'targets'];
export const TRUST_SET_FORMAT = 'dchat-trusted-set/1';
/** The set file holds four documents, base64: a third larger than their caps together. */
const SET_MAX_BYTES = Math.ceil((ROLES.reduce((n, r) => n + DEFAULT_MAX_BYTES[r] * 4, 0) * 4) / 3) + 4096;

/**
 * Trusted TUF metadata kept under $DCHAT_HOME/trust as ONE file, trust/trusted-set.json (the exact
 * bytes of root, timestamp, snapshot and targets, base64), replaced by an atomic rename: after a
 * crash at any instant the home holds the previous set or the new one, never a mix. Every write
 * runs inside `transact`, under the home's trust lock, from the load to the commit.
 *
 * Homes written before the set file kept one file per role (trust/<role>.json); they are read as
 * the set until the first commit, which writes the set file and removes them.
 *
 * Every root committed is also kept by version (trust/roots/<N>.root.json, written before the set
 * that names it): the home keeps the whole chain, which a node hands to peers that are behind.
 */
export class FileTrustStore implements TrustStore {
  private readonly paths: HomePaths;
  /** Root used when the home has none yet (the public network's, shipped in the package). */
  private readonly defaultRoot: Uint8Array | undefined;
  private readonly lock: LockOptions;

  constructor(paths: HomePaths, defaultRoot?: Uint8Array, lock: LockOptions = {}) {
    this.paths = paths;
    this.defaultRoot = defaultRoot;
    this.lock = lock;
  }

  /** One role of the stored set (for display; verification uses `loadSet`, one read). */
  async load(role: RoleName): Promise<Uint8Array | undefined> {
    return (await this.loadSet())[role];
  }

  async loadSet(): Promise<TrustDocs> {
    const set = (await this.readSetFile()) ?? (await this.readLegacy());
    if (!set.root && this.defaultRoot) set.root = this.defaultRoot;
    return set;
  }

  transact<T>(cycle: (current: TrustDocs, commit: TrustCommit) => Promise<T>): Promise<T> {
    return withHomeLock(
      this.paths,
      'trust',
      async () => {
        let committed = false;
        return cycle(await this.loadSet(), async (next, roots) => {
          if (committed) throw new DchatError('E_INTERNAL', 'a trust cycle commits at most once');
          committed = true;
          await this.commit(next, roots);
        });
      },
      this.lock,
    );
  }

  /** A new trust anchor (`trust init`): the set becomes this root alone. */
  pinRoot(root: Uint8Array): Promise<void> {
    return this.transact((_current, commit) => commit({ root }, [root]));
  }

  /** The root of `version` as this home trusted it, if kept (unverified bytes: check the chain). */
  async loadRoot(version: number): Promise<Uint8Array | undefined> {
    if (!Number.isSafeInteger(version) || version < 1) return undefined;
    return readCappedIfExists(this.paths.rootHistoryFile(version), LIMITS.rootBytes);
  }

  private async commit(next: TrustDocs, roots: readonly Uint8Array[]): Promise<void> {
    for (const bytes of roots) {
      const version = rootVersion(bytes);
      if (version !== undefined) await writeFileAtomic(this.paths.rootHistoryFile(version), bytes);
    }
    const doc: Record<string, unknown> = { format: TRUST_SET_FORMAT };
    for (const r of ROLES) {
      const b = next[r];
      if (b) doc[r] = Buffer.from(b).toString('base64');
    }
    await writeFileAtomic(this.paths.trustSetFile, `${JSON.stringify(doc, null, 1)}\n`);
    // Migrated: the per-role files of the old layout are no longer read.
    for (const r of ROLES) await rm(this.paths.trustFile(r), { force: true });
  }

  private async readSetFile(): Promise<TrustDocs | undefined> {
    const bytes = await readCappedIfExists(this.paths.trustSetFile, SET_MAX_BYTES);
    if (!bytes) return undefined;
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    } catch (cause) {
      throw new DchatError('E_MALFORMED', `${this.paths.trustSetFile} is not valid JSON`, { cause });
    }
    if (doc?.format !== TRUST_SET_FORMAT)
      throw new DchatError('E_MALFORMED', `${this.paths.trustSetFile}: not a ${TRUST_SET_FORMAT} file`);
    const set: TrustDocs = {};
    for (const r of ROLES) {
      const v = doc[r];
      if (v === undefined) continue;
      if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v))
        throw new DchatError('E_MALFORMED', `${this.paths.trustSetFile}: ${r} is not base64`);
      set[r] = Buffer.from(v, 'base64');
    }
    return set;
  }

  /** The one-file-per-role layout of older homes (read only; migrated by the next commit). */
  private async readLegacy(): Promise<TrustDocs> {
    const set: TrustDocs = {};
    for (const r of ROLES) {
      const b = await readCappedIfExists(this.paths.trustFile(r), DEFAULT_MAX_BYTES[r] * 4);
      if (b) set[r] = b;
    }
    return set;
  }
}

/** Reads a root file given on the command line or kept in the home (capped, regular file). */
export function readRootFile(path: string): Promise<Buffer> {
  return readCapped(path, LIMITS.rootBytes);
}

function rootVersion(bytes: Uint8Array): number | undefined {
  try {
    return parseMetadata('root', bytes).signed.version;
  } catch {
    // Not a root we could parse: the store keeps it as given (the caller verified it), unindexed.
    return undefined;
  }
}
