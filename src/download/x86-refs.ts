/**
 * Reference prediction for `bsdiff-x86` patches (model/encoded.ts). Between two builds of an
 * x86-64 program most changed bytes are not new code: they are the 32-bit relative addresses of
 * calls, jumps and RIP-relative loads whose target moved by a different amount than the
 * instruction (code inserted in between). bsdiff stores each as a difference byte. Here both
 * sides predict them instead, as Chromium's Courgette and Zucchini do in fuller form: the base is
 * scanned for rel32 fields, each field's target is carried to the new file through the bsdiff
 * control block's own copy ranges (plus the publisher's corrections for targets the ranges carry
 * wrongly), and the predicted value is written before the diff is added. The diff then holds only
 * what the prediction missed. Pure: no I/O; the same code runs when the patch is made
 * (release/delta.ts) and applied (./decode.ts), so both sides predict the same bytes.
 *
 * The scan is a heuristic over bytes, not a disassembler: a field found inside data gets a wrong
 * prediction, which the diff corrects like any other change, so it costs size, never correctness.
 */
import { DchatError } from '../errors.ts';
import type { Control } from './bsdiff-apply.ts';

/** A PT_LOAD segment: file bytes [off, off + size) are mapped at vaddr (`exec`: as code). */
export interface Load {
  off: number;
  vaddr: number;
  size: number;
  exec?: boolean;
}

/** More PT_LOAD segments than any linker writes: a header claiming more is not trusted. */
export const MAX_LOADS = 64;

const ELF_MAGIC = 0x464c457f;
const EM_X86_64 = 62;
const PT_LOAD = 1;
const PF_X = 1;

/** True for the header of a little-endian ELF64 x86-64 file (ELFCLASS64, ELFDATA2LSB, EM_X86_64). */
export function isX86Elf(b: Uint8Array): boolean {
  if (b.length < 64) return false;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return (
    dv.getUint32(0, true) === ELF_MAGIC && b[4] === 2 && b[5] === 1 && dv.getUint16(18, true) === EM_X86_64
  );
}

/** The PT_LOAD segments of a little-endian ELF64 x86-64 file; undefined for any other file. */
export function elfLoads(b: Uint8Array): Load[] | undefined {
  if (!isX86Elf(b)) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const phoff = Number(dv.getBigUint64(32, true));
  const entSize = dv.getUint16(54, true);
  const count = dv.getUint16(56, true);
  if (entSize < 56 || phoff + count * entSize > b.length) return undefined;
  const loads: Load[] = [];
  for (let k = 0; k < count; k++) {
    const p = phoff + k * entSize;
    if (dv.getUint32(p, true) !== PT_LOAD) continue;
    const off = Number(dv.getBigUint64(p + 8, true));
    const vaddr = Number(dv.getBigUint64(p + 16, true));
    const size = Math.min(Number(dv.getBigUint64(p + 32, true)), b.length - off);
    if (!(off <= b.length && size >= 0 && Number.isSafeInteger(vaddr + size))) return undefined;
    loads.push({ off, vaddr, size, exec: (dv.getUint32(p + 4, true) & PF_X) !== 0 });
  }
  return loads.length > 0 && loads.length <= MAX_LOADS ? loads : undefined;
}

/**
 * One direction of a file's loads (file offset -> address, or back): the segment of the last
 * answer is tried first (nearly every lookup of a patch lands in the code segment): three lookups
 * per field, on every apply.
 */
class SegmentMap {
  private readonly from: Float64Array;
  private readonly to: Float64Array;
  private readonly size: Float64Array;
  private last = 0;

  constructor(loads: readonly Load[], from: 'off' | 'vaddr') {
    const to = from === 'off' ? 'vaddr' : 'off';
    this.from = Float64Array.from(loads, (l) => l[from]);
    this.to = Float64Array.from(loads, (l) => l[to]);
    this.size = Float64Array.from(loads, (l) => l.size);
  }

  map(x: number): number | undefined {
    let k = this.last;
    if (!(x >= (this.from[k] as number) && x < (this.from[k] as number) + (this.size[k] as number))) {
      for (k = 0; k < this.from.length; k++)
        if (x >= (this.from[k] as number) && x < (this.from[k] as number) + (this.size[k] as number)) break;
      if (k === this.from.length) return undefined;
      this.last = k;
    }
    return x - (this.from[k] as number) + (this.to[k] as number);
  }
}

