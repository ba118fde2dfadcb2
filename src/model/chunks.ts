import { z } from 'zod';
import { DchatError } from '../errors.ts';
import { LIMITS, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from './limits.ts';
import { hex64, parseJsonBytes, parseWith, safeUint } from './schema-util.ts';

export const CHUNKS_FORMAT = 'dchat.chunks/1';

/**
 * The chunk table kept beside a package: the BLAKE3 hash of every fixed-size chunk. It is not
 * signed itself; its Merkle root is, in the target's custom.chunks, so a table from any source is
 * checked against the signature before any chunk is checked against it.
 */
export const ChunkTableSchema = z.object({
  format: z.literal(CHUNKS_FORMAT),
  hash: z.literal('blake3'),
  chunk_size: z.number().int().min(MIN_CHUNK_SIZE).max(MAX_CHUNK_SIZE),
  size: safeUint.max(LIMITS.packageBytes),
  chunks: z.array(hex64).max(Math.ceil(LIMITS.packageBytes / MIN_CHUNK_SIZE)),
});
export type ChunkTable = z.infer<typeof ChunkTableSchema>;

export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/** Byte range [start, end) of chunk `index`. */
export function chunkRange(
  table: Pick<ChunkTable, 'size' | 'chunk_size'>,
  index: number,
): { start: number; end: number } {
  const start = index * table.chunk_size;
  return { start, end: Math.min(start + table.chunk_size, table.size) };
}

/** Bytes in chunk `index` (the last one may be short). */
export function chunkLength(table: Pick<ChunkTable, 'size' | 'chunk_size'>, index: number): number {
  const { start, end } = chunkRange(table, index);
  return end - start;
}

export function parseChunkTable(bytes: Uint8Array): ChunkTable {
  const table = parseWith(
    ChunkTableSchema,
    parseJsonBytes(bytes, LIMITS.chunkTableBytes, 'chunk table'),
    'chunk table',
  );
  if (table.chunks.length !== chunkCount(table.size, table.chunk_size)) {
    throw new DchatError(
      'E_MALFORMED',
      `chunk table lists ${table.chunks.length} chunks, a ${table.size}-byte package has ${chunkCount(table.size, table.chunk_size)}`,
    );
  }
  return table;
}

export function serializeChunkTable(table: ChunkTable): Buffer {
  return Buffer.from(`${JSON.stringify(table)}\n`);
}
