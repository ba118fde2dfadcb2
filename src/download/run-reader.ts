/**
 * Reading one run of chunks from a source (the engine's fetch): one streamed range request for
 * chunks [next, end) (chunk by chunk for a source without ranges), cut into chunks as the bytes
 * arrive, each handed on whole (from inside a piece without a copy when it fits). The run's end
 * may shrink while it is read (another source took its tail) and it may be cancelled: reading
 * stops at the next chunk boundary. A source must deliver the whole range or fail; one that just
 * stops is a truncation (E_NETWORK), one that sends more is E_TOO_LARGE.
 */
import { SourceError } from '../errors.ts';
import { type ChunkTable, chunkRange } from '../model/chunks.ts';
import type { PackageTarget } from '../model/package.ts';
import { releasePiece, takePiece } from '../sources/piece-pool.ts';
import { ipfsHint, type Source, torrentHint } from '../sources/source.ts';

export interface Run {
  next: number;
  end: number;
  cancelled: boolean;
}

export interface RunHooks {
  /** A request goes out. */
  request(): void;
  /** `n` bytes arrived (may wait: the bandwidth limit). */
  received(n: number): Promise<void>;
  /** Chunk `run.next` in full; the hook moves `run.next` on. */
  chunk(data: Buffer): Promise<void>;
}

export async function readRun(
  source: Source,
  target: PackageTarget,
  table: ChunkTable,
  run: Run,
  signal: AbortSignal,
  hooks: RunHooks,
): Promise<void> {
  const cs = table.chunk_size;
  const len = (i: number) => chunkRange(table, i).end - i * cs;
  while (run.next < run.end && !run.cancelled) {
    const start = run.next * cs;
    const end = Math.min(run.end * cs, target.length);
    const ipfs = ipfsHint(target.custom);
    const torrent = torrentHint(target.custom);
    const req = {
      target: target.path,
      sha256: target.sha256,
      start,
      end,
      maxBytes: end - start,
      signal,
      ...(ipfs ? { ipfs } : {}),
      ...(torrent ? { torrent } : {}),
    };
    hooks.request();
    if (!source.streamRange) {
      const cEnd = start + len(run.next);
      const data = await source.fetchRange({ ...req, end: cEnd, maxBytes: cEnd - start });
      await hooks.received(data.byteLength);
      if (data.byteLength !== cEnd - start)
        throw new SourceError(
          'E_SIZE_MISMATCH',
          `${source.uri}: chunk ${run.next} has ${data.byteLength} bytes`,
        );
      await hooks.chunk(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      continue;
    }
    let buf: Buffer | undefined;
    let fill = 0;
    let got = 0;
    let stopped = false;
    stream: for await (const piece of source.streamRange(req)) {
      got += piece.byteLength;
      if (got > end - start)
        throw new SourceError(
          'E_TOO_LARGE',
          `${source.uri} sent more than the ${end - start} bytes asked for`,
        );
      await hooks.received(piece.byteLength);
      const bytes = Buffer.isBuffer(piece)
        ? piece
        : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
      let off = 0;
      // Whether a chunk still points into `bytes` (zero-copy): then it is not ours to recycle.
      let lent = false;
      while (off < bytes.byteLength) {
        const n = len(run.next);
        let chunk: Buffer | undefined;
        if (fill === 0 && bytes.byteLength - off >= n) {
          // A whole chunk inside the piece: checked and written from there, no copy.
          chunk = off === 0 && n === bytes.byteLength ? bytes : bytes.subarray(off, off + n);
          off += n;
          lent = true;
        } else {
          // From the pool, and back to it once hashed: straddling chunks (slow data cut the
          // pieces short) would otherwise each leave 1 MiB of garbage for the GC to find.
          buf ??= takePiece(n);
          const k = Math.min(bytes.byteLength - off, n - fill);
          bytes.copy(buf, fill, off, off + k);
          fill += k;
          off += k;
          if (fill === n) {
            chunk = buf;
            buf = undefined;
            fill = 0;
          }
        }
        if (!chunk) continue;
        await hooks.chunk(chunk);
        // Done, cancelled, or the tail of this run was handed to another source: stop reading.
        if (run.next >= run.end || run.cancelled) {
          stopped = true;
          break stream;
        }
      }
      // Every byte of the piece was copied out: nothing refers to it any more.
      if (!lent) releasePiece(bytes);
    }
    if (!stopped && got < end - start)
      throw new SourceError('E_NETWORK', `${source.uri}: range ended after ${got} of ${end - start} bytes`);
  }
}
