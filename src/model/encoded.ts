/**
 * Encoded targets (issue 14): a release's bytes in a smaller form, each its own TUF target.
 *   - a patch from an older package (`from`) to a newer one (`to`): `zstd-patch-from` (zstd with
 *     the old package as dictionary and a window over all of it), `bsdiff-zstd` (the bsdiff
 *     tool's control, diff and extra blocks, each one zstd frame instead of bzip2: see
 *     BSDIFF_ZSTD_MAGIC below) or `bsdiff-best` (the same blocks, each in the smaller of brotli
 *     and zstd, the control block by columns: BSDIFF_BEST_MAGIC) or `bsdiff-x86` (bsdiff-best
 *     whose diff is taken against the base with its x86-64 relative addresses predicted:
 *     BSDIFF_X86_MAGIC, download/x86-refs.ts);
 *   - the full package compressed (`zstd`, no `from`).
 * The `custom` names the full targets by their TUF paths; its own hashes and chunk anchor are
 * those of the encoded file, so mirrors and peers serve it like any target and every chunk is
 * checked before it is written. What it decodes to is checked again, as a whole, against the
 * `to` target's signed hashes: a patch is never trusted for its result.
 */
import { z } from 'zod';
import { LIMITS } from './limits.ts';
import { ChunkInfoSchema, PackageCustomSchema } from './package.ts';
import { boundedString, hex64, parseWith, safeUint } from './schema-util.ts';

export const ENCODED_FORMAT = 'dchat.encoded/1';
// A client skips a target whose algorithm it does not know (trust/encoded-targets.ts): new ones
// are appended, and publishers keep making patches an older client can read only by choice.
export const ENCODINGS = ['zstd', 'zstd-patch-from', 'bsdiff-zstd', 'bsdiff-best', 'bsdiff-x86'] as const;
export type Encoding = (typeof ENCODINGS)[number];

export const EncodedCustomSchema = z.looseObject({
  format: z.literal(ENCODED_FORMAT),
  algorithm: z.enum(ENCODINGS),
  /** The full target this decodes to. */
  to: boundedString,
  /** The full target a patch applies to (absent for a compressed full package). */
  from: boundedString.optional(),
  sha256: hex64,
  blake3: hex64,
  size_bytes: safeUint.max(LIMITS.packageBytes),
  chunks: ChunkInfoSchema,
  // The encoded file's own content addresses (release/publish-delta.ts), so IPFS and BitTorrent
  // carry it like a package; the same fields, caps and checks as the package's.
  ipfs_cid: PackageCustomSchema.shape.ipfs_cid,
  ipfs_chunks_cid: PackageCustomSchema.shape.ipfs_chunks_cid,
  btih: PackageCustomSchema.shape.btih,
  magnet: PackageCustomSchema.shape.magnet,
  sources: PackageCustomSchema.shape.sources,
});
export type EncodedCustom = z.infer<typeof EncodedCustomSchema>;

export interface EncodedTarget {
  path: string;
  length: number;
  sha256: string;
  custom: EncodedCustom;
}

/**
 * TUF path of an encoded target. Never of the form `dchat-<version>-<platform>[.ext]`, so a
 * client that does not know encodings skips it (trust/package-check.ts isPackageTarget).
 */
export function encodedName(to: string, algorithm: Encoding, fromVersion?: string): string {
  if (algorithm === 'zstd') return `${to}.full.zst`;
  const ext = {
    'bsdiff-zstd': 'bsdz',
    'bsdiff-best': 'bsdb',
    'bsdiff-x86': 'bsdx',
    'zstd-patch-from': 'zpatch',
  }[algorithm];
  return `${to}.from-${fromVersion}.${ext}`;
}

/** The `to` path an encodedName() was made from (undefined for a name it cannot have made). */
export function encodedBase(name: string): string | undefined {
  if (name.endsWith('.full.zst')) return name.slice(0, -'.full.zst'.length) || undefined;
  const at = name.lastIndexOf('.from-');
  return at > 0 ? name.slice(0, at) : undefined;
}

/** True when the target's custom claims the encoded format (then it must parse). */
export function isEncodedCustom(custom: unknown): boolean {
  return (custom as { format?: unknown } | undefined)?.format === ENCODED_FORMAT;
}

