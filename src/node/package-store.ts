/**
 * The node's verified packages: $DCHAT_HOME/packages/dchat-<v>-<p> with its chunk table (`.chunks`)
 * and signed target entry (`.target.json`) beside it (store/packages.ts owns that layout), so `dchat update
 * verify` works offline on a package that came from peers as on one the download engine wrote. Only packages that pass the full check against the trusted targets are indexed,
 * and only indexed packages are ever served to peers (spec/CLI.md: a package that failed a
 * security check is not served). Every chunk read for a peer is re-hashed against the chunk table
 * first, so bytes damaged on disk after verification are never sent. The encoded targets this
 * home kept (patches: store/encoded.ts) are checked and served the same way, but never listed as
 * packages.
 */
import { open, readdir, readFile } from 'node:fs/promises';
import { chunkHashHex, type Digests } from '../crypto/hash.ts';
import { DchatError } from '../errors.ts';
import type { ChunkServerBackend, Holding } from '../gossip/libp2p/chunks.ts';
import { DEFAULT_AUTO_UPDATE } from '../model/auto-update.ts';
import { CHUNKS_FORMAT, type ChunkTable, chunkRange, parseChunkTable } from '../model/chunks.ts';
import { LIMITS } from '../model/limits.ts';
import type { PackageTarget } from '../model/package.ts';
import type { SourceKind } from '../model/source-kind.ts';
import { loadAutoUpdateConfig } from '../store/auto-update-config.ts';
import {
  addStamp,
  fileIdentity,
  readDigestStamps,
  stampedDigests,
  writeDigestStamps,
} from '../store/digest-stamps.ts';
import {
  dropEncoded,
  encodedFile,
  encodedTableFile,
  listKeptEncoded,
  pruneEncoded,
} from '../store/encoded.ts';
import { digestFile } from '../store/file-digest.ts';
import type { HomePaths } from '../store/home.ts';
import { installPackage, packagePath, targetEntry, writePackageSidecars } from '../store/packages.ts';
import { readFullAt } from '../store/read-at.ts';
import { readCapped } from '../store/read-capped.ts';
import { engineTarget, listEncoded } from '../trust/encoded-targets.ts';
import { checkChunkTable, checkPackage, listPackages } from '../trust/package-check.ts';
import type { TrustedSet } from '../trust/trusted-set.ts';

/** Where a package's bytes came from: a source kind (model/source-kind.ts). */
export type PackageOrigin = SourceKind;

export interface StoredPackage {
  target: PackageTarget;
  table: ChunkTable;
  tableBytes: Uint8Array;
  file: string;
  /** Where its bytes came from in this run ('cache' when found on disk at start). */
  origin: PackageOrigin;
  verifiedAt: string;
  /** Downloaded in this run: bytes fetched, and the encoded target (a patch) it was made from. */
  fetched?: { bytes: number; patch: string | null; savedBytes: number };
}

export type { Holding };

export class PackageStore {
  private readonly paths: HomePaths;
  private readonly byName = new Map<string, StoredPackage>();
  /** Kept encoded targets (patches, compressed packages) served like packages, never installed. */
  private readonly encoded = new Map<string, StoredPackage>();

  constructor(paths: HomePaths) {
    this.paths = paths;
  }

  get(target: string): StoredPackage | undefined {
    return this.byName.get(target);
  }

  list(): StoredPackage[] {
    return [...this.byName.values()];
  }

  /** No longer indexed, so never served (its files are being removed: node/package-retention.ts). */
  forget(target: string): void {
    this.byName.delete(target);
  }

  /** Kept encoded targets indexed now (each checked against its own signed target), never installed. */
  listEncoded(): StoredPackage[] {
    return [...this.encoded.values()];
  }

  /**
   * Everything this node serves over IPFS and BitTorrent: its verified packages and the kept
   * encoded targets, each with its own signed custom (the view carries the encoded file's own
   * CIDs and info hash, trust/encoded-targets.ts engineTarget), so both are provided and seeded
   * the same way.
   */
  seedable(): StoredPackage[] {
    return [...this.list(), ...this.listEncoded()];
  }

  holdings(): Holding[] {
    return this.seedable().map((p) => ({
      target: p.target.path,
      version: p.target.custom.version,
      platform: p.target.custom.platform,
      sha256: p.target.sha256,
      size: p.target.length,
    }));
  }

