/**
 * Downloads one trusted package from peers and commits it only when every check passed. This is
 * the node's own minimal loop over a Source (the full download engine, with resume, source
 * planning and throttling, lives in src/download/): chunk table first, checked against the signed
 * Merkle root; then every chunk fetched (several at once, spread over peers by the PeerSource),
 * each checked against the table before it is written at its offset in a temp file; then the
 * whole file checked against the signed target (size, SHA-256, BLAKE3, dchat-sign signature);
 * then fsync and an atomic rename into $DCHAT_HOME/packages. A failure leaves no file there.
 */
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkHashHex, digestFile } from '../crypto/file-digest.ts';
import { DchatError } from '../errors.ts';
import { chunkRange, parseChunkTable } from '../model/chunks.ts';
import { LIMITS } from '../model/limits.ts';
import type { PackageTarget } from '../model/package.ts';
import type { PeerSource } from '../sources/peer.ts';
import { tempPathFor } from '../store/atomic.ts';
import type { HomePaths } from '../store/home.ts';
import { checkChunkTable, checkPackage, listPackages } from '../trust/package-check.ts';
import type { TrustedSet } from '../trust/trusted-set.ts';
import type { PackageStore, StoredPackage } from './package-store.ts';

export interface PeerDownloadOptions {
  paths: HomePaths;
  trusted: TrustedSet;
  target: PackageTarget;
  source: PeerSource;
  store: PackageStore;
  /** Chunks in flight at once (spread over peers). */
  parallel?: number;
  /** Attempts per chunk before the download fails. */
  chunkAttempts?: number;
  signal?: AbortSignal;
  /** Called with each chunk index verified (progress, tests). */
  onChunk?: (index: number) => void;
}

export async function downloadFromPeers(o: PeerDownloadOptions): Promise<StoredPackage> {
  const { target, source } = o;
  source.expect(target);
  const tableBytes = await source.fetchChunkTable(target.path, {
    maxBytes: LIMITS.chunkTableBytes,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  if (!tableBytes) throw new DchatError('E_NO_SOURCE', `no peer has the chunk table of ${target.path}`);
  const table = parseChunkTable(tableBytes);
  checkChunkTable(target, table);
  source.expect(target, table);

  await mkdir(o.paths.partialDir, { recursive: true });
  const tmp = tempPathFor(join(o.paths.partialDir, target.path));
  const fh = await open(tmp, 'wx', 0o644);
  let ok = false;
  try {
    await fh.truncate(target.length);
    let next = 0;
    const attempts = o.chunkAttempts ?? 6;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= table.chunks.length) return;
        const r = chunkRange(table, i);
        let lastErr: unknown;
        let done = false;
        for (let a = 0; a < attempts && !done; a++) {
          o.signal?.throwIfAborted();
          try {
            const bytes = await source.fetchRange({
              target: target.path,
              sha256: target.sha256,
              start: r.start,
              end: r.end,
              maxBytes: r.end - r.start,
              ...(o.signal ? { signal: o.signal } : {}),
            });
            // The caller's own check, whatever the source did: the signed table decides.
            if (bytes.byteLength !== r.end - r.start || chunkHashHex(bytes) !== table.chunks[i])
              throw new DchatError(
                'E_CHUNK_MISMATCH',
                `chunk ${i} of ${target.path} does not match the table`,
              );
            await fh.write(bytes, 0, bytes.byteLength, r.start);
            o.onChunk?.(i);
            done = true;
          } catch (err) {
            lastErr = err;
            if (o.signal?.aborted) throw err;
            await new Promise((res) => setTimeout(res, 50 * (a + 1)));
          }
        }
        if (!done)
          throw new DchatError(
            'E_NO_SOURCE',
            `chunk ${i} of ${target.path}: ${(lastErr as Error)?.message}`,
            {
              cause: lastErr,
            },
          );
      }
    };
    const n = Math.max(1, Math.min(o.parallel ?? 4, table.chunks.length));
    await Promise.all(Array.from({ length: n }, () => worker()));
    await fh.sync();
    await fh.close();
    const d = await digestFile(tmp, { maxBytes: target.length });
    const verdict = checkPackage(target, d, o.trusted.root.signed, listPackages(o.trusted.requireTargets()));
    if (!verdict.ok)
      throw new DchatError(verdict.code ?? 'E_HASH_MISMATCH', verdict.message ?? 'package check failed');
    const stored = await o.store.commit(tmp, target, table, 'peer');
    ok = true;
    return stored;
  } finally {
    await fh.close().catch(() => {});
    if (!ok) await rm(tmp, { force: true });
  }
}
