/**
 * Reference prediction for `bsdiff-x86` patches (model/encoded.ts). Between two builds of an
 * x86-64 program most changed bytes are not new code: they are the 32-bit relative addresses of
 * calls, jumps and RIP-relative loads whose target moved by a different amount than the
 * instruction (code inserted in between). bsdiff stores each as a difference byte. Here both
 * sides predict them instead, as Chromium's Courgette and Zucchini do in fuller form: the base is
 * scanned for rel32 fields (./x86-scan.ts), each field's target is carried to the new file
 * through the bsdiff control block's own copy ranges (plus the publisher's corrections for targets
 * the ranges carry wrongly), and the predicted value is written before the diff is added. The
 * diff then holds only what the prediction missed. Pure: no I/O; the same code runs when the patch
 * is made (release/delta.ts) and applied (./decode.ts), so both sides predict the same bytes. The
 * loops over every field are WebAssembly kernels (./bspatch-kernels.wat); this file holds what
 * they are given: the copy ranges, the segment tables, the corrections.
 */
import { DchatError } from '../errors.ts';
import { type Control, controlIn } from './bsdiff-apply.ts';
import { type KernelFile, type KernelGlobal, Kernels } from './wasm-kernels.ts';
import {
  elfLoads,
  type FieldsIn,
  fieldsOf,
  type Load,
  MAX_LOADS,
  type Rel32Fields,
  scanIn,
} from './x86-scan.ts';

/** What a bsdiff-x86 patch carries besides bsdiff's blocks. */
export interface RefTable {
  /** The new file's PT_LOAD segments (a field's value is a distance between addresses). */
  newLoads: Load[];
  /** Old target offsets (ascending) the copy ranges carry wrongly, and where each goes instead. */
  fixFrom: ArrayLike<number>;
  fixTo: ArrayLike<number>;
  /** The same columns in a kernel instance (parseRefTable's `into`): used there in place. */
  in?: { kernels: Kernels; fixFrom: number; fixTo: number };
}

/**
 * The copy ranges of the control block in `k`, ordered by where they start in the old file (ties
 * in triple order), as three u32 columns (old start, new start, length) for the carry kernel:
 * built and radix-sorted by the ranges kernel. Ranges past 2^30 in either file carry nothing.
 */