export function parseEncodedCustom(data: unknown, what = 'encoded target custom'): EncodedCustom {
  return parseWith(EncodedCustomSchema, data, what);
}

/** zstd window log covering `bytes` (a whole base and a whole new file): 2^10 .. 2^31. */
export function windowLog(bytes: number): number {
  return Math.min(31, Math.max(10, Math.ceil(Math.log2(bytes + 1))));
}

/**
 * `bsdiff-zstd` container: the BSDIFF40 layout with its three bzip2 blocks replaced by zstd
 * frames. Header (32 bytes): magic, then the byte lengths of the control and diff frames and the
 * size of the new file, each a bsdiff offset (8 bytes little-endian, sign in the top bit).
 */
export const BSDIFF_ZSTD_MAGIC = 'DCBSDZ01';
export const BSDIFF40_MAGIC = 'BSDIFF40';
export const BSDIFF_HEADER_BYTES = 32;

/**
 * `bsdiff-best` container (issue 14: about 8% smaller than bsdiff-zstd on real binaries): the
 * bsdiff-zstd header with this magic, then 8 bytes naming the codec of the control, diff and
 * extra frames (BLOCK_CODECS, one byte each, the other five zero), then the three frames. The
 * control block is stored by columns (every x, then every y, then every z: each column
 * compresses better alone); brotli frames use a standard window (at most 16 MiB).
 */
export const BSDIFF_BEST_MAGIC = 'DCBSDB01';
export const BSDIFF_BEST_HEADER_BYTES = 40;
export const BLOCK_CODECS = { zstd: 1, brotli: 2 } as const;
export type BlockCodec = keyof typeof BLOCK_CODECS;

/**
 * `bsdiff-x86` container: the bsdiff-best header with this magic and four codec bytes (control,
 * diff, extra, reference table), then the byte length of the extra frame (a bsdiff offset), then
 * the four frames. The reference table (download/x86-refs.ts) holds the new file's load segments
 * and the publisher's corrections; the diff is against the base with its fields predicted, and
 * sparse (encodeSparseDiff): with prediction nineteen diff bytes in twenty are zero, and a dense
 * diff cost its decompression and a pass over every byte (DCBSDX01, a dense diff, was never
 * released).
 */
export const BSDIFF_X86_MAGIC = 'DCBSDX02';
export const BSDIFF_X86_HEADER_BYTES = 48;

/** Zero runs shorter than this stay inside a literal (a new record costs about as much). */
const SPARSE_MIN_ZERO_RUN = 4;

/**
 * A bsdiff diff block in sparse form: records of (zero run, literal length) as LEB128 varints
 * followed by the literal (at least one byte); what the records do not cover at the end is zero.
 * Each record costs at most twice the bytes it covers (a varint is never longer than the value
 * it holds, for values of one or more): see sparseDiffCap. Decoded by the apply kernel
 * (download/bspatch-kernels.wat $sparseAdd).
 */
export function encodeSparseDiff(dense: Uint8Array): Buffer {
  const out = Buffer.alloc(sparseDiffCap(dense.length));
  let p = 0;
  const varint = (v: number) => {
    for (; v >= 0x80; v = Math.floor(v / 128)) out[p++] = (v & 0x7f) | 0x80;
    out[p++] = v;
  };
  const n = dense.length;
  for (let i = 0; i < n; ) {
    let lit = i;
    while (lit < n && dense[lit] === 0) lit++;
    if (lit === n) break;
    // The literal ends at the first run of SPARSE_MIN_ZERO_RUN zeros, or at the end.
    let end = lit;
    for (let zeros = 0; end < n && zeros < SPARSE_MIN_ZERO_RUN; end++)
      zeros = dense[end] === 0 ? zeros + 1 : 0;
    while (dense[end - 1] === 0) end--;
    varint(lit - i);
    varint(end - lit);
    out.set(dense.subarray(lit, end), p);
    p += end - lit;
    i = end;
  }
  return out.subarray(0, p);
}

/** The most bytes a sparse diff of `denseBytes` can take (encodeSparseDiff): a cap for decoders. */
export function sparseDiffCap(denseBytes: number): number {
  return 2 * denseBytes + 16;
}