/** The signed little-endian 32-bit value at `at`. */
function int32At(b: Uint8Array, at: number): number {
  return (
    (b[at] as number) |
    ((b[at + 1] as number) << 8) |
    ((b[at + 2] as number) << 16) |
    ((b[at + 3] as number) << 24)
  );
}

/**
 * Opcode tables. MODRM_TAIL[op]: op takes a ModRM byte, which may name [rip + disp32]; the value
 * is 1 + the bytes of immediate after the displacement (the target is relative to the end of the
 * instruction). TWO_BYTE[op]: the same for 0F op (SSE moves and arithmetic, movzx/movsx, imul).
 */
const MODRM_TAIL = new Uint8Array(256);
for (const op of [
  0x01, 0x03, 0x09, 0x0b, 0x13, 0x1b, 0x21, 0x23, 0x29, 0x2b, 0x31, 0x33, 0x39, 0x3b, 0x63, 0x84, 0x85, 0x87,
  0x88, 0x89, 0x8a, 0x8b, 0x8d, 0xff,
])
  MODRM_TAIL[op] = 1;
for (const op of [0x80, 0x83, 0xc6, 0xf6]) MODRM_TAIL[op] = 2;
for (const op of [0x81, 0xc7]) MODRM_TAIL[op] = 5;
const TWO_BYTE = new Uint8Array(256);
for (const op of [
  0x10, 0x11, 0x12, 0x16, 0x28, 0x29, 0x2a, 0x2e, 0x2f, 0x38, 0x3a, 0x51, 0x54, 0x57, 0x58, 0x59, 0x5a, 0x5c,
  0x5e, 0x64, 0x6f, 0x74, 0x75, 0x76, 0x7e, 0x7f, 0xaf, 0xb6, 0xb7, 0xbe, 0xbf, 0xd4, 0xd6, 0xdb, 0xeb, 0xef,
  0xfe,
])
  TWO_BYTE[op] = 1;
/**
 * What a byte and the one after it may start, read as one 16-bit index (op | next << 8): 0 nothing
 * (nineteen pairs in twenty), CALL, JCC, SSE (0F op: the ModRM byte is the third), or RIP + the
 * immediate's size for a one-byte opcode whose ModRM names [rip + disp32]. One table read per byte
 * and a branch that is rarely taken (testing the opcode alone matched a quarter of all bytes):
 * 31 against 38 ms for 8.5 MB of code here.
 */
const CALL = 1;
const JCC = 2;
const SSE = 3;
const RIP = 8;
const PAIR = new Uint8Array(65536);
for (let op = 0; op < 256; op++)
  for (let next = 0; next < 256; next++) {
    const k = op | (next << 8);
    if (op === 0xe8 || op === 0xe9) PAIR[k] = CALL;
    else if (op === 0x0f) PAIR[k] = (next & 0xf0) === 0x80 ? JCC : TWO_BYTE[next] === 1 ? SSE : 0;
    else if (MODRM_TAIL[op] !== 0 && (next & 0xc7) === 0x05) PAIR[k] = RIP + (MODRM_TAIL[op] as number) - 1;
  }

/** The rel32 fields found in a file: offsets ascending, and each one's bytes of immediate after it. */
export interface Rel32Fields {
  count: number;
  at: Uint32Array;
  tail: Uint8Array;
}

/**
 * Every rel32 field in the executable segments of `loads`: call/jmp rel32 (E8, E9), jcc rel32
 * (0F 8x) and [rip + disp32] operands. The scan resumes after each field found (whether or not it
 * is real), so it finds the same fields whatever values the fields hold: the publisher's
 * normalized copy and the base agree. One flat loop into arrays sized for the most fields a
 * segment can hold (one per five bytes): it runs on every apply, mostly before the JIT warms up.
 */