  /**
   * Indexes every package on disk that the trusted targets list and whose bytes pass the full
   * check; anything else is left alone and not served. A file unchanged since this home hashed it
   * (store/digest-stamps.ts) is checked with its remembered digests and its chunk table sidecar
   * (checked against the signed Merkle root) instead of being hashed again. Returns the names
   * indexed.
   */
  async scan(trusted: TrustedSet): Promise<string[]> {
    const targets = trusted.targets;
    if (!targets) return [];
    let names: Set<string>;
    try {
      names = new Set(await readdir(this.paths.packagesDir));
    } catch {
      return [];
    }
    const all = listPackages(targets);
    const indexed: string[] = [];
    const stamps = await readDigestStamps(this.paths);
    let stamped = false;
    for (const target of all) {
      if (!names.has(target.path) || this.byName.has(target.path)) continue;
      const file = packagePath(this.paths, target);
      try {
        const before = await fileIdentity(file);
        const known = await this.stampedTable(target, stampedDigests(stamps, before));
        let d: Digests;
        let table: ChunkTable;
        let tableBytes: Uint8Array;
        if (known) ({ d, table, tableBytes } = known);
        else {
          const fd = await digestFile(file, {
            chunkSize: target.custom.chunks.size,
            maxBytes: target.length,
          });
          d = fd;
          table = {
            format: CHUNKS_FORMAT,
            hash: 'blake3',
            chunk_size: target.custom.chunks.size,
            size: fd.size,
            chunks: fd.chunks ?? [],
          };
          tableBytes = new Uint8Array();
          if (addStamp(stamps, before, await fileIdentity(file), fd, Date.now())) stamped = true;
        }
        const verdict = checkPackage(target, d, trusted.root.signed, all);
        if (!verdict.ok) continue;
        if (!known) tableBytes = await writePackageSidecars(this.paths, target, table);
        this.index(target, table, tableBytes, 'cache');
        indexed.push(target.path);
      } catch {
        // Unreadable or damaged: not indexed, so never served; a download replaces it.
      }
    }
    if (stamped) await writeDigestStamps(this.paths, stamps).catch(() => {});
    await this.scanEncoded(trusted);
    return indexed;
  }

  /**
   * Indexes the kept encoded targets (store/encoded.ts) that the trusted targets list, after
   * checking each whole file and its chunk table against its own signed target; one that fails
   * is removed; one the targets do not list is left alone and not served; those to releases older
   * than the keep-N setting (`keep_versions`) are pruned first. Returns the names indexed now.
   */
  async scanEncoded(trusted: TrustedSet): Promise<string[]> {
    const targets = trusted.targets;
    if (!targets) return [];
    const packages = new Map(listPackages(targets).map((p) => [p.path, p]));
    const signed = new Map(listEncoded(targets).map((e) => [e.path, e]));
    const { config } = await loadAutoUpdateConfig(this.paths).catch(() => ({ config: DEFAULT_AUTO_UPDATE }));
    await pruneEncoded(this.paths, targets, config.keep_versions).catch(() => []);
    const kept = await listKeptEncoded(this.paths);
    // Removed since indexed (pruned here or by an install): no longer served.
    for (const name of this.encoded.keys()) if (!kept.includes(name)) this.encoded.delete(name);
    const indexed: string[] = [];
    for (const name of kept) {
      if (this.encoded.has(name)) continue;
      const e = signed.get(name);
      const to = e ? packages.get(e.custom.to) : undefined;
      // Not listed by the metadata held now (older, or newer than the file): left alone, not served.
      if (!e || !to) continue;
      const view = engineTarget(e, to);
      try {
        const tableBytes = await readCapped(encodedTableFile(this.paths, name), LIMITS.chunkTableBytes);
        const table = parseChunkTable(tableBytes);
        checkChunkTable(view, table);
        const d = await digestFile(encodedFile(this.paths, name), { maxBytes: view.length });
        if (!checkPackage(view, d, trusted.root.signed).ok)
          throw new DchatError('E_HASH_MISMATCH', `${name} changed since it was verified`);
        this.encoded.set(name, {
          target: view,
          table,
          tableBytes,
          file: encodedFile(this.paths, name),
          origin: 'cache',
          verifiedAt: new Date().toISOString(),
        });
        indexed.push(name);
      } catch {
        await dropEncoded(this.paths, name).catch(() => {});
      }
    }
    return indexed;
  }