/** The block codecs of a bsdiff-best (3) or bsdiff-x86 (4) header; undefined when any byte is unknown. */
export function parseBlockCodecs(b: Uint8Array, count: 3 | 4 = 3): BlockCodec[] | undefined {
  if (b.length < BSDIFF_HEADER_BYTES + 8) return undefined;
  const byId = (id: number) => Object.entries(BLOCK_CODECS).find(([, v]) => v === id)?.[0] ?? undefined;
  const c = Array.from({ length: count }, (_, j) => byId(b[BSDIFF_HEADER_BYTES + j] as number));
  for (let j = count; j < 8; j++) if (b[BSDIFF_HEADER_BYTES + j] !== 0) return undefined;
  if (c.some((x) => x === undefined)) return undefined;
  return c as BlockCodec[];
}

/** bsdiff's control triples (x, y, z as 24-byte rows) stored by columns, and back. */
export function ctrlToColumns(rows: Uint8Array): Buffer {
  const n = rows.length / 24;
  const out = Buffer.alloc(rows.length);
  for (let k = 0; k < n; k++)
    for (let j = 0; j < 3; j++) out.set(rows.subarray(k * 24 + j * 8, k * 24 + j * 8 + 8), j * n * 8 + k * 8);
  return out;
}

/** A bsdiff offset: 63-bit magnitude little-endian, the top bit of byte 7 the sign. */
export function readOffset(b: Uint8Array, at: number): number {
  const lo =
    ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16)) +
    (b[at + 3] as number) * 0x1000000;
  const hi7 = (b[at + 7] as number) & 0x7f;
  const hi =
    ((b[at + 4] as number) | ((b[at + 5] as number) << 8) | ((b[at + 6] as number) << 16)) + hi7 * 0x1000000;
  // Above 2^53 the magnitude is not exact: no file is that large, so it is malformed.
  if (hi >= 0x200000) return Number.NaN;
  const y = hi * 0x100000000 + lo;
  return (b[at + 7] as number) & 0x80 ? -y : y;
}

export function writeOffset(n: number, b: Uint8Array, at: number): void {
  let y = Math.abs(n);
  for (let i = 0; i < 8; i++) {
    b[at + i] = y % 256;
    y = Math.floor(y / 256);
  }
  if (n < 0) b[at + 7] = (b[at + 7] as number) | 0x80;
}

export interface BsdiffHeader {
  magic: string;
  /** Where the control frame starts. */
  headerBytes: number;
  ctrlBytes: number;
  diffBytes: number;
  /** bsdiff-x86 only: the extra frame's length (the reference table follows it). */
  extraBytes?: number;
  newSize: number;
}

/** A Map, not an object: a file starting with `toString` must not find Object.prototype's. */
const HEADER_BYTES = new Map<string, number>([
  [BSDIFF40_MAGIC, BSDIFF_HEADER_BYTES],
  [BSDIFF_ZSTD_MAGIC, BSDIFF_HEADER_BYTES],
  [BSDIFF_BEST_MAGIC, BSDIFF_BEST_HEADER_BYTES],
  [BSDIFF_X86_MAGIC, BSDIFF_X86_HEADER_BYTES],
]);

/** Parses a BSDIFF40, DCBSDZ01, DCBSDB01 or DCBSDX01 header; lengths must be non-negative and fit `total`. */
export function parseBsdiffHeader(b: Uint8Array, total: number): BsdiffHeader | undefined {
  if (b.length < BSDIFF_HEADER_BYTES) return undefined;
  const magic = String.fromCharCode(...b.subarray(0, 8));
  const head = HEADER_BYTES.get(magic);
  if (head === undefined || b.length < head) return undefined;
  const ctrlBytes = readOffset(b, 8);
  const diffBytes = readOffset(b, 16);
  const newSize = readOffset(b, 24);
  const extraBytes = magic === BSDIFF_X86_MAGIC ? readOffset(b, 40) : 0;
  if (!(ctrlBytes >= 0 && diffBytes >= 0 && newSize >= 0 && extraBytes >= 0)) return undefined;
  if (head + ctrlBytes + diffBytes + extraBytes > total) return undefined;
  return {
    magic,
    headerBytes: head,
    ctrlBytes,
    diffBytes,
    ...(magic === BSDIFF_X86_MAGIC ? { extraBytes } : {}),
    newSize,
  };
}