export function scanRel32(b: Uint8Array, loads: readonly Load[]): Rel32Fields {
  let cap = 0;
  for (const l of loads) if (l.exec) cap += Math.ceil(l.size / 5);
  const at = new Uint32Array(cap);
  const tail = new Uint8Array(cap);
  let n = 0;
  for (const l of [...loads].filter((x) => x.exec).sort((x, y) => x.off - y.off)) {
    const end = Math.min(b.length, l.off + l.size);
    // Segments do not overlap in a well-formed file; in any other, stay ascending.
    const start = n > 0 ? Math.max(l.off, (at[n - 1] as number) + 4) : l.off;
    for (let i = start; i + 6 <= end; i++) {
      const k = PAIR[(b[i] as number) | ((b[i + 1] as number) << 8)] as number;
      if (k === 0) continue;
      if (k === CALL) {
        at[n] = i + 1;
        tail[n++] = 0;
        i += 4;
      } else if (k === JCC) {
        at[n] = i + 2;
        tail[n++] = 0;
        i += 5;
      } else if (k === SSE) {
        if (i + 7 <= end && ((b[i + 2] as number) & 0xc7) === 0x05) {
          at[n] = i + 3;
          tail[n++] = 0;
          i += 6;
        }
      } else {
        const t = k - RIP;
        if (i + 6 + t <= end) {
          at[n] = i + 2;
          tail[n++] = t;
          i += 5 + t;
        }
      }
    }
  }
  return { count: n, at, tail };
}

/** A copy of `b` with every field zeroed: what the publisher matches, so moved code still matches. */
export function withFieldsZeroed(b: Uint8Array, f: Rel32Fields): Buffer {
  const out = Buffer.from(b);
  for (let k = 0; k < f.count; k++) out.fill(0, f.at[k] as number, (f.at[k] as number) + 4);
  return out;
}

/** What a bsdiff-x86 patch carries besides bsdiff's blocks. */
export interface RefTable {
  /** The new file's PT_LOAD segments (a field's value is a distance between addresses). */
  newLoads: Load[];
  /** Old target offsets (ascending) the copy ranges carry wrongly, and where each goes instead. */
  fixFrom: number[];
  fixTo: number[];
}

const ROW_KEY = 2 ** 22;

/** Copy ranges of the control block, ordered by where they start in the old file. */
class CopyMap {
  private readonly o: Float64Array;
  private readonly n: Float64Array;
  private readonly x: Float64Array;

  constructor(c: Control) {
    const oldAt = new Float64Array(c.rows);
    const newAt = new Float64Array(c.rows);
    // Sorted by (old start, row) through one numeric key per range: a typed array's own sort,
    // several times faster than a comparator over 30,000 ranges. Keys stay below 2^52: ranges
    // starting past 2^30 or after row 2^22 carry nothing (no real patch has them).
    const keys: number[] = [];
    let op = 0;
    let np = 0;
    for (let k = 0; k < c.rows; k++) {
      oldAt[k] = op;
      newAt[k] = np;
      if ((c.x[k] as number) > 0 && op >= 0 && op < 2 ** 30 && k < ROW_KEY) keys.push(op * ROW_KEY + k);
      np += (c.x[k] as number) + (c.y[k] as number);
      op += (c.x[k] as number) + (c.z[k] as number);
    }
    const sorted = Float64Array.from(keys).sort();
    this.o = new Float64Array(sorted.length);
    this.n = new Float64Array(sorted.length);
    this.x = new Float64Array(sorted.length);
    for (let j = 0; j < sorted.length; j++) {
      const k = (sorted[j] as number) % ROW_KEY;
      this.o[j] = oldAt[k] as number;
      this.n[j] = newAt[k] as number;
      this.x[j] = c.x[k] as number;
    }
  }

  /** Where old offset t went: the latest-starting of the last four ranges starting at or before it that hold it. */
  map(t: number): number | undefined {
    let lo = 0;
    let hi = this.o.length - 1;
    let r = -1;
    while (lo <= hi) {
      const m = (lo + hi) >> 1;
      if ((this.o[m] as number) <= t) {
        r = m;
        lo = m + 1;
      } else hi = m - 1;
    }
    for (let j = r; j >= 0 && j > r - 4; j--) {
      const o = this.o[j] as number;
      if (t < o + (this.x[j] as number)) return (this.n[j] as number) + (t - o);
    }
    return undefined;
  }
}