  /**
   * With digests a stamp vouches for: the chunk table and target entry already beside the package,
   * if both are what the signed target says (else undefined: the package is hashed again).
   */
  private async stampedTable(
    target: PackageTarget,
    d: Digests | undefined,
  ): Promise<{ d: Digests; table: ChunkTable; tableBytes: Uint8Array } | undefined> {
    if (!d) return undefined;
    const { version, platform } = target.custom;
    try {
      const [tableBytes, entry] = await Promise.all([
        readFile(this.paths.chunkTableFile(version, platform)),
        readFile(this.paths.targetFile(version, platform), 'utf8'),
      ]);
      if (entry !== `${JSON.stringify(targetEntry(target), null, 1)}\n`) return undefined;
      const table = parseChunkTable(tableBytes);
      checkChunkTable(target, table);
      return { d, table, tableBytes };
    } catch {
      return undefined;
    }
  }

  /**
   * Moves a complete, fsynced temp file that the caller verified in full (every chunk against
   * `table`, the whole file against `target`) to its final name, with its chunk table.
   */
  async commit(
    tmpFile: string,
    target: PackageTarget,
    table: ChunkTable,
    origin: PackageOrigin,
  ): Promise<StoredPackage> {
    const tableBytes = await installPackage(this.paths, tmpFile, target, table);
    return this.index(target, table, tableBytes, origin);
  }

  /** Indexes a package the download engine already verified and committed with its sidecars. */
  adopt(
    target: PackageTarget,
    table: ChunkTable,
    tableBytes: Uint8Array,
    origin: PackageOrigin,
  ): StoredPackage {
    return this.index(target, table, tableBytes, origin);
  }

  private index(
    target: PackageTarget,
    table: ChunkTable,
    tableBytes: Uint8Array,
    origin: PackageOrigin,
  ): StoredPackage {
    const stored: StoredPackage = {
      target,
      table,
      tableBytes,
      file: packagePath(this.paths, target),
      origin,
      verifiedAt: new Date().toISOString(),
    };
    this.byName.set(target.path, stored);
    return stored;
  }

  /** What the chunk server (/dchat/chunks/1) serves from: this store, plus trusted metadata by name. */
  chunkBackend(metadata: ChunkServerBackend['metadata']): ChunkServerBackend {
    return {
      holdings: () => this.holdings(),
      metadata,
      chunkTable: (t) => this.chunkTableBytes(t),
      readRange: (t, s, e) => this.readRange(t, s, e),
    };
  }

  /** The chunk table bytes of an indexed package (what peers check against the signed root). */
  chunkTableBytes(target: string): Uint8Array | undefined {
    return this.served(target)?.tableBytes;
  }

  /** An indexed package or kept encoded target, by its TUF path. */
  private served(target: string): StoredPackage | undefined {
    return this.byName.get(target) ?? this.encoded.get(target);
  }

  /**
   * Bytes [start, end) of an indexed package, read chunk by chunk and each chunk re-hashed
   * against the table: E_CHUNK_MISMATCH (and the package dropped from the index) if the disk
   * no longer holds what was verified.
   */
  async readRange(target: string, start: number, end: number): Promise<Uint8Array> {
    const p = this.served(target);
    if (!p) throw new DchatError('E_NOT_FOUND', `no verified package ${target.slice(0, 80)}`);
    if (
      !(
        Number.isSafeInteger(start) &&
        Number.isSafeInteger(end) &&
        0 <= start &&
        start < end &&
        end <= p.target.length
      )
    )
      throw new DchatError('E_MALFORMED', `range [${start}, ${end}) is outside ${target}`);
    const cs = p.table.chunk_size;
    const first = Math.floor(start / cs);
    const last = Math.floor((end - 1) / cs);
    const out = Buffer.allocUnsafe(end - start);
    const fh = await open(p.file, 'r');
    try {
      for (let i = first; i <= last; i++) {
        const r = chunkRange(p.table, i);
        const buf = Buffer.allocUnsafe(r.end - r.start);
        const n = await readFullAt(fh, buf, r.start);
        if (n !== buf.byteLength || chunkHashHex(buf) !== p.table.chunks[i]) {
          this.byName.delete(target);
          this.encoded.delete(target);
          throw new DchatError(
            'E_CHUNK_MISMATCH',
            `${target} chunk ${i} changed on disk since it was verified`,
          );
        }
        const from = Math.max(start, r.start);
        const to = Math.min(end, r.end);
        buf.copy(out, from - start, from - r.start, to - r.start);
      }
    } finally {
      await fh.close();
    }
    return out;
  }
}
