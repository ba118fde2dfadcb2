/**
 * Delta download (issue 14): before fetching a full package, look for a smaller encoded target of
 * it (model/encoded.ts): a patch from a package this home holds, or the compressed package. The
 * smallest is fetched like any target (download engine: every chunk against its signed table, the
 * whole file against its own signed hashes), decoded with bounded memory (download/decode.ts),
 * and the result is checked as a whole against the full target's size, SHA-256, BLAKE3 (and
 * dchat-sign signature) before the usual atomic install into packages/. The base of a patch is
 * hashed again first: a package changed after its install is never patched. The verified encoded
 * file is then kept in encoded/ (store/encoded.ts), where a node serves it to peers.
 * Any failure (no base, a bad patch, a mismatch) ends in a W_DELTA_FALLBACK warning naming the
 * cause's code, every file of the attempt removed, and the caller fetching the full package.
 */
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeToFile } from '../download/decode.ts';
import { type DchatError, toDchatError, VerificationError } from '../errors.ts';
import { report } from '../metrics/sink.ts';
import { CHUNKS_FORMAT, type ChunkTable } from '../model/chunks.ts';
import type { EncodedTarget } from '../model/encoded.ts';
import type { PackageTarget } from '../model/package.ts';
import { fsyncFile } from '../store/atomic.ts';
import { isPlainName, keepEncoded } from '../store/encoded.ts';
import { digestFile, type FileDigests } from '../store/file-digest.ts';
import type { HomePaths } from '../store/home.ts';
import { installPackage, packagePath } from '../store/packages.ts';
import { encodingsOf, engineTarget, listEncoded } from '../trust/encoded-targets.ts';
import { checkPackage, listPackages } from '../trust/package-check.ts';
import type { TrustedSet } from '../trust/trusted-set.ts';
import { type Fetched, type FetchTargetOptions, fetchTarget } from './download.ts';
import type { RunHealth } from './health.ts';
import type { SourceRegistry } from './registry.ts';

/** What the download used: reported by `update download` (human and --json). */
export interface DeltaUse {
  /** The encoded target fetched. */
  target: string;
  algorithm: EncodedTarget['custom']['algorithm'];
  /** The held package it was applied to (patches). */
  from?: string;
  /** Bytes of the encoded target. */
  bytes: number;
  /** The full package's size less the encoded target's. */
  savedBytes: number;
  applyMs: number;
}

export interface DeltaWarning {
  code: 'W_DELTA_FALLBACK';
  /** The failure's own error code (E_HASH_MISMATCH for a changed base, E_MALFORMED ...). */
  cause: string;
  message: string;
  target: string;
}

export interface DeltaAttempt {
  /** Set when the package was installed from an encoded target. */
  fetched?: Fetched;
  used?: DeltaUse;
  warnings: DeltaWarning[];
}

