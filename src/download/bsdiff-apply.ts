/**
 * bsdiff's apply step over whole buffers (pure: no I/O): the control triples parsed once into
 * typed arrays, each checked before use, and the new file built from the base, the diff block and
 * the extra block. decode.ts reads and decompresses the blocks and writes the result; a result too
 * large for memory goes through its streaming path, which uses `triple` too.
 */
import { DchatError } from '../errors.ts';

/** bsdiff's control triples as numbers (NaN for an offset past 2^53: malformed, caught by `triple`). */
export interface Control {
  rows: number;
  x: Float64Array;
  y: Float64Array;
  z: Float64Array;
}

/**
 * Reads every triple once (rows of 24 bytes, or bsdiff-best's three columns of 8-byte cells),
 * each offset as two little-endian words: per-byte reads of every triple, twice (sizes, apply),
 * were most of a small patch's apply time.
 */
export function parseControl(ctrl: Buffer, columns: boolean): Control {
  const rows = Math.floor(ctrl.length / 24);
  const dv = new DataView(ctrl.buffer, ctrl.byteOffset, ctrl.byteLength);
  const cols = [new Float64Array(rows), new Float64Array(rows), new Float64Array(rows)] as const;
  for (let j = 0; j < 3; j++) {
    const col = cols[j] as Float64Array;
    for (let k = 0; k < rows; k++) {
      const at = columns ? (j * rows + k) * 8 : k * 24 + j * 8;
      const lo = dv.getUint32(at, true);
      const hiWord = dv.getUint32(at + 4, true);
      const hi = hiWord & 0x7fffffff;
      // Above 2^53 the magnitude is not exact (model/encoded.ts readOffset): malformed.
      const v = hi >= 0x200000 ? Number.NaN : hi * 0x100000000 + lo;
      col[k] = hiWord & 0x80000000 ? -v : v;
    }
  }
  return { rows, x: cols[0], y: cols[1], z: cols[2] };
}

/** Control triple k, checked: a triple past the block, or one that writes past the result, is malformed. */
export function triple(c: Control, k: number, newpos: number, newSize: number): [number, number, number] {
  if (k >= c.rows) throw new DchatError('E_MALFORMED', 'bsdiff control block ends early');
  const x = c.x[k] as number;
  const y = c.y[k] as number;
  const z = c.z[k] as number;
  if (!(x >= 0 && y >= 0 && Number.isFinite(z)) || newpos + x + y > newSize)
    throw new DchatError('E_MALFORMED', 'bsdiff control block is out of bounds');
  return [x, y, z];
}

/**
 * The diff and extra bytes the control block asks for (the sums of x and of y), for sizing their
 * buffers; undefined sizes past the result (a malformed block: applying it fails with its cause).
 */
export function blockSizes(c: Control, newSize: number): { diff?: number; extra?: number } {
  let diff = 0;
  let extra = 0;
  for (let k = 0; k < c.rows && diff + extra < newSize; k++) {
    const x = c.x[k] as number;
    const y = c.y[k] as number;
    if (!(x >= 0 && y >= 0)) return {};
    diff += x;
    extra += y;
  }
  return diff + extra <= newSize ? { diff, extra } : {};
}

/** Writes predicted bytes over the base's copy before the diff is added (bsdiff-x86: ./x86-refs.ts). */
export interface CopyPredictor {
  apply(out: Uint8Array, oldpos: number, newpos: number, len: number): void;
}

/** The whole result in one buffer (bytes outside the base count as zero, as in bspatch). */
export function applyInMemory(
  c: Control,
  diff: Buffer,
  extra: Buffer,
  base: Buffer,
  newSize: number,
  predictor?: CopyPredictor,
): Buffer {
  const result = Buffer.allocUnsafe(newSize);
  // One view of the diff block's words for every triple (made per call it cost more than the adds).
  const words = new Uint32Array(diff.buffer, 0, diff.buffer.byteLength >> 2);
  const out = new DataView(result.buffer, result.byteOffset, result.byteLength);
  let oldpos = 0;
  let newpos = 0;
  let dpos = 0;
  let epos = 0;
  for (let k = 0; newpos < newSize; k++) {
    const [x, y, z] = triple(c, k, newpos, newSize);
    if (x > diff.length - dpos || y > extra.length - epos)
      throw new DchatError('E_MALFORMED', 'bsdiff data block ends early');
    // result = diff + base over [0, x): the base part copied, then the diff added where it is
    // not zero (most of it is: that is what makes bsdiff patches compress).
    const from = Math.min(x, Math.max(0, -oldpos));
    const to = Math.max(from, Math.min(x, base.length - oldpos));
    if (from > 0) copy(diff, dpos, result, newpos, from);
    if (to < x) copy(diff, dpos + to, result, newpos + to, x - to);
    copy(base, oldpos + from, result, newpos + from, to - from);
    if (predictor && to > from) predictor.apply(result, oldpos + from, newpos + from, to - from);
    addNonZero(result, out, newpos + from, diff, words, dpos + from, to - from);
    copy(extra, epos, result, newpos + x, y);
    dpos += x;
    epos += y;
    newpos += x + y;
    oldpos += x + z;
  }
  return result;
}

/** Buffer.copy costs about as much as 64 bytes copied one by one: short runs are copied by hand. */
function copy(src: Buffer, from: number, dst: Buffer, at: number, len: number): void {
  if (len > 64) src.copy(dst, at, from, from + len);
  else for (let j = 0; j < len; j++) dst[at + j] = src[from + j] as number;
}

/**
 * dst[at..at+len) += src[from..from+len) bytewise, skipping the zero words of src (`words`:
 * src.buffer, little-endian like `dv`, a view of dst). A non-zero word is added as four lanes at
 * once (SWAR: the low seven bits of each byte added, the top bits by xor, so no carry crosses a
 * byte), dst read and written through the DataView at any alignment.
 */
function addNonZero(
  dst: Buffer,
  dv: DataView,
  at: number,
  src: Buffer,
  words: Uint32Array,
  from: number,
  len: number,
): void {
  // Flat loops, no closures: this runs once per control triple, mostly before the JIT warms up.
  const abs = src.byteOffset + from;
  let j = 0;
  for (; j < len && ((abs + j) & 3) !== 0; j++)
    dst[at + j] = ((dst[at + j] as number) + (src[from + j] as number)) & 0xff;
  const end4 = len - 3;
  for (; j < end4; j += 4) {
    const s = words[(abs + j) >> 2] as number;
    if (s === 0) continue;
    const d = dv.getUint32(at + j, true);
    dv.setUint32(at + j, (((d & 0x7f7f7f7f) + (s & 0x7f7f7f7f)) ^ ((d ^ s) & 0x80808080)) >>> 0, true);
  }
  for (; j < len; j++) dst[at + j] = ((dst[at + j] as number) + (src[from + j] as number)) & 0xff;
}
