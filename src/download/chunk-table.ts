/**
 * The chunk table of a download (step 2): a local copy (the partial directory's, or the one
 * beside an earlier package) if it still matches the signed Merkle root, else the first source,
 * in the machine's order, that serves one that does. A source that fails here is reported to
 * the machine like any other failure (a table contradicting the signed root bans it).
 */
import { DchatError, isSecurityCode, SourceError, toDchatError } from '../errors.ts';
import { type ChunkTable, parseChunkTable } from '../model/chunks.ts';
import { LIMITS } from '../model/limits.ts';
import type { PackageTarget } from '../model/package.ts';
import { readCapped } from '../sources/directory-fetcher.ts';
import { ipfsHint, type Source, torrentHint } from '../sources/source.ts';
import { checkChunkTable } from '../trust/package-check.ts';
import type { FetchError } from './machine/actions.ts';

export interface TableSources {
  /** Source ids in the order to try. */
  order: readonly string[];
  get(id: string): Source | undefined;
  requestSent(id: string): void;
  failed(id: string, err: FetchError): void;
}

/** A table derived from the whole package (BitTorrent) may take this long: 4 GiB at ~2.5 MiB/s. */
const DERIVE_TIMEOUT_MS = 30 * 60_000;

/** The verified table and where it came from ('local' or a source's URI). */
export async function loadChunkTable(
  target: PackageTarget,
  localFiles: readonly string[],
  sources: TableSources,
  signal?: AbortSignal,
): Promise<{ table: ChunkTable; from: string }> {
  for (const local of localFiles) {
    const bytes = await readCapped(local, LIMITS.chunkTableBytes).catch(() => undefined);
    if (!bytes) continue;
    try {
      const table = parseChunkTable(bytes);
      checkChunkTable(target, table);
      return { table, from: 'local' };
    } catch {
      // A stale or damaged local copy: a source's table decides.
    }
  }
  let lastSecurity: DchatError | undefined;
  const tried: string[] = [];
  // Sources that must fetch the whole package to derive a table are asked after those storing one.
  const derives = (id: string) => (sources.get(id)?.derivesChunkTable ? 1 : 0);
  const order = [...sources.order].sort((a, b) => derives(a) - derives(b));
  for (const id of order) {
    const source = sources.get(id);
    if (!source) continue;
    signal?.throwIfAborted();
    try {
      sources.requestSent(id);
      const timeout = AbortSignal.timeout(source.derivesChunkTable ? DERIVE_TIMEOUT_MS : 20_000);
      const ipfs = ipfsHint(target.custom);
      const torrent = torrentHint(target.custom);
      const bytes = await source.fetchChunkTable(target.path, {
        maxBytes: LIMITS.chunkTableBytes,
        chunkSize: target.custom.chunks.size,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        ...(ipfs ? { ipfs } : {}),
        ...(torrent ? { torrent } : {}),
      });
      if (!bytes) {
        tried.push(`${source.uri}: none`);
        continue;
      }
      try {
        const table = parseChunkTable(bytes);
        checkChunkTable(target, table);
        return { table, from: source.uri };
      } catch (err) {
        const e = toDchatError(err);
        throw new SourceError(
          e.code === 'E_TOO_LARGE' ? 'E_TOO_LARGE' : 'E_CHUNK_MISMATCH',
          `${source.uri}: ${e.message}`,
          { cause: e },
        );
      }
    } catch (err) {
      const e = toDchatError(err);
      if (e.code === 'E_ABORTED' && signal?.aborted) throw e;
      if (isSecurityCode(e.code)) lastSecurity = e;
      tried.push(`${source.uri}: ${e.code} ${e.message}`);
      sources.failed(id, fetchError(e));
    }
  }
  if (lastSecurity) throw lastSecurity;
  throw new DchatError(
    'E_NO_SOURCE',
    `no source has a usable chunk table for ${target.path}${tried.length ? ` (${tried.join('; ')})` : ''}`,
  );
}

/** A thrown error as the machine takes it (code, message, HTTP status if any). */
export function fetchError(e: DchatError): FetchError {
  const status = (e.details as { status?: number } | undefined)?.status;
  return {
    code: e.code,
    message: e.message,
    ...(status !== undefined ? { status } : {}),
    ...(e.details !== undefined ? { details: e.details } : {}),
  };
}