/** Where a held package of `t` may be: packages/ (what every download installs). */
function heldPath(paths: HomePaths, t: PackageTarget): string {
  return packagePath(paths, t);
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

/**
 * Tries the smallest encoded target of `target`. Never throws for the attempt's own failures
 * (they become warnings); an interrupt still ends the download.
 */
export async function tryEncoded(
  paths: HomePaths,
  reg: SourceRegistry,
  trusted: TrustedSet,
  target: PackageTarget,
  health: RunHealth,
  o: FetchTargetOptions & { onWarning?: (w: DeltaWarning) => void },
): Promise<DeltaAttempt> {
  const warnings: DeltaWarning[] = [];
  if (await isFile(packagePath(paths, target))) return { warnings };
  const targets = trusted.requireTargets();
  const all = listEncoded(targets);
  if (all.length === 0) return { warnings };
  const packages = new Map(listPackages(targets).map((p) => [p.path, p]));
  const held = new Set<string>();
  for (const e of all) {
    const from = e.custom.from === undefined ? undefined : packages.get(e.custom.from);
    if (e.custom.to === target.path && from && (await isFile(heldPath(paths, from)))) held.add(from.path);
  }
  const best = encodingsOf(all, target, held).find((e) => e.length < target.length);
  if (!best) return { warnings };
  const dir = join(paths.partialDir, 'delta');
  const encodedFile = join(dir, best.path);
  const out = join(dir, `${target.path}.decoded`);
  const cleanup = () => Promise.all([encodedFile, out].map((f) => rm(f, { force: true })));
  try {
    await mkdir(dir, { recursive: true });
    const base =
      best.custom.from === undefined ? undefined : (packages.get(best.custom.from) as PackageTarget);
    const root = trusted.root.signed;
    // The base as it is now, against its signed target: a file changed since its install must
    // not shape the new one (its result would fail the final check anyway; this names the cause).
    if (base) {
      const d = await digestFile(heldPath(paths, base), { maxBytes: base.length, ...sig(o) });
      const v = checkPackage(base, d, root);
      if (!v.ok)
        throw new VerificationError(
          v.code ?? 'E_HASH_MISMATCH',
          `the held ${base.path} no longer matches its signed target: ${v.message}`,
        );
    }
    const view = engineTarget(best, target);
    // The engine installs the encoded file only once it matched its signed target in full, with
    // the chunk table it was checked against: kept below for peers without hashing it again.
    let encodedTable: ChunkTable | undefined;
    const fetched = await fetchTarget(paths, reg, trusted, view, health, {
      ...o,
      dest: {
        final: encodedFile,
        install: async (file, table) => {
          await rename(file, encodedFile);
          encodedTable = table;
        },
      },
    });
    const t0 = performance.now();
    await decodeToFile({
      algorithm: best.custom.algorithm,
      encoded: encodedFile,
      ...(base ? { base: heldPath(paths, base) } : {}),
      out,
      maxBytes: target.length,
      ...sig(o),
    });
    const applyMs = performance.now() - t0;
    const chunkSize = target.custom.chunks.size;
    const d = await digestFile(out, { maxBytes: target.length, chunkSize, ...sig(o) });
    const verdict = checkPackage(target, d, root, listPackages(targets));
    if (!verdict.ok)
      throw new VerificationError(
        verdict.code ?? 'E_HASH_MISMATCH',
        `${best.path} decoded to bytes that are not ${target.path}: ${verdict.message}`,
      );
    const table = chunkTableOf(d, chunkSize);
    // Synced only now it matched (decodeToFile leaves that to the caller), then moved into place.
    await fsyncFile(out);
    await installPackage(paths, out, target, table);
    if (encodedTable) await keepForPeers(paths, view, encodedFile, encodedTable);
    const used: DeltaUse = {
      target: best.path,
      algorithm: best.custom.algorithm,
      ...(base ? { from: base.path } : {}),
      bytes: best.length,
      savedBytes: target.length - best.length,
      applyMs,
    };
    report.deltaSaved(used.algorithm, used.savedBytes);
    const r = fetched.result;
    return {
      used,
      warnings,
      fetched: {
        reports: fetched.reports,
        result: {
          ...r,
          path: packagePath(paths, target),
          target: target.path,
          size: d.size,
          sha256: d.sha256,
          blake3: d.blake3,
          chunks: table.chunks.length,
          checks: [{ name: 'chunks', ok: true }, ...verdict.checks],
        },
      },
    };
  } catch (err) {
    const e: DchatError = toDchatError(err);
    if (o.signal?.aborted || e.code === 'E_INTERRUPTED') throw e;
    const w: DeltaWarning = {
      code: 'W_DELTA_FALLBACK',
      cause: e.code,
      message: e.message,
      target: best.path,
    };
    warnings.push(w);
    report.deltaFallback(e.code);
    o.onWarning?.(w);
    return { warnings };
  } finally {
    await cleanup();
  }
}

/**
 * Keeps the encoded file the engine verified in full (with `table`, the chunk table it was checked
 * against) in encoded/ (store/encoded.ts), so a node serves it to peers. Best effort: the package
 * is installed already; a file that cannot be kept is just not served.
 */
async function keepForPeers(
  paths: HomePaths,
  view: PackageTarget,
  file: string,
  table: ChunkTable,
): Promise<void> {
  if (!isPlainName(view.path)) return;
  try {
    await keepEncoded(paths, file, view.path, table);
  } catch {
    // Not kept: nothing of it is served, and the caller removes the file.
  }
}

function sig(o: { signal?: AbortSignal }): { signal?: AbortSignal } {
  return o.signal ? { signal: o.signal } : {};
}

/** The chunk table of a file just hashed with `chunkSize` (digestFile's chunk hashes). */
function chunkTableOf(d: FileDigests, chunkSize: number): ChunkTable {
  return {
    format: CHUNKS_FORMAT,
    hash: 'blake3',
    chunk_size: chunkSize,
    size: d.size,
    chunks: d.chunks ?? [],
  };
}
