/**
 * Decoding an encoded target (model/encoded.ts) into a new file, with bounded memory:
 *   zstd             streamed, the zstd window of the frame (capped: windowLogMax) plus buffers;
 *   zstd-patch-from  the same plus the base package as dictionary (read whole: it is the one
 *                    verified package the node already holds, at most LIMITS.packageBytes);
 *   bsdiff-zstd      the control block (capped by the output size), the diff and extra frames
 *                    streamed, the base read at offsets through a 1 MiB window, output in 1 MiB.
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
} from '../model/encoded.ts';

/** Largest zstd window a frame may ask for (2 GiB): a frame asking more is refused, not obeyed. */
const WINDOW_LOG_MAX = 31;
const IO_BYTES = 1024 * 1024;

export interface DecodeInput {
  algorithm: Encoding;
  /** The verified encoded file. */
  encoded: string;
  /** The verified base package (patches only). */
  base?: string;
  out: string;
  /** The signed size of the result: decoding more is E_TOO_LARGE, less E_SIZE_MISMATCH. */
  maxBytes: number;
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

async function unzstd(i: DecodeInput): Promise<void> {
  const dictionary = i.algorithm === 'zstd-patch-from' ? await readBase(i) : undefined;
  const z = createZstdDecompress({
    params: { [constants.ZSTD_d_windowLogMax]: WINDOW_LOG_MAX },
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
  await pipeline(createReadStream(i.encoded), z, cap, out, i.signal ? { signal: i.signal } : {});
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
    const frame = (start: number, end: number) => {
      const s = createReadStream('', { fd: patch, start, end: end - 1, autoClose: false }).pipe(
        createZstdDecompress({ params: { [constants.ZSTD_d_windowLogMax]: WINDOW_LOG_MAX } }),
      );
      streams.push(s);
      return new ByteReader(s);
    };
    const diff = h.diffBytes > 0 ? frame(diffStart, extraStart) : new ByteReader(undefined);
    const extra = total > extraStart ? frame(extraStart, total) : new ByteReader(undefined);
    const base = new WindowReader(old, (await old.stat()).size);
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

  constructor(s: Readable | undefined) {
    this.it = s?.[Symbol.asyncIterator]();
  }

  async take(n: number): Promise<Buffer> {
    if (this.buf.length === 0) {
      const r = this.it ? await this.it.next() : { done: true as const, value: undefined };
      if (r.done) throw new DchatError('E_MALFORMED', 'bsdiff data block ends early');
      this.buf = r.value as Buffer;
    }
    const piece = this.buf.subarray(0, Math.min(n, this.buf.length));
    this.buf = this.buf.subarray(piece.length);
    // A copy: the caller adds the base into it in place.
    return Buffer.from(piece);
  }
}

/** The base file through a 1 MiB window: bytes outside the file count as zero (bspatch). */
class WindowReader {
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
    const { bytesRead } = await this.fh.read(this.win, 0, Math.min(IO_BYTES, this.size - pos), pos);
    if (bytesRead === 0) throw new DchatError('E_IO', 'the base package changed while patching');
    this.start = pos;
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
