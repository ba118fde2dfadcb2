/**
 * The x86-64 side of `bsdiff-x86` (./x86-refs.ts): an ELF file's PT_LOAD segments, and the rel32
 * fields of its code (call/jmp rel32, jcc rel32, [rip + disp32] operands) found by the scan kernel
 * (./bspatch-kernels.wat) with the opcode-pair table built here. Pure: no I/O.
 *
 * The scan is a heuristic over bytes, not a disassembler: a field found inside data gets a wrong
 * prediction, which the diff corrects like any other change, so it costs size, never correctness.
 */
import { Kernels, SCAN_TABLE_BYTES } from './wasm-kernels.ts';

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
 * immediate's size for a one-byte opcode whose ModRM names [rip + disp32]. The scan kernel reads
 * it at address 0 of its memory (bspatch-kernels.wat $step) for each byte its vector pass picks.
 * Exported for the tests' byte-by-byte reference scan.
 */
const CALL = 1;
const JCC = 2;
const SSE = 3;
const RIP = 8;
export const PAIR = new Uint8Array(65536);
// Only the entries that are not 0 are written (about a thousand): the table is built once per
// process, in the interpreter, and all 65,536 pairs cost 2 ms of a 30 ms apply.
for (let next = 0; next < 256; next++) {
  PAIR[0xe8 | (next << 8)] = CALL;
  PAIR[0xe9 | (next << 8)] = CALL;
  PAIR[0x0f | (next << 8)] = (next & 0xf0) === 0x80 ? JCC : TWO_BYTE[next] === 1 ? SSE : 0;
}
for (let op = 0; op < 256; op++) {
  const tail = MODRM_TAIL[op] as number;
  if (tail === 0) continue;
  // ModRM mod 00, r/m 101: [rip + disp32], whatever the reg field
  for (let reg = 0; reg < 8; reg++) PAIR[op | ((0x05 | (reg << 3)) << 8)] = RIP + tail - 1;
}

/** The rel32 fields found in a file: offsets ascending, and each one's bytes of immediate after it. */
export interface Rel32Fields {
  count: number;
  at: Uint32Array;
  tail: Uint8Array;
}

/** Where a scan left its fields in a kernel instance's memory. */
export interface FieldsIn {
  count: number;
  at: number;
  tail: number;
}

/**
 * Every rel32 field in the executable segments of `loads` of the file at `file` in `k`: call/jmp
 * rel32 (E8, E9), jcc rel32 (0F 8x) and [rip + disp32] operands, found by the scan kernel
 * (bspatch-kernels.wat) with the PAIR table above. The scan resumes after each field found
 * (whether or not it is real), so it finds the same fields whatever values the fields hold: the
 * publisher's normalized copy and the base agree. Arrays are sized for the most fields a segment
 * can hold (one per five bytes).
 */
export function scanIn(
  k: Kernels,
  file: number,
  size: number,
  loads: readonly Load[],
  piece = SCAN_PIECE,
): FieldsIn {
  const exec = loads.filter((x) => x.exec).sort((x, y) => x.off - y.off);
  let cap = 0;
  for (const l of exec) cap += Math.ceil(l.size / 5);
  const at = k.alloc(4 * cap);
  const tail = k.alloc(cap);
  k.u8(0, SCAN_TABLE_BYTES).set(PAIR);
  let n = 0;
  for (const l of exec) {
    const end = Math.min(size, l.off + l.size);
    // Segments do not overlap in a well-formed file; in any other, stay ascending.
    const start = n > 0 ? Math.max(l.off, k.u8(at + 4 * (n - 1), 4).readUInt32LE(0) + 4) : l.off;
    for (let p = start; p + 6 <= end; p = k.fn.scanNext.value as number)
      n = k.fn.scan(file, p, Math.min(end, p + piece), end, at, tail, n);
  }
  return { count: n, at, tail };
}

/**
 * Bytes of a segment the scan kernel takes per call: V8 runs a WebAssembly function as its
 * baseline compiler made it until it returns, and optimizes it in the background once it has run
 * a while; in pieces, most of a large segment is scanned by the optimized code.
 */
const SCAN_PIECE = 128 * 1024;

/** The rel32 fields of `b` (see scanIn), as arrays of their own. `piece`: see SCAN_PIECE (tests). */
export function scanRel32(b: Uint8Array, loads: readonly Load[], piece?: number): Rel32Fields {
  const k = new Kernels();
  const file = k.put(b);
  return fieldsOf(k, scanIn(k, file, b.length, loads, piece));
}

/** Fields in a kernel instance, copied out into arrays of their own. */
export function fieldsOf(k: Kernels, { count, at, tail }: FieldsIn): Rel32Fields {
  return {
    count,
    at: new Uint32Array(k.fn.memory.buffer.slice(at, at + 4 * count)),
    tail: new Uint8Array(k.fn.memory.buffer.slice(tail, tail + count)),
  };
}

/** A copy of `b` with every field zeroed: what the publisher matches, so moved code still matches. */
export function withFieldsZeroed(b: Uint8Array, f: Rel32Fields): Buffer {
  const out = Buffer.from(b);
  for (let k = 0; k < f.count; k++) out.fill(0, f.at[k] as number, (f.at[k] as number) + 4);
  return out;
}