/** First index of `at` (ascending, `count` long) holding a value >= v. */
function lowerBound(at: Uint32Array, count: number, v: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if ((at[m] as number) < v) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/** The predictor of one patch: the base's fields and loads, the copy ranges, the corrections. */
export class RefPredictor {
  readonly fields: Rel32Fields;
  private readonly base: Uint8Array;
  /** Old file offset -> address, address -> old file offset, new file offset -> address. */
  private readonly oldVaddr: SegmentMap;
  private readonly oldOffset: SegmentMap;
  private readonly newVaddr: SegmentMap;
  private readonly copies: CopyMap;
  /** The corrections, by old target ascending (parseRefTable checks the order). */
  private readonly fixFrom: Float64Array;
  private readonly fixTo: Float64Array;

  constructor(base: Uint8Array, c: Control, refs: RefTable, fields?: Rel32Fields) {
    const oldLoads = elfLoads(base);
    if (!oldLoads) throw new DchatError('E_MALFORMED', 'bsdiff-x86 needs an x86-64 ELF base');
    this.base = base;
    this.fields = fields ?? scanRel32(base, oldLoads);
    this.oldVaddr = new SegmentMap(oldLoads, 'off');
    this.oldOffset = new SegmentMap(oldLoads, 'vaddr');
    this.newVaddr = new SegmentMap(refs.newLoads, 'off');
    this.copies = new CopyMap(c);
    // No more corrections than the base has fields: each corrects a target some field points at.
    if (refs.fixFrom.length > this.fields.count)
      throw new DchatError('E_MALFORMED', 'bsdiff-x86 has more corrections than its base has fields');
    this.fixFrom = Float64Array.from(refs.fixFrom);
    this.fixTo = Float64Array.from(refs.fixTo);
  }

  /** Where the field at old offset `f` (with `tail` bytes after it) points, as an old offset. */
  target(f: number, tail: number): number | undefined {
    const fv = this.oldVaddr.map(f);
    if (fv === undefined) return undefined;
    return this.oldOffset.map(fv + 4 + tail + int32At(this.base, f));
  }

  /** Where old target offset `t` is in the new file: a correction, else the copy range holding it. */
  carry(t: number): number | undefined {
    let lo = 0;
    let hi = this.fixFrom.length - 1;
    while (lo <= hi) {
      const m = (lo + hi) >> 1;
      const v = this.fixFrom[m] as number;
      if (v === t) return this.fixTo[m] as number;
      if (v < t) lo = m + 1;
      else hi = m - 1;
    }
    return this.copies.map(t);
  }

  /** The value field `f` (copied to new offset `nf`) should hold, or undefined to leave the copy. */
  predict(f: number, tail: number, nf: number): number | undefined {
    const t = this.target(f, tail);
    const nt = t === undefined ? undefined : this.carry(t);
    if (nt === undefined) return undefined;
    const nfv = this.newVaddr.map(nf);
    const ntv = this.newVaddr.map(nt);
    if (nfv === undefined || ntv === undefined) return undefined;
    const rel = ntv - (nfv + 4 + tail);
    return rel >= -0x80000000 && rel <= 0x7fffffff ? rel : undefined;
  }

  /**
   * Writes the predicted value of every field wholly inside base[oldpos, oldpos + len), copied to
   * out[newpos, newpos + len): the bytes the diff is then added to.
   */
  apply(out: Uint8Array, oldpos: number, newpos: number, len: number): void {
    const { at, tail, count } = this.fields;
    for (let k = lowerBound(at, count, oldpos); k < count; k++) {
      const f = at[k] as number;
      if (f + 4 > oldpos + len) break;
      const nf = newpos + (f - oldpos);
      const v = this.predict(f, tail[k] as number, nf);
      if (v === undefined) continue;
      out[nf] = v & 0xff;
      out[nf + 1] = (v >> 8) & 0xff;
      out[nf + 2] = (v >> 16) & 0xff;
      out[nf + 3] = (v >>> 24) & 0xff;
    }
  }
}

/** Bytes of one correction (two int32) and of one load (three uint64) in the table. */
const FIX_BYTES_PER_ENTRY = 8;
const LOAD_BYTES = 24;

/**
 * The largest table a base of `baseSize` bytes can have: every load, and no more corrections than
 * the base has fields (at least five bytes apart). A frame decoding to more is refused unread.
 */
export function maxRefTableBytes(baseSize: number): number {
  return 8 + MAX_LOADS * LOAD_BYTES + FIX_BYTES_PER_ENTRY * Math.ceil(baseSize / 5);
}

/** The refs frame: loads, then corrections as two int32 columns (old target deltas, shifts). */
export function serializeRefTable(r: RefTable): Buffer {
  const n = r.fixFrom.length;
  const b = Buffer.alloc(8 + r.newLoads.length * LOAD_BYTES + n * FIX_BYTES_PER_ENTRY);
  let p = 0;
  b.writeUInt32LE(r.newLoads.length, p);
  p += 4;
  for (const l of r.newLoads) {
    b.writeBigUInt64LE(BigInt(l.off), p);
    b.writeBigUInt64LE(BigInt(l.vaddr), p + 8);
    b.writeBigUInt64LE(BigInt(l.size), p + 16);
    p += LOAD_BYTES;
  }
  b.writeUInt32LE(n, p);
  p += 4;
  let prev = 0;
  for (let k = 0; k < n; k++) {
    const t = r.fixFrom[k] as number;
    b.writeInt32LE(t - prev, p + 4 * k);
    b.writeInt32LE((r.fixTo[k] as number) - t, p + 4 * (n + k));
    prev = t;
  }
  return b;
}

/** Parses a refs frame; every count, offset and address checked against the two files' sizes. */
export function parseRefTable(b: Buffer, baseSize: number, newSize: number): RefTable {
  const bad = (why: string) => new DchatError('E_MALFORMED', `bsdiff-x86 reference table: ${why}`);
  if (b.length < 8) throw bad('too short');
  let p = 0;
  const nLoads = b.readUInt32LE(p);
  p += 4;
  if (nLoads === 0 || nLoads > MAX_LOADS || b.length < p + nLoads * LOAD_BYTES + 4)
    throw bad('bad load count');
  const newLoads: Load[] = [];
  for (let k = 0; k < nLoads; k++) {
    const [off, vaddr, size] = [0, 8, 16].map((d) => Number(b.readBigUInt64LE(p + d))) as [
      number,
      number,
      number,
    ];
    if (!(off + size <= newSize && Number.isSafeInteger(vaddr + size)))
      throw bad('a load lies outside the file');
    newLoads.push({ off, vaddr, size });
    p += LOAD_BYTES;
  }
  const n = b.readUInt32LE(p);
  p += 4;
  if (b.length !== p + n * FIX_BYTES_PER_ENTRY) throw bad('its length does not match its count');
  const fixFrom: number[] = new Array(n);
  const fixTo: number[] = new Array(n);
  let t = 0;
  for (let k = 0; k < n; k++) {
    const dt = b.readInt32LE(p + 4 * k);
    t += dt;
    const to = t + b.readInt32LE(p + 4 * (n + k));
    if ((k > 0 && dt <= 0) || t < 0 || t >= baseSize || to < 0 || to >= newSize)
      throw bad('a correction is out of order or outside the files');
    fixFrom[k] = t;
    fixTo[k] = to;
  }
  return { newLoads, fixFrom, fixTo };
}

/**
 * The publisher's corrections: for each old target, where the new file's fields (read at the
 * places the copy ranges put the old fields) actually point, by majority; kept where that differs
 * from what the ranges say and at least `minVotes` fields agree (one correction costs about as
 * much as one field's difference bytes).
 */
export function voteFixes(
  p: RefPredictor,
  c: Control,
  newBytes: Uint8Array,
  newLoads: Load[],
  minVotes = 2,
): { fixFrom: number[]; fixTo: number[] } {
  const votes = new Map<number, Map<number, number>>();
  const newVaddr = new SegmentMap(newLoads, 'off');
  const newOffset = new SegmentMap(newLoads, 'vaddr');
  const { at, tail, count } = p.fields;
  let op = 0;
  let np = 0;
  for (let k = 0; k < c.rows; k++) {
    const x = c.x[k] as number;
    for (let j = lowerBound(at, count, op); j < count && (at[j] as number) + 4 <= op + x; j++) {
      const f = at[j] as number;
      const t = p.target(f, tail[j] as number);
      const nf = np + (f - op);
      const nfv = newVaddr.map(nf);
      if (t === undefined || nfv === undefined || nf + 4 > newBytes.length) continue;
      const nt = newOffset.map(nfv + 4 + (tail[j] as number) + int32At(newBytes, nf));
      if (nt === undefined) continue;
      const m = votes.get(t) ?? new Map<number, number>();
      votes.set(t, m);
      m.set(nt, (m.get(nt) ?? 0) + 1);
    }
    np += x + (c.y[k] as number);
    op += x + (c.z[k] as number);
  }
  const fixes: [number, number][] = [];
  for (const [t, m] of votes) {
    let best = -1;
    let bestVotes = 0;
    for (const [nt, v] of m) if (v > bestVotes || (v === bestVotes && nt < best)) [best, bestVotes] = [nt, v];
    if (bestVotes >= minVotes && best !== p.carry(t)) fixes.push([t, best]);
  }
  fixes.sort((a, b) => a[0] - b[0]);
  return { fixFrom: fixes.map((f) => f[0]), fixTo: fixes.map((f) => f[1]) };
}
