/**
 * Decoding an encoded target (model/encoded.ts) into a new file, with bounded memory:
 *   zstd             streamed, the zstd window of the frame (capped: windowLogMax) plus buffers;
 *   zstd-patch-from  the same plus the base package as dictionary (read whole: it is the one
 *                    verified package the node already holds, at most LIMITS.packageBytes);
 *   bsdiff-zstd,     the control block (capped by the output size); up to 256 MiB of output the
 *   bsdiff-best      diff and extra frames decoded whole and the result built a quarter MiB at a
 *                    time (written as it goes), else streamed, output in 1 MiB; the base read
 *                    whole up to 512 MiB (bsdiff seeks all over it), a larger one through a 1 MiB
 *                    window;
 *   bsdiff-x86       as bsdiff-best in memory, with the base's relative addresses predicted
 *                    (./x86-refs.ts) before the diff is added; never streamed (publishers make
 *                    it only for files bsdiff can diff, far below the in-memory bound).
 * The output is never allowed past `maxBytes` (the signed size of the package it must become),
 * and a malformed encoding is E_MALFORMED, never a crash. This only decodes: whether the result
 * is the release is decided by its whole-file hashes against the signed target (update/delta.ts),
 * and the caller syncs the result it keeps (update/delta.ts, once it matched): the publisher's
 * round-trip checks and a result that fails its hashes are never synced.
 */
import { closeSync, createReadStream, createWriteStream, fstatSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  brotliDecompressSync,
  constants,
  createBrotliDecompress,
  createZstdDecompress,
  zstdDecompressSync,
} from 'node:zlib';
import { DchatError, toDchatError } from '../errors.ts';
import {
  type BlockCodec,
  BSDIFF_BEST_MAGIC,
  BSDIFF_X86_HEADER_BYTES,
  BSDIFF_X86_MAGIC,
  BSDIFF_ZSTD_MAGIC,
  type BsdiffHeader,
  type Encoding,
  parseBlockCodecs,
  parseBsdiffHeader,
  sparseDiffCap,
  windowLog,
} from '../model/encoded.ts';
import { readFullAt, readFullAtSync } from '../store/read-at.ts';
import { writeFullAt, writeFullAtSync } from '../store/write-at.ts';
import { applyInWindows, blockSizes, parseControl, triple } from './bsdiff-apply.ts';
import { type KernelFile, Kernels } from './wasm-kernels.ts';
import { maxRefTableBytes, parseRefTable, RefPredictor } from './x86-refs.ts';

const IO_BYTES = 1024 * 1024;
const BASE_IN_MEMORY_MAX = 512 * 1024 * 1024;
/** bsdiff results up to this size are applied in memory (base, decoded frames, a window of result). */
const IN_MEMORY_MAX = 256 * 1024 * 1024;

export interface DecodeInput {
  algorithm: Encoding;
  /** The verified encoded file. */
  encoded: string;
  /** The verified base package (patches only). */
  base?: string;
  out: string;
  /** The signed size of the result: decoding more is E_TOO_LARGE, less E_SIZE_MISMATCH. */
  maxBytes: number;
  /**
   * bsdiff-zstd: a base up to this size is read whole (bsdiff seeks all over it: through a window
   * that meant gigabytes of reads for a 10 MB binary); a larger one through the 1 MiB window.
   */
  baseInMemoryMax?: number;
  signal?: AbortSignal;
}