function copyRanges(k: Kernels, c: Control): { o: number; n: number; x: number; count: number } {
  const [cx, cy, cz] = controlIn(k, c);
  const [o, n, x, o2, n2, x2] = Array.from({ length: 6 }, () => k.alloc(4 * c.rows)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const count = k.fn.ranges(c.rows, cx, cy, cz, o, n, x, o2, n2, x2, k.alloc(4 * RADIX_DIGITS));
  return { o, n, x, count };
}

/** Offsets at or past this carry nothing (the kernels compare offsets as signed 32-bit). */
const OFFSET_LIMIT = 2 ** 30;

/** The ranges kernel's radix: 10 bits, three passes over offsets below 2^30. */
const RADIX_DIGITS = 1024;

/**
 * A segment table for the kernels' $segmap: count, last hit, then per load (from, to, size) as
 * i64, from file offsets to addresses or back.
 */
function segmentTable(loads: readonly Load[], from: 'off' | 'vaddr'): Buffer {
  const to = from === 'off' ? 'vaddr' : 'off';
  const b = Buffer.alloc(8 + 24 * loads.length);
  b.writeUInt32LE(loads.length, 0);
  loads.forEach((l, k) => {
    b.writeBigInt64LE(BigInt(l[from]), 8 + 24 * k);
    b.writeBigInt64LE(BigInt(l[to]), 16 + 24 * k);
    b.writeBigInt64LE(BigInt(l.size), 24 + 24 * k);
  });
  return b;
}

/** True when no two of `loads` overlap as ranges of `key` (bspatch-kernels.wat $predictRange). */
function disjoint(loads: readonly Load[], key: 'off' | 'vaddr'): boolean {
  const sorted = [...loads].sort((a, b) => a[key] - b[key]);
  return sorted.every(
    (l, k) => k === 0 || (sorted[k - 1] as Load)[key] + (sorted[k - 1] as Load).size <= l[key],
  );
}

/** A bucket index (bspatch-kernels.wat `index`) of the ascending array at `a` over offsets below `size`. */
function bucketIndex(k: Kernels, a: number, n: number, size: number): number {
  const buckets = Math.ceil(size / 256);
  const first = k.alloc(4 * (buckets + 1));
  k.fn.index(a, n, first, buckets);
  return first;
}

/** `a` as an Int32Array (parseRefTable's already are; the publisher's votes are numbers). */
function int32s(a: ArrayLike<number>): Int32Array {
  return a instanceof Int32Array ? a : Int32Array.from(a);
}

/** The kernels' "no prediction" answer (outside the int32 range). */
const NO_VALUE = 2 ** 32;

/**
 * The predictor of one patch, set up in the kernel instance of its base (or one of its own for a
 * base given as bytes): the base's fields and loads, the new file's loads, the copy ranges and
 * the corrections. An apply over `base` (bsdiff-apply.ts applyInMemory) then predicts every field
 * it copies; the methods answer single questions (the publisher's vote, tests).
 */
export class RefPredictor {
  readonly base: KernelFile;
  readonly kernels: Kernels;
  private readonly basePtr: number;
  private readonly f: FieldsIn;
  /** Segment tables (bspatch-kernels.wat $segmap) of the base and of the new file, both ways. */
  private readonly oldV: number;
  private readonly oldO: number;
  private readonly newV: number;
  private readonly newO: number;

  /**
   * `base`: bytes, or a file in a kernel instance (the decoder reads the base into the instance it
   * applies in). `fields`: the base's fields when the caller has them as arrays (the publisher's);
   * else the base is scanned here.
   */
  constructor(base: Uint8Array | KernelFile, c: Control, refs: RefTable, fields?: Rel32Fields) {
    const file = base instanceof Uint8Array ? new Kernels().file(base) : base;
    const k = file.kernels;
    const oldLoads = loadsOf(file);
    this.base = { ...file, predicts: true };
    this.kernels = k;
    this.basePtr = file.at;
    this.f = fields
      ? { count: fields.count, at: k.put(fields.at.subarray(0, fields.count)), tail: k.put(fields.tail) }
      : scanIn(k, file.at, file.size, oldLoads);
    // No more corrections than the base has fields: each corrects a target some field points at.
    if (refs.fixFrom.length > this.f.count)
      throw new DchatError('E_MALFORMED', 'bsdiff-x86 has more corrections than its base has fields');
    const ranges = copyRanges(k, c);
    const inPlace = refs.in?.kernels === k ? refs.in : undefined;
    const fixFrom = inPlace?.fixFrom ?? k.put(int32s(refs.fixFrom));
    this.oldV = k.put(segmentTable(oldLoads, 'off'));
    this.oldO = k.put(segmentTable(oldLoads, 'vaddr'));
    this.newV = k.put(segmentTable(refs.newLoads, 'off'));
    this.newO = k.put(segmentTable(refs.newLoads, 'vaddr'));
    const state: [KernelGlobal, number][] = [
      ['base', this.basePtr],
      ['fAt', this.f.at],
      ['fTail', this.f.tail],
      ['fCount', this.f.count],
      ['oldV', this.oldV],
      ['oldO', this.oldO],
      ['newV', this.newV],
      ['newVt', k.put(segmentTable(refs.newLoads, 'off'))],
      ['fixFrom', fixFrom],
      ['fixTo', inPlace?.fixTo ?? k.put(int32s(refs.fixTo))],
      ['nFix', refs.fixFrom.length],
      ['cpO', ranges.o],
      ['cpN', ranges.n],
      ['cpX', ranges.x],
      ['nCp', ranges.count],
      ['fixFirst', bucketIndex(k, fixFrom, refs.fixFrom.length, file.size)],
      ['cpFirst', bucketIndex(k, ranges.o, ranges.count, file.size)],
      ['baseLen', file.size],
      [
        'segDisjoint',
        disjoint(oldLoads, 'off') && disjoint(oldLoads, 'vaddr') && disjoint(refs.newLoads, 'off') ? 1 : 0,
      ],
    ];
    for (const [name, v] of state) k.set(name, v);
  }

  /** The base's fields (copies). */
  fields(): Rel32Fields {
    return fieldsOf(this.kernels, this.f);
  }

  /** Where the base's field at `f` (with `tail` bytes after it) points, as a base offset. */
  target(f: number, tail: number): number | undefined {
    const t = this.kernels.fn.target(this.basePtr, this.oldV, this.oldO, f, tail);
    return t < 0 ? undefined : t;
  }

  /**
   * Where the field at `nf` of the new file (put at `file` in this predictor's kernels) points, as
   * an offset of the new file: the publisher reads what the new build really holds.
   */
  newTarget(file: number, nf: number, tail: number): number | undefined {
    const t = this.kernels.fn.target(file, this.newV, this.newO, nf, tail);
    return t < 0 ? undefined : t;
  }

  /** Where old target offset `t` is in the new file: a correction, else the copy range holding it. */
  carry(t: number): number | undefined {
    const nt = this.kernels.fn.carry(t);
    return nt < 0 ? undefined : nt;
  }

  /** The value field `f` (copied to new offset `nf`) should hold, or undefined to leave the copy. */
  predict(f: number, tail: number, nf: number): number | undefined {
    const v = this.kernels.fn.predict(f, tail, nf);
    return v === NO_VALUE ? undefined : v;
  }
}

/** A base's ELF loads, checked for bsdiff-x86. */
function loadsOf(file: KernelFile): Load[] {
  const loads = elfLoads(file.kernels.u8(file.at, file.size));
  if (!loads) throw new DchatError('E_MALFORMED', 'bsdiff-x86 needs an x86-64 ELF base');
  if (file.size >= OFFSET_LIMIT) throw new DchatError('E_TOO_LARGE', 'bsdiff-x86 base is too large');
  return loads;
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

/**
 * Parses a refs frame; every count, offset and address checked against the two files' sizes.
 * `into`: the kernel instance that will predict with it (the columns stay there, not copied in again).
 */
export function parseRefTable(b: Buffer, baseSize: number, newSize: number, into?: Kernels): RefTable {
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
  // The columns are decoded by the fixes kernel: tens of thousands of corrections, each read
  // twice, were milliseconds of cold JavaScript.
  const k = into ?? new Kernels();
  const src = k.put(b.subarray(p));
  const [from, to] = [k.alloc(4 * n), k.alloc(4 * n)];
  const clamp = (v: number) => Math.min(v, 2 ** 32 - 1);
  if (k.fn.fixes(src, n, clamp(baseSize), clamp(newSize), from, to) !== 0)
    throw bad('a correction is out of order or outside the files');
  const column = (at: number) => new Int32Array(k.fn.memory.buffer.slice(at, at + 4 * n));
  return {
    newLoads,
    fixFrom: column(from),
    fixTo: column(to),
    ...(into ? { in: { kernels: into, fixFrom: from, fixTo: to } } : {}),
  };
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

/**
 * The publisher's corrections: for each old target, where the new file's fields (read at the
 * places the copy ranges put the old fields) actually point, by majority; kept where that differs
 * from what the ranges say and at least `minVotes` fields agree (one correction costs about as
 * much as one field's difference bytes). `p` is a predictor with no corrections.
 */
export function voteFixes(
  p: RefPredictor,
  c: Control,
  newBytes: Uint8Array,
  minVotes = 2,
): { fixFrom: Int32Array; fixTo: Int32Array } {
  const votes = new Map<number, Map<number, number>>();
  const next = p.kernels.put(newBytes);
  const { at, tail, count } = p.fields();
  let op = 0;
  let np = 0;
  for (let k = 0; k < c.rows; k++) {
    const x = c.x[k] as number;
    for (let j = lowerBound(at, count, op); j < count && (at[j] as number) + 4 <= op + x; j++) {
      const f = at[j] as number;
      const nf = np + (f - op);
      if (nf + 4 > newBytes.length) continue;
      const t = p.target(f, tail[j] as number);
      const nt = t === undefined ? undefined : p.newTarget(next, nf, tail[j] as number);
      if (t === undefined || nt === undefined) continue;
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
  return { fixFrom: Int32Array.from(fixes, (f) => f[0]), fixTo: Int32Array.from(fixes, (f) => f[1]) };
}
