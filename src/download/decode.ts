/**
 * Decoding an encoded target (model/encoded.ts) into a new file, with bounded memory:
 *   zstd             streamed, the zstd window of the frame (capped: windowLogMax) plus buffers;
 *   zstd-patch-from  the same plus the base package as dictionary (read whole: it is the one
 *                    verified package the node already holds, at most LIMITS.packageBytes);
 *   bsdiff-zstd      the control block (capped by the output size), the diff and extra frames
 *                    streamed, output in 1 MiB; the base read whole up to 512 MiB (bsdiff seeks
 *                    all over it), a larger one through a 1 MiB window.
 * The output is never allowed past `maxBytes` (the signed size of the package it must become),
 * and a malformed encoding is E_MALFORMED, never a crash. This only decodes: whether the result
 * is the release is decided by its whole-file hashes against the signed target (update/delta.ts).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { type FileHandle, open, readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, createZstdDecompress, zstdDecompress } from 'node:zlib';
import { DchatError, toDchatError } from '../errors.ts';
import {
  BSDIFF_HEADER_BYTES,
  BSDIFF_ZSTD_MAGIC,
  type Encoding,
  parseBsdiffHeader,
  readOffset,
  windowLog,
} from '../model/encoded.ts';

const IO_BYTES = 1024 * 1024;
const BASE_IN_MEMORY_MAX = 512 * 1024 * 1024;

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
    if (i.algorithm === 'bsdiff-zstd') await bspatch(i);
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
  await fsyncPath(i.out);
}

async function readBase(i: DecodeInput): Promise<Buffer> {
  if (!i.base) throw new DchatError('E_MALFORMED', `${i.algorithm} needs a base package`);
  return readFile(i.base);
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** bspatch over zstd frames (the algorithm of bsdiff 4.3's bspatch.c, streamed). */
async function bspatch(i: DecodeInput): Promise<void> {
  if (!i.base) throw new DchatError('E_MALFORMED', 'bsdiff-zstd needs a base package');
  const patch = await open(i.encoded, 'r');
  const old = await open(i.base, 'r');
  const out = await open(i.out, 'w', 0o600);
  const streams: Readable[] = [];
  try {
    const { size: total } = await patch.stat();
    const head = Buffer.alloc(BSDIFF_HEADER_BYTES);
    await patch.read(head, 0, head.length, 0);
    const h = parseBsdiffHeader(head, total);
    if (!h || h.magic !== BSDIFF_ZSTD_MAGIC) throw new DchatError('E_MALFORMED', 'not a bsdiff-zstd patch');
    if (h.newSize !== i.maxBytes)
      throw new DchatError('E_SIZE_MISMATCH', `patch makes ${h.newSize} bytes, ${i.maxBytes} were signed`);
    const ctrlRaw = Buffer.alloc(h.ctrlBytes);
    await patch.read(ctrlRaw, 0, h.ctrlBytes, BSDIFF_HEADER_BYTES);
    // Each control triple adds at least one byte of output, or it is an empty no-op at the end.
    const ctrlCap = Math.min(24 * (h.newSize + 1), 256 * 1024 * 1024);
    const ctrl = await new Promise<Buffer>((res, rej) =>
      zstdDecompress(ctrlRaw, { maxOutputLength: ctrlCap }, (err, r) => (err ? rej(err) : res(r))),
    );
    const diffStart = BSDIFF_HEADER_BYTES + h.ctrlBytes;
    const extraStart = diffStart + h.diffBytes;
    // The diff and extra blocks are each at most the size of the result.
    const wl = windowLogMax(i, 0);
    const frame = (start: number, end: number) => {
      const src = createReadStream('', {
        fd: patch,
        start,
        end: end - 1,
        autoClose: false,
        highWaterMark: IO_BYTES,
      });
      // 1 MiB output pieces: each piece is a round trip to the thread pool.
      const s = src.pipe(
        createZstdDecompress({ chunkSize: IO_BYTES, params: { [constants.ZSTD_d_windowLogMax]: wl } }),
      );
      streams.push(src, s);
      return new ByteReader(s);
    };
    const diff = h.diffBytes > 0 ? frame(diffStart, extraStart) : new ByteReader(undefined);
    const extra = total > extraStart ? frame(extraStart, total) : new ByteReader(undefined);
    const baseSize = (await old.stat()).size;
    const base =
      baseSize <= (i.baseInMemoryMax ?? BASE_IN_MEMORY_MAX)
        ? new MemoryBase(await old.readFile())
        : new WindowReader(old, baseSize);
    const w = new BufferedWriter(out);
    let oldpos = 0;
    let newpos = 0;
    let c = 0;
    while (newpos < h.newSize) {
      i.signal?.throwIfAborted();
      if (c + 24 > ctrl.length) throw new DchatError('E_MALFORMED', 'bsdiff control block ends early');
      const x = readOffset(ctrl, c);
      const y = readOffset(ctrl, c + 8);
      const z = readOffset(ctrl, c + 16);
      c += 24;
      if (!(x >= 0 && y >= 0 && Number.isFinite(z)) || newpos + x + y > h.newSize)
        throw new DchatError('E_MALFORMED', 'bsdiff control block is out of bounds');
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
    await out.sync();
  } finally {
    for (const s of streams) s.destroy();
    await Promise.allSettled([patch.close(), old.close(), out.close()]);
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
  private readonly fh: FileHandle;
  private readonly size: number;
  private win = Buffer.alloc(IO_BYTES);
  private start = 0;
  private len = 0;

  constructor(fh: FileHandle, size: number) {
    this.fh = fh;
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
    const { bytesRead } = await this.fh.read(this.win, 0, Math.min(IO_BYTES, this.size - start), start);
    if (bytesRead <= pos - start) throw new DchatError('E_IO', 'the base package changed while patching');
    this.start = start;
    this.len = bytesRead;
  }
}

class BufferedWriter {
  private readonly fh: FileHandle;
  private readonly buf = Buffer.alloc(IO_BYTES);
  private used = 0;

  constructor(fh: FileHandle) {
    this.fh = fh;
  }

  async write(b: Buffer): Promise<void> {
    if (this.used + b.length > this.buf.length) await this.flush();
    if (b.length >= this.buf.length) {
      await this.fh.write(b, 0, b.length);
      return;
    }
    b.copy(this.buf, this.used);
    this.used += b.length;
  }

  async flush(): Promise<void> {
    if (this.used > 0) await this.fh.write(this.buf, 0, this.used);
    this.used = 0;
  }
}
