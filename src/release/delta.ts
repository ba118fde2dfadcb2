/**
 * The maintainer's side of delta updates (issue 14): for a new package, the compressed full file
 * and a patch from each older package, each made with every differ available and the smallest
 * kept, measured per pair:
 *   zstd             zstd -19 with a window over the whole file (node:zlib, libzstd);
 *   zstd-patch-from  the zstd tool's --patch-from (the old package as dictionary, --long);
 *   bsdiff-best      the Debian `bsdiff` tool's patch, its three bzip2 blocks each re-framed as
 *                    the smaller of zstd -19 and brotli 11, the control block by columns (both
 *                    decoded by node:zlib, nothing beyond Node on the applying node). bsdiff-zstd
 *                    (all three zstd) is what older nodes read; it is no longer made.
 *   bsdiff-x86       for two x86-64 ELF files, in place of bsdiff-best: bsdiff run on copies
 *                    with every rel32 field zeroed (code that only moved matches whole), the
 *                    fields then predicted from the base (download/x86-refs.ts) and the diff
 *                    taken against that prediction; 23-32% smaller than bsdiff-best on the
 *                    corpus of `npm run bench -- delta`.
 * A patch is kept only when clearly smaller than the compressed full file (at most PATCH_SHARE of
 * it); the compressed full file only when clearly smaller than the package. Every kept encoding is
 * decoded again here and compared with the package byte for byte before it is offered.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliCompress, constants, zstdCompress } from 'node:zlib';
import { sha256Hex } from '../crypto/hash.ts';
import { applyInMemory, blockSizes, parseControl } from '../download/bsdiff-apply.ts';
import { decodeToFile } from '../download/decode.ts';
import { RefPredictor, serializeRefTable, voteFixes } from '../download/x86-refs.ts';
import { elfLoads, isX86Elf, scanRel32, withFieldsZeroed } from '../download/x86-scan.ts';
import { DchatError } from '../errors.ts';
import {
  BLOCK_CODECS,
  type BlockCodec,
  BSDIFF_BEST_HEADER_BYTES,
  BSDIFF_BEST_MAGIC,
  BSDIFF_HEADER_BYTES,
  BSDIFF_X86_HEADER_BYTES,
  BSDIFF_X86_MAGIC,
  BSDIFF_ZSTD_MAGIC,
  BSDIFF40_MAGIC,
  ctrlToColumns,
  type Encoding,
  encodeSparseDiff,
  parseBsdiffHeader,
  windowLog,
  writeOffset,
} from '../model/encoded.ts';

/** A patch larger than this share of the zstd -19 full file is not published. */
export const PATCH_SHARE = 0.8;
/**
 * bsdiff's suffix sort (Debian's qsufsort) takes about 17 bytes per byte of the old file and
 * O(n log n) time: above this size (a 132 MB dchat SEA build would need over 2 GiB and ten
 * minutes) only zstd --patch-from runs, which finds the long matches of near-identical builds.
 */
export const BSDIFF_MAX_BYTES = 64 * 1024 * 1024;
/** The compressed full file is published only below this share of the package. */
export const FULL_SHARE = 0.9;
export const ZSTD_LEVEL = 19;
/**
 * zstd level for packages over BSDIFF_MAX_BYTES, patch and compressed full file alike: level 19
 * on a 132 MB dchat build takes minutes of CPU (the full file) to over ten (--patch-from); with a
 * window over the whole file level 9 takes seconds. Their patch shares are then of this full file.
 */
export const ZSTD_LARGE_LEVEL = 9;

/** The zstd level for inputs spanning `bytes` (see ZSTD_LARGE_LEVEL). */
function zstdLevelFor(bytes: number): number {
  return bytes > BSDIFF_MAX_BYTES ? ZSTD_LARGE_LEVEL : ZSTD_LEVEL;
}

export interface Encoded {
  algorithm: Encoding;
  file: string;
  size: number;
}

export interface PairMeasure {
  /** Every differ tried, with its size (or why it could not run). */
  tried: { algorithm: Encoding; size?: number; ms: number; error?: string }[];
  best?: Encoded;
}

export { windowLog };