export async function decodeToFile(i: DecodeInput): Promise<void> {
  try {
    if (i.algorithm === 'bsdiff-zstd' || i.algorithm === 'bsdiff-best' || i.algorithm === 'bsdiff-x86')
      await bspatch(i);
    else await unzstd(i);
  } catch (err) {
    if (err instanceof DchatError) throw err;
    if (i.signal?.aborted) throw new DchatError('E_ABORTED', 'decoding interrupted', { cause: err });
    // A failed system call is the disk's; anything else (a corrupt frame, the wrong dictionary) the data's.
    if ((err as NodeJS.ErrnoException)?.syscall !== undefined) throw toDchatError(err);
    throw new DchatError('E_MALFORMED', `${i.algorithm} data does not decode: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * The largest zstd window a frame may ask for: one covering the base and the result, as the
 * publisher makes them (release/delta.ts). A frame asking more is refused, not obeyed.
 */
function windowLogMax(i: DecodeInput, baseBytes: number): number {
  return windowLog(Math.max(i.maxBytes, baseBytes));
}

async function unzstd(i: DecodeInput): Promise<void> {
  const dictionary = i.algorithm === 'zstd-patch-from' ? await readBase(i) : undefined;
  const z = createZstdDecompress({
    chunkSize: IO_BYTES,
    params: { [constants.ZSTD_d_windowLogMax]: windowLogMax(i, dictionary?.length ?? 0) },
    ...(dictionary ? { dictionary } : {}),
  });
  let n = 0;
  const cap = async function* (src: AsyncIterable<Buffer>) {
    for await (const b of src) {
      n += b.byteLength;
      if (n > i.maxBytes)
        throw new DchatError('E_TOO_LARGE', `decodes to more than the ${i.maxBytes} bytes signed`);
      yield b;
    }
  };
  const out = createWriteStream(i.out, { flags: 'w', mode: 0o600 });
  await pipeline(
    createReadStream(i.encoded, { highWaterMark: IO_BYTES }),
    z,
    cap,
    out,
    i.signal ? { signal: i.signal } : {},
  );
  if (n !== i.maxBytes)
    throw new DchatError('E_SIZE_MISMATCH', `decodes to ${n} bytes, ${i.maxBytes} were signed`);
}

async function readBase(i: DecodeInput): Promise<Buffer> {
  if (!i.base) throw new DchatError('E_MALFORMED', `${i.algorithm} needs a base package`);
  return readFile(i.base);
}

/*
 * File I/O by descriptor (store/read-at.ts, store/write-at.ts): fs's callback calls, on the thread
 * pool, where a read or write may be large or slow; its synchronous ones for opening, measuring,
 * the patch's own frames (read before anything can overlap them) and the result's windows (a
 * quarter MiB into the page cache costs less than a round trip to the pool).
 */

/**
 * The first `size` bytes of the file (zeros past its end: a base that shrank since it was
 * measured then fails its result's hashes, as any tampered base does).
 */
async function readAll(fd: number, size: number): Promise<Buffer> {
  const b = Buffer.alloc(size);
  await readFullAt(fd, b, 0);
  return b;
}

/** The block codecs of a bsdiff-zstd or bsdiff-best header (undefined: not what was signed). */
function blockCodecs(algorithm: Encoding, h: BsdiffHeader, head: Buffer): BlockCodec[] | undefined {
  if (algorithm === 'bsdiff-zstd' && h.magic === BSDIFF_ZSTD_MAGIC) return ['zstd', 'zstd', 'zstd'];
  if (algorithm === 'bsdiff-best' && h.magic === BSDIFF_BEST_MAGIC) return parseBlockCodecs(head);
  if (algorithm === 'bsdiff-x86' && h.magic === BSDIFF_X86_MAGIC) return parseBlockCodecs(head, 4);
  return undefined;
}

/**
 * One whole frame decoded, never past `max` bytes (brotli: standard window, at most 16 MiB).
 * `expect`: the size the frame must have (the control block says it): zlib then decodes into one
 * buffer of that size, not 1 MiB pieces joined at the end (the join and its garbage were a
 * third of an in-memory apply's CPU). Synchronous, on the calling thread: zlib's asynchronous
 * calls run through a stream each, and setting those up cold cost more CPU than the decoding of
 * a 2 MB program's frames (the base is read on the thread pool meanwhile).
 */
function inflate(
  codec: BlockCodec,
  b: Uint8Array,
  max: number,
  windowLogMax: number,
  expect?: number,
): Buffer {
  if (b.length === 0) return Buffer.alloc(0);
  // 1 MiB output pieces: with the default 16 KiB, joining the pieces cost as much as decoding.
  const chunkSize = expect !== undefined && expect <= max ? Math.max(64, expect) : IO_BYTES;
  const o = { maxOutputLength: Math.max(1, max), chunkSize };
  if (codec === 'brotli') return brotliDecompressSync(b, o);
  return zstdDecompressSync(b, { ...o, params: { [constants.ZSTD_d_windowLogMax]: windowLogMax } });
}

/**
 * bspatch over zstd or brotli frames (the algorithm of bsdiff 4.3's bspatch.c). Up to
 * IN_MEMORY_MAX of output with a base read whole, the frames are decoded whole and the output
 * built by the apply kernel (bspatchInMemory: what makes apply fast, where an await per control
 * triple cost more than the additions); larger ones are streamed through 1 MiB pieces
 * (bspatchStreamed). Two functions, so a node's first apply compiles only the path it takes.
 */
async function bspatch(i: DecodeInput): Promise<void> {
  if (!i.base) throw new DchatError('E_MALFORMED', `${i.algorithm} needs a base package`);
  const f: Files = { patch: -1, old: -1, out: -1 };
  try {
    f.patch = openSync(i.encoded, 'r');
    f.old = openSync(i.base, 'r');
    f.out = openSync(i.out, 'w', 0o600);
    const total = fstatSync(f.patch).size;
    const baseSize = fstatSync(f.old).size;
    const head = Buffer.alloc(BSDIFF_X86_HEADER_BYTES);
    const bytesRead = readFullAtSync(f.patch, head, 0);
    const h = parseBsdiffHeader(head.subarray(0, bytesRead), total);
    const codecs = h && blockCodecs(i.algorithm, h, head);
    if (!h || !codecs) throw new DchatError('E_MALFORMED', `not a ${i.algorithm} patch`);
    if (h.newSize !== i.maxBytes)
      throw new DchatError('E_SIZE_MISMATCH', `patch makes ${h.newSize} bytes, ${i.maxBytes} were signed`);
    const diffStart = h.headerBytes + h.ctrlBytes;
    const extraStart = diffStart + h.diffBytes;
    const p: Patch = {
      h,
      codecs,
      total,
      baseSize,
      // The diff and extra blocks are each at most the size of the result.
      windowLog: windowLogMax(i, 0),
      diffStart,
      extraStart,
      // bsdiff-x86: the reference table follows the extra frame.
      extraEnd: h.extraBytes === undefined ? total : extraStart + h.extraBytes,
    };
    const inMemory = baseSize <= (i.baseInMemoryMax ?? BASE_IN_MEMORY_MAX) && h.newSize <= IN_MEMORY_MAX;
    if (h.extraBytes !== undefined && !inMemory)
      throw new DchatError('E_TOO_LARGE', `${i.algorithm} is applied in memory: base or result too large`);
    if (inMemory) await bspatchInMemory(i, p, f);
    else await bspatchStreamed(i, p, f);
  } finally {
    for (const fd of [f.patch, f.old, f.out]) if (fd >= 0) closeSync(fd);
  }
}

/** A bsdiff patch's header, read and checked, and where its frames are. */
interface Patch {
  h: BsdiffHeader;
  codecs: BlockCodec[];
  total: number;
  baseSize: number;
  windowLog: number;
  diffStart: number;
  extraStart: number;
  extraEnd: number;
}

/** The three files' descriptors (-1: not open). */
interface Files {
  patch: number;
  old: number;
  out: number;
}

/** The control frame decoded and parsed (in `into`'s kernel instance when given). */
function controlOf(p: Patch, frame: Uint8Array, into?: Kernels) {
  // Each control triple adds at least one byte of output, or it is an empty no-op at the end.
  const cap = Math.min(24 * (p.h.newSize + 1), 256 * 1024 * 1024);
  const columns = p.h.magic === BSDIFF_BEST_MAGIC || p.h.magic === BSDIFF_X86_MAGIC;
  const ctrl = inflate(p.codecs[0] as BlockCodec, frame, cap, p.windowLog);
  if (columns && ctrl.length % 24 !== 0)
    throw new DchatError('E_MALFORMED', 'bsdiff control block is not whole triples');
  return parseControl(ctrl, columns, into);
}

/**
 * The control block is parsed in the apply kernels' instance (./wasm-kernels.ts); then the base
 * is read on the thread pool, straight into that memory, while this thread decodes the other
 * frames. Nothing allocates in `kernels` until the base is read (a memory growth would detach
 * its view). The result is written as it is built, a window at a time: never whole in memory.
 */
async function bspatchInMemory(i: DecodeInput, p: Patch, f: Files): Promise<void> {
  const { h, codecs, total, baseSize, windowLog: wl } = p;
  const body = Buffer.allocUnsafe(total - h.headerBytes);
  readFullAtSync(f.patch, body, h.headerBytes);
  const frame = (from: number, to: number) => body.subarray(from - h.headerBytes, to - h.headerBytes);
  const kernels = new Kernels();
  const c = controlOf(p, frame(h.headerBytes, p.diffStart), kernels);
  const base: KernelFile = { kernels, at: kernels.alloc(baseSize), size: baseSize };
  // A base that shrank since it was measured leaves zeros (see readAll).
  const baseRead = readFullAt(f.old, kernels.u8(base.at, baseSize), 0);
  // A rejection is taken below; none may go unhandled while this thread decodes.
  baseRead.catch(() => {});
  const sizes = blockSizes(c, h.newSize);
  const sparse = h.magic === BSDIFF_X86_MAGIC;
  // bsdiff-x86's sparse diff has no size the control block gives (model/encoded.ts
  // encodeSparseDiff): capped by the most the result can need, then checked against the block.
  const diffFrame = frame(p.diffStart, p.extraStart);
  const diff = sparse
    ? inflate(codecs[1] as BlockCodec, diffFrame, sparseDiffCap(h.newSize), wl)
    : inflate(codecs[1] as BlockCodec, diffFrame, h.newSize, wl, sizes.diff);
  if (sparse && (sizes.diff === undefined || diff.length > sparseDiffCap(sizes.diff)))
    throw new DchatError('E_MALFORMED', 'bsdiff control block is out of bounds');
  const extra = inflate(codecs[2] as BlockCodec, frame(p.extraStart, p.extraEnd), h.newSize, wl, sizes.extra);
  const refs =
    h.extraBytes === undefined
      ? undefined
      : inflate(codecs[3] as BlockCodec, frame(p.extraEnd, total), maxRefTableBytes(baseSize), wl);
  await baseRead;
  i.signal?.throwIfAborted();
  const from = refs
    ? new RefPredictor(base, c, parseRefTable(refs, baseSize, h.newSize, kernels)).base
    : base;
  applyInWindows(c, diff, extra, from, h.newSize, sparse, (piece, at) => writeFullAtSync(f.out, piece, at));
}

/** bspatch through 1 MiB pieces: the diff and extra frames streamed, the base whole or windowed. */
async function bspatchStreamed(i: DecodeInput, p: Patch, f: Files): Promise<void> {
  const { h, codecs, windowLog: wl } = p;
  const ctrlFrame = Buffer.allocUnsafe(h.ctrlBytes);
  readFullAtSync(f.patch, ctrlFrame, h.headerBytes);
  const c = controlOf(p, ctrlFrame);
  const streams: Readable[] = [];
  const frame = (codec: BlockCodec, start: number, end: number) => {
    // Each frame through a descriptor of its own: a stream closes its descriptor when destroyed.
    const src = createReadStream(i.encoded, { start, end: end - 1, highWaterMark: IO_BYTES });
    // 1 MiB output pieces: each piece is a round trip to the thread pool.
    const s = src.pipe(
      codec === 'brotli'
        ? createBrotliDecompress({ chunkSize: IO_BYTES })
        : createZstdDecompress({ chunkSize: IO_BYTES, params: { [constants.ZSTD_d_windowLogMax]: wl } }),
    );
    streams.push(src, s);
    return new ByteReader(s);
  };
  try {
    const diff =
      h.diffBytes > 0 ? frame(codecs[1] as BlockCodec, p.diffStart, p.extraStart) : new ByteReader(undefined);
    const extra =
      p.extraEnd > p.extraStart
        ? frame(codecs[2] as BlockCodec, p.extraStart, p.extraEnd)
        : new ByteReader(undefined);
    const base =
      p.baseSize <= (i.baseInMemoryMax ?? BASE_IN_MEMORY_MAX)
        ? new MemoryBase(await readAll(f.old, p.baseSize))
        : new WindowReader(f.old, p.baseSize);
    const w = new BufferedWriter(f.out);
    let oldpos = 0;
    let newpos = 0;
    for (let k = 0; newpos < h.newSize; k++) {
      i.signal?.throwIfAborted();
      const [x, y, z] = triple(c, k, newpos, h.newSize);
      for (let left = x; left > 0; ) {
        const piece = await diff.take(left);
        await base.addInto(piece, oldpos);
        await w.write(piece);
        oldpos += piece.length;
        left -= piece.length;
      }
      for (let left = y; left > 0; ) {
        const piece = await extra.take(left);
        await w.write(piece);
        left -= piece.length;
      }
      newpos += x + y;
      oldpos += z;
    }
    await w.flush();
  } finally {
    for (const s of streams) s.destroy();
  }
}

/** Pull reader over a decompressed stream: pieces of at most `n` bytes, in order. */
class ByteReader {
  private readonly it: AsyncIterator<Buffer> | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private error: Error | undefined;

  constructor(s: Readable | undefined) {
    // Listening at once: a frame that fails before it is read must not be an unhandled error.
    s?.on('error', (e: Error) => {
      this.error ??= e;
    });
    this.it = s?.[Symbol.asyncIterator]();
  }

  async take(n: number): Promise<Buffer> {
    while (this.buf.length === 0) {
      const r = this.it && !this.error ? await this.it.next() : { done: true as const, value: undefined };
      if (this.error) throw this.error;
      if (r.done) throw new DchatError('E_MALFORMED', 'bsdiff data block ends early');
      this.buf = r.value as Buffer;
    }
    const piece = this.buf.subarray(0, Math.min(n, this.buf.length));
    this.buf = this.buf.subarray(piece.length);
    // zlib hands out each output region once: the caller may add the base into it in place.
    return piece;
  }
}

interface Base {
  /** Adds the base's bytes at `at..` into `piece` (bytes outside the base count as zero: bspatch). */
  addInto(piece: Buffer, at: number): Promise<void>;
}

class MemoryBase implements Base {
  private readonly b: Buffer;

  constructor(b: Buffer) {
    this.b = b;
  }

  async addInto(piece: Buffer, at: number): Promise<void> {
    const from = Math.max(0, -at);
    const to = Math.min(piece.length, this.b.length - at);
    const b = this.b;
    for (let j = from; j < to; j++) piece[j] = ((piece[j] as number) + (b[j + at] as number)) & 0xff;
  }
}

/** The base file through a 1 MiB window. */
class WindowReader implements Base {
  private readonly fd: number;
  private readonly size: number;
  private win = Buffer.alloc(IO_BYTES);
  private start = 0;
  private len = 0;

  constructor(fd: number, size: number) {
    this.fd = fd;
    this.size = size;
  }

  async addInto(piece: Buffer, at: number): Promise<void> {
    for (let k = 0; k < piece.length; ) {
      const pos = at + k;
      if (pos < 0 || pos >= this.size) {
        k++;
        continue;
      }
      if (pos < this.start || pos >= this.start + this.len) await this.fill(pos);
      const end = Math.min(piece.length, k + (this.start + this.len - pos));
      const off = pos - this.start - k;
      for (let j = k; j < end; j++) piece[j] = ((piece[j] as number) + (this.win[j + off] as number)) & 0xff;
      k = end;
    }
  }

  private async fill(pos: number): Promise<void> {
    // bsdiff's seeks are mostly short hops either way: a quarter of the window stays behind.
    const start = Math.max(0, pos - IO_BYTES / 4);
    const bytesRead = await readFullAt(
      this.fd,
      this.win.subarray(0, Math.min(IO_BYTES, this.size - start)),
      start,
    );
    if (bytesRead <= pos - start) throw new DchatError('E_IO', 'the base package changed while patching');
    this.start = start;
    this.len = bytesRead;
  }
}

/** Appends to the file at `fd` from offset 0, through a 1 MiB buffer. */
class BufferedWriter {
  private readonly fd: number;
  private readonly buf = Buffer.alloc(IO_BYTES);
  private used = 0;
  private pos = 0;

  constructor(fd: number) {
    this.fd = fd;
  }

  async write(b: Buffer): Promise<void> {
    if (this.used + b.length > this.buf.length) await this.flush();
    if (b.length >= this.buf.length) {
      await writeFullAt(this.fd, b, this.pos);
      this.pos += b.length;
      return;
    }
    b.copy(this.buf, this.used);
    this.used += b.length;
  }

  async flush(): Promise<void> {
    if (this.used > 0) await writeFullAt(this.fd, this.buf.subarray(0, this.used), this.pos);
    this.pos += this.used;
    this.used = 0;
  }
}
