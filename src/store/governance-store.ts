/**
 * Governance state under the home:
 *   governance/genesis.json                 the pinned network genesis (`dchat governance init`,
 *                                           then each certified genesis change)
 *   governance/history/genesis-<hash>.json  the geneses pinned before it (the chain of changes)
 *   governance/objects/<kind>-<id>.json     every proposal, vote, approval and certificate held
 * Objects are written atomically, one file each, named by their hash, and removed when a newer
 * one supersedes them (a holder's later vote). Reading is capped and checks each file against
 * its schema; a damaged file is skipped (and reported), never trusted.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DchatError } from '../errors.ts';
import {
  GOVERNANCE_OBJECT_SCHEMAS,
  type GovernanceKind,
  MAX_GENESIS_BYTES,
  MAX_GOVERNANCE_OBJECT_BYTES,
} from '../model/governance.ts';
import { parseJsonBytes } from '../model/schema-util.ts';
import { writeFileAtomic } from './atomic.ts';
import type { HomePaths } from './home.ts';
import { readCapped, readCappedIfExists } from './read-capped.ts';

/** Files read back at start, at most (the gossip core holds fewer). */
const MAX_STORED_OBJECTS = 20_000;
const HISTORY_NAME = /^genesis-[0-9a-f]{64}\.json$/;
/** Past geneses read back at most. */
const MAX_HISTORY = 256;
const NAME = /^(proposal|vote|approval|certificate)-([0-9a-f]{64})\.json$/;

export interface StoredObject {
  kind: GovernanceKind;
  id: string;
  object: unknown;
}

export class GovernanceStore {
  readonly dir: string;
  readonly genesisFile: string;
  readonly objectsDir: string;

  constructor(paths: HomePaths) {
    this.dir = join(paths.home, 'governance');
    this.genesisFile = join(this.dir, 'genesis.json');
    this.objectsDir = join(this.dir, 'objects');
    this.historyDir = join(this.dir, 'history');
  }

  readonly historyDir: string;

  /**
   * A certified change: the genesis pinned until now goes to history/ first, then the new one
   * replaces genesis.json atomically, so a crash in between leaves the old one pinned.
   */
  async moveGenesis(oldHash: string, oldBytes: Uint8Array, newBytes: Uint8Array): Promise<void> {
    await mkdir(this.historyDir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(join(this.historyDir, `genesis-${oldHash}.json`), Buffer.from(oldBytes), {
      mode: 0o644,
    });
    await this.writeGenesis(newBytes);
  }

  /** The geneses pinned before the current one, as JSON (checked by the caller); unreadable ones skipped. */
  async readGenesisHistory(): Promise<unknown[]> {
    let names: string[];
    try {
      names = await readdir(this.historyDir);
    } catch {
      return [];
    }
    const out: unknown[] = [];
    for (const name of names.filter((n) => HISTORY_NAME.test(n)).slice(0, MAX_HISTORY)) {
      try {
        const bytes = await readCapped(join(this.historyDir, name), MAX_GENESIS_BYTES);
        out.push(parseJsonBytes(bytes, MAX_GENESIS_BYTES, name));
      } catch {
        // A damaged history file: that step cannot be served to nodes still behind; nothing else.
      }
    }
    return out;
  }

  /** The pinned genesis as JSON (checked by the caller), or undefined if none is pinned. */
  async readGenesis(): Promise<Record<string, unknown> | undefined> {
    const bytes = await readCappedIfExists(this.genesisFile, MAX_GENESIS_BYTES);
    return bytes ? parseJsonBytes(bytes, MAX_GENESIS_BYTES, this.genesisFile) : undefined;
  }

  async writeGenesis(bytes: Uint8Array): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.genesisFile, Buffer.from(bytes), { mode: 0o644 });
  }

  /** Every stored object, its JSON parsed and checked against its kind's schema; bad files in `skipped`. */
  async readObjects(): Promise<{ objects: StoredObject[]; skipped: string[] }> {
    let names: string[];
    try {
      names = await readdir(this.objectsDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { objects: [], skipped: [] };
      throw new DchatError('E_IO', `cannot list ${this.objectsDir}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const objects: StoredObject[] = [];
    const skipped: string[] = [];
    for (const name of names.slice(0, MAX_STORED_OBJECTS)) {
      const m = NAME.exec(name);
      if (!m) continue;
      const kind = m[1] as GovernanceKind;
      try {
        const bytes = await readCapped(join(this.objectsDir, name), MAX_GOVERNANCE_OBJECT_BYTES);
        const r = GOVERNANCE_OBJECT_SCHEMAS[kind].safeParse(
          parseJsonBytes(bytes, MAX_GOVERNANCE_OBJECT_BYTES, name),
        );
        if (r.success) objects.push({ kind, id: m[2] as string, object: r.data });
        else skipped.push(name);
      } catch {
        skipped.push(name);
      }
    }
    return { objects, skipped };
  }

  async writeObject(kind: GovernanceKind, id: string, object: unknown): Promise<void> {
    await mkdir(this.objectsDir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(join(this.objectsDir, `${kind}-${id}.json`), `${JSON.stringify(object)}\n`, {
      mode: 0o644,
    });
  }

  async removeObject(kind: GovernanceKind, id: string): Promise<void> {
    await rm(join(this.objectsDir, `${kind}-${id}.json`), { force: true });
  }
}