export function zstdBytes(data: Buffer, dictionary?: Buffer, level?: number): Promise<Buffer> {
  const span = Math.max(data.length, dictionary?.length ?? 0);
  return new Promise((res, rej) =>
    zstdCompress(
      data,
      {
        params: {
          [constants.ZSTD_c_compressionLevel]: level ?? zstdLevelFor(span),
          [constants.ZSTD_c_windowLog]: windowLog(span),
          [constants.ZSTD_c_contentSizeFlag]: 1,
        },
        ...(dictionary ? { dictionary } : {}),
      },
      (err, r) => (err ? rej(err) : res(r)),
    ),
  );
}

/**
 * `zstd --patch-from` by the zstd tool (dictionary = the old package, a long-distance window over
 * both). Not node:zlib's dictionary option: in-process, the base's long matches were lost on
 * large files (two 132 MB dchat builds differing in their last 5 MB: 27 MB instead of 15 KB).
 * The node decodes the frame with the base as dictionary (download/decode.ts).
 */
export async function zstdPatchFrom(oldPath: string, newPath: string, tmp: string): Promise<Buffer> {
  const [o, n] = await Promise.all([stat(oldPath), stat(newPath)]);
  const span = Math.max(o.size, n.size);
  const out = join(tmp, `zpf-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    await runTool('zstd', [
      '-q',
      '-f',
      // Above BSDIFF_MAX_BYTES level 19's optimal parser took over ten minutes on a 132 MB build;
      // level 9 with the long window finds the same long matches in seconds (15 KB at level 3).
      `-${zstdLevelFor(span)}`,
      `--long=${windowLog(span)}`,
      `--patch-from=${oldPath}`,
      newPath,
      '-o',
      out,
    ]);
    return await readFile(out);
  } finally {
    await rm(out, { force: true });
  }
}

/** Runs a tool; stdin from `input`, stdout collected (capped), stderr kept for the message. */
export function runTool(cmd: string, args: string[], input?: Buffer, maxOut = 0): Promise<Buffer> {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let n = 0;
    let err = '';
    p.stdout?.on('data', (b: Buffer) => {
      n += b.length;
      if (maxOut > 0 && n > maxOut) p.kill();
      else out.push(b);
    });
    p.stderr?.on('data', (b: Buffer) => {
      err = (err + b.toString()).slice(-500);
    });
    p.on('error', (e) => rej(new DchatError('E_NOT_FOUND', `${cmd}: ${e.message}`, { cause: e })));
    p.on('close', (code) => {
      if (code === 0 && !(maxOut > 0 && n > maxOut)) res(Buffer.concat(out));
      else rej(new DchatError('E_INTERNAL', `${cmd} ${args.join(' ')} failed (${code}): ${err.trim()}`));
    });
    if (input) {
      p.stdin?.on('error', () => {});
      p.stdin?.end(input);
    }
  });
}

/**
 * The blocks of a bsdiff (the Debian tool) patch from `oldPath` to `newPath`, unpacked: all three,
 * or (`ctrlOnly`, for bsdiff-x86, which takes its diff and extra from the files themselves) the
 * control block alone, not spending bzip2 on the others.
 */
export async function bsdiffBlocks(
  oldPath: string,
  newPath: string,
  tmp: string,
  newSize: number,
  ctrlOnly = false,
): Promise<{ ctrl: Buffer; diff: Buffer; extra: Buffer }> {
  const raw = join(tmp, `bsdiff-${process.pid}-${Math.random().toString(36).slice(2)}.out`);
  await runTool('bsdiff', [oldPath, newPath, raw]);
  const p = await readFile(raw);
  await rm(raw, { force: true });
  const h = parseBsdiffHeader(p, p.length);
  if (!h || h.magic !== BSDIFF40_MAGIC || h.newSize !== newSize)
    throw new DchatError('E_INTERNAL', 'bsdiff wrote an unexpected patch');
  const diffStart = BSDIFF_HEADER_BYTES + h.ctrlBytes;
  const extraStart = diffStart + h.diffBytes;
  const bunzip = (b: Buffer) => runTool('bzip2', ['-dc'], b, 4 * newSize + 1024 * 1024);
  const none = Promise.resolve(Buffer.alloc(0));
  const [ctrl, diff, extra] = await Promise.all([
    bunzip(p.subarray(BSDIFF_HEADER_BYTES, diffStart)),
    ctrlOnly ? none : bunzip(p.subarray(diffStart, extraStart)),
    ctrlOnly ? none : bunzip(p.subarray(extraStart)),
  ]);
  return { ctrl, diff, extra };
}

function bsdiffHeader(magic: string, bytes: number, ctrlBytes: number, diffBytes: number, newSize: number) {
  const head = Buffer.alloc(bytes);
  head.write(magic, 0, 'latin1');
  writeOffset(ctrlBytes, head, 8);
  writeOffset(diffBytes, head, 16);
  writeOffset(newSize, head, 24);
  return head;
}

/** bsdiff from `oldPath` to `newPath`, re-framed as bsdiff-zstd. */
export async function bsdiffZstd(
  oldPath: string,
  newPath: string,
  tmp: string,
  newSize: number,
): Promise<Buffer> {
  const { ctrl, diff, extra } = await bsdiffBlocks(oldPath, newPath, tmp, newSize);
  const zc = await zstdBytes(ctrl);
  const zd = diff.length > 0 ? await zstdBytes(diff) : Buffer.alloc(0);
  const ze = extra.length > 0 ? await zstdBytes(extra) : Buffer.alloc(0);
  const head = bsdiffHeader(BSDIFF_ZSTD_MAGIC, BSDIFF_HEADER_BYTES, zc.length, zd.length, newSize);
  return Buffer.concat([head, zc, zd, ze]);
}

/**
 * Brotli at its best level is 5-9% smaller than zstd -19 on bsdiff's blocks but seven to ten
 * times slower (about 2 s per MB of a dense block): above this size a block is left to zstd. At
 * 16 MiB, a 34 MB binary's 7 MB extra block cost 14 s of the two minutes a patch may take; a
 * 10 MB binary's patch is about 2% larger for it.
 */
export const BROTLI_BLOCK_MAX = 4 * 1024 * 1024;
/**
 * zstd level for blocks above this size: 17, not 19. On a 34 MB binary's 25 MB control block
 * level 17 took 8.5 s against 13.7 s, and was smaller (3.85 against 3.96 MB).
 */
export const ZSTD_BLOCK_LARGE = 16 * 1024 * 1024;

function brotliBytes(data: Buffer): Promise<Buffer> {
  return new Promise((res, rej) =>
    brotliCompress(
      data,
      {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
          [constants.BROTLI_PARAM_LGWIN]: constants.BROTLI_MAX_WINDOW_BITS,
          [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
        },
      },
      (err, r) => (err ? rej(err) : res(r)),
    ),
  );
}

/** One block in the smaller of zstd -19 (-17 above ZSTD_BLOCK_LARGE) and (up to BROTLI_BLOCK_MAX) brotli 11. */
async function smallerBlock(data: Buffer): Promise<{ codec: BlockCodec; bytes: Buffer }> {
  if (data.length === 0) return { codec: 'zstd', bytes: Buffer.alloc(0) };
  const [z, b] = await Promise.all([
    zstdBytes(data, undefined, data.length > ZSTD_BLOCK_LARGE ? 17 : ZSTD_LEVEL),
    data.length <= BROTLI_BLOCK_MAX ? brotliBytes(data) : undefined,
  ]);
  return b && b.length < z.length ? { codec: 'brotli', bytes: b } : { codec: 'zstd', bytes: z };
}

/** bsdiff from `oldPath` to `newPath` as bsdiff-best (model/encoded.ts BSDIFF_BEST_MAGIC). */
export async function bsdiffBest(
  oldPath: string,
  newPath: string,
  tmp: string,
  newSize: number,
): Promise<Buffer> {
  const { ctrl, diff, extra } = await bsdiffBlocks(oldPath, newPath, tmp, newSize);
  if (ctrl.length % 24 !== 0) throw new DchatError('E_INTERNAL', 'bsdiff wrote a partial control triple');
  const [c, d, e] = await Promise.all([
    smallerBlock(ctrlToColumns(ctrl)),
    smallerBlock(diff),
    smallerBlock(extra),
  ]);
  const head = bsdiffHeader(
    BSDIFF_BEST_MAGIC,
    BSDIFF_BEST_HEADER_BYTES,
    c.bytes.length,
    d.bytes.length,
    newSize,
  );
  [c, d, e].forEach((b, j) => {
    head[BSDIFF_HEADER_BYTES + j] = BLOCK_CODECS[b.codec];
  });
  return Buffer.concat([head, c.bytes, d.bytes, e.bytes]);
}

/** True when both files are x86-64 ELF: bsdiff-x86 is made for them instead of bsdiff-best. */
export function isX86Pair(oldHead: Uint8Array, newHead: Uint8Array): boolean {
  return isX86Elf(oldHead) && isX86Elf(newHead);
}

/** The bsdiff form made for a pair (from the old file's path and the new file's bytes), and its maker. */
export async function bsdiffFor(
  oldPath: string,
  newBytes: Uint8Array,
): Promise<{ kind: Encoding; make: typeof bsdiffBest }> {
  return isX86Pair(await fileHead(oldPath), newBytes)
    ? { kind: 'bsdiff-x86', make: bsdiffX86 }
    : { kind: 'bsdiff-best', make: bsdiffBest };
}

/** bsdiff from `oldPath` to `newPath` as bsdiff-x86 (model/encoded.ts BSDIFF_X86_MAGIC). */
export async function bsdiffX86(
  oldPath: string,
  newPath: string,
  tmp: string,
  newSize: number,
): Promise<Buffer> {
  const [base, next] = await Promise.all([readFile(oldPath), readFile(newPath)]);
  const oldLoads = elfLoads(base);
  const newLoads = elfLoads(next);
  if (!oldLoads || !newLoads || next.length !== newSize)
    throw new DchatError('E_UNSUPPORTED', 'bsdiff-x86 is made for two x86-64 ELF files');
  const fields = scanRel32(base, oldLoads);
  // bsdiff matches the copies with every field zeroed: a function that only moved, or whose
  // callees moved, matches whole; its fields are the predictor's job.
  const id = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  const [oldZ, newZ] = [join(tmp, `x86-old-${id}`), join(tmp, `x86-new-${id}`)];
  let ctrl: Buffer;
  try {
    await Promise.all([
      writeFile(oldZ, withFieldsZeroed(base, fields)),
      writeFile(newZ, withFieldsZeroed(next, scanRel32(next, newLoads))),
    ]);
    ({ ctrl } = await bsdiffBlocks(oldZ, newZ, tmp, newSize, true));
  } finally {
    await Promise.all([rm(oldZ, { force: true }), rm(newZ, { force: true })]);
  }
  if (ctrl.length % 24 !== 0) throw new DchatError('E_INTERNAL', 'bsdiff wrote a partial control triple');
  const c = parseControl(ctrl, false);
  const plain = new RefPredictor(base, c, { newLoads, fixFrom: [], fixTo: [] }, fields);
  const refs = { newLoads, ...voteFixes(plain, c, next) };
  // The prediction is the decoder's own (applyInMemory with a zero diff), so both sides agree;
  // diff and extra are then taken from the real new file.
  const { diff: diffBytes, extra: extraBytes } = blockSizes(c, newSize);
  if (diffBytes === undefined || extraBytes === undefined)
    throw new DchatError('E_INTERNAL', 'bsdiff wrote a control block past the new file');
  const extra = Buffer.alloc(extraBytes);
  for (let k = 0, np = 0, ep = 0; k < c.rows; k++) {
    const [x, y] = [c.x[k] as number, c.y[k] as number];
    next.copy(extra, ep, np + x, np + x + y);
    ep += y;
    np += x + y;
  }
  // An empty sparse diff: the prediction alone.
  const predicted = applyInMemory(
    c,
    Buffer.alloc(0),
    extra,
    new RefPredictor(base, c, refs, fields).base,
    newSize,
    true,
  );
  const diff = Buffer.alloc(diffBytes);
  for (let k = 0, np = 0, dp = 0; k < c.rows; k++) {
    const x = c.x[k] as number;
    for (let j = 0; j < x; j++)
      diff[dp + j] = ((next[np + j] as number) - (predicted[np + j] as number)) & 0xff;
    dp += x;
    np += x + (c.y[k] as number);
  }
  const [cb, db, eb, rb] = await Promise.all([
    smallerBlock(ctrlToColumns(ctrl)),
    smallerBlock(encodeSparseDiff(diff)),
    smallerBlock(extra),
    smallerBlock(serializeRefTable(refs)),
  ]);
  const head = bsdiffHeader(
    BSDIFF_X86_MAGIC,
    BSDIFF_X86_HEADER_BYTES,
    cb.bytes.length,
    db.bytes.length,
    newSize,
  );
  [cb, db, eb, rb].forEach((b, j) => {
    head[BSDIFF_HEADER_BYTES + j] = BLOCK_CODECS[b.codec];
  });
  writeOffset(eb.bytes.length, head, 40);
  return Buffer.concat([head, cb.bytes, db.bytes, eb.bytes, rb.bytes]);
}

/** Decodes `e` (from `base`) and compares with the package: an encoder bug never ships. */
async function roundTrip(e: Encoded, newSha256: string, newSize: number, tmp: string, base?: string) {
  const out = join(tmp, `check-${e.algorithm}`);
  try {
    await decodeToFile({
      algorithm: e.algorithm,
      encoded: e.file,
      ...(base ? { base } : {}),
      out,
      maxBytes: newSize,
    });
    if (sha256Hex(await readFile(out)) !== newSha256)
      throw new DchatError('E_INTERNAL', `${e.algorithm} does not decode to the package`);
  } finally {
    await rm(out, { force: true });
  }
}

export interface EncodeContext {
  newPath: string;
  newBytes: Buffer;
  newSha256: string;
  tmp: string;
  /** zstd -19 of the whole package: what every patch is measured against. */
  fullZstd: Buffer;
}

export async function encodeContext(newPath: string, tmpParent: string): Promise<EncodeContext> {
  const newBytes = await readFile(newPath);
  const tmp = await mkdtemp(join(tmpParent, '.delta-'));
  return { newPath, newBytes, newSha256: sha256Hex(newBytes), tmp, fullZstd: await zstdBytes(newBytes) };
}

/** The compressed full file, if clearly smaller than the package. */
export async function compressedFull(c: EncodeContext): Promise<Encoded | undefined> {
  if (c.fullZstd.length > FULL_SHARE * c.newBytes.length) return undefined;
  const e: Encoded = { algorithm: 'zstd', file: join(c.tmp, 'full.zst'), size: c.fullZstd.length };
  await writeFile(e.file, c.fullZstd);
  await roundTrip(e, c.newSha256, c.newBytes.length, c.tmp);
  return e;
}

/** Every differ on (oldPath -> package), the smallest kept if within PATCH_SHARE of full zstd. */
export async function bestPatch(c: EncodeContext, oldPath: string, tag: string): Promise<PairMeasure> {
  const tried: PairMeasure['tried'] = [];
  const made: Encoded[] = [];
  const oldSize = (await stat(oldPath)).size;
  const attempt = async (algorithm: Encoding, make: () => Promise<Buffer>) => {
    const t0 = performance.now();
    try {
      const bytes = await make();
      const file = join(c.tmp, `${tag}.${algorithm}`);
      await writeFile(file, bytes);
      made.push({ algorithm, file, size: bytes.length });
      tried.push({ algorithm, size: bytes.length, ms: Math.round(performance.now() - t0) });
    } catch (err) {
      tried.push({ algorithm, ms: Math.round(performance.now() - t0), error: (err as Error).message });
    }
  };
  // Both at once (zstd in libuv's pool, bsdiff its own process): on two cores the wall time is
  // the slower one's, and peak memory their sum (about 1 GiB for a 34 MB binary).
  const { kind: bsdiffKind, make: bsdiffMake } = await bsdiffFor(oldPath, c.newBytes);
  await Promise.all([
    attempt('zstd-patch-from', () => zstdPatchFrom(oldPath, c.newPath, c.tmp)),
    Math.max(oldSize, c.newBytes.length) <= BSDIFF_MAX_BYTES
      ? attempt(bsdiffKind, () => bsdiffMake(oldPath, c.newPath, c.tmp, c.newBytes.length))
      : tried.push({ algorithm: bsdiffKind, ms: 0, error: `skipped: over ${BSDIFF_MAX_BYTES} bytes` }),
  ]);
  made.sort((a, b) => a.size - b.size);
  const best = made[0];
  for (const m of made.slice(1)) await rm(m.file, { force: true });
  if (!best || best.size > PATCH_SHARE * c.fullZstd.length) {
    if (best) await rm(best.file, { force: true });
    return { tried };
  }
  await roundTrip(best, c.newSha256, c.newBytes.length, c.tmp, oldPath);
  return { tried, best };
}

export async function disposeContext(c: EncodeContext): Promise<void> {
  await rm(c.tmp, { recursive: true, force: true });
}

/** The first 64 KiB of a file: enough for an ELF header and its program headers. */
async function fileHead(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Size of a file, for reports. */
export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
