/**
 * Synthetic x86-64 ELF programs for the bsdiff-x86 tests: functions of filler instructions that
 * call each other (E8 rel32), jump (0F 8x rel32) and load data (lea rax, [rip + disp32]), in a
 * code segment, with the data in a second segment mapped at a different address offset. A build
 * `grow`s by bytes inserted into one function: everything after it moves, so the relative fields
 * that cross the insertion change value while the code around them does not (what happens between
 * two releases of a real program).
 */

export interface ProgramShape {
  seed: number;
  functions: number;
  /** Bytes inserted into function `at` of this build. */
  grow?: { at: number; bytes: number };
  dataItems?: number;
}

const CODE_OFF = 0x1000;
/** The data segment's address minus its file offset (a real linker's page shift). */
const DATA_SHIFT = 0x2000;

function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

/** Filler from instructions that are never a rel32 candidate (push/pop, nop, mov r32, imm8 forms). */
const FILLER = [
  0x50, 0x51, 0x52, 0x53, 0x55, 0x58, 0x59, 0x5a, 0x5b, 0x5d, 0x90, 0xb0, 0xb1, 0xb2, 0x30, 0xc0,
];

/** The program's bytes and the file offsets of its rel32 fields. */
export function x86Program(shape: ProgramShape): { bytes: Buffer; fields: number[] } {
  // The same random choices for every build of a seed: only `grow` differs.
  const rnd = prng(shape.seed);
  const nData = shape.dataItems ?? 64;
  interface Op {
    kind: 'fill' | 'call' | 'jcc' | 'lea';
    bytes?: number[];
    to?: number;
  }
  const bodies: Op[][] = [];
  for (let f = 0; f < shape.functions; f++) {
    const ops: Op[] = [];
    const n = 4 + Math.floor(rnd() * 10);
    for (let k = 0; k < n; k++) {
      const r = rnd();
      if (r < 0.5) {
        const len = 2 + Math.floor(rnd() * 24);
        ops.push({
          kind: 'fill',
          bytes: Array.from({ length: len }, () => FILLER[Math.floor(rnd() * FILLER.length)] as number),
        });
      } else if (r < 0.75) ops.push({ kind: 'call', to: Math.floor(rnd() * shape.functions) });
      else if (r < 0.85) ops.push({ kind: 'jcc', to: Math.floor(rnd() * shape.functions) });
      else ops.push({ kind: 'lea', to: Math.floor(rnd() * nData) });
    }
    if (shape.grow && shape.grow.at === f)
      ops.splice(Math.floor(ops.length / 2), 0, {
        kind: 'fill',
        bytes: new Array(shape.grow.bytes).fill(0x90),
      });
    ops.push({ kind: 'fill', bytes: [0xc3] });
    bodies.push(ops);
  }
  const size = (o: Op) =>
    o.kind === 'fill' ? (o.bytes as number[]).length : o.kind === 'call' ? 5 : o.kind === 'jcc' ? 6 : 7;
  const starts: number[] = [];
  let at = CODE_OFF;
  for (const ops of bodies) {
    starts.push(at);
    for (const o of ops) at += size(o);
  }
  const codeEnd = at;
  const dataOff = codeEnd + 16;
  const dataBytes = nData * 16;
  const out = Buffer.alloc(dataOff + dataBytes);
  // ELF64 header and two program headers.
  out.writeUInt32LE(0x464c457f, 0);
  out[4] = 2;
  out[5] = 1;
  out[6] = 1;
  out.writeUInt16LE(3, 16);
  out.writeUInt16LE(62, 18);
  out.writeUInt32LE(1, 20);
  out.writeBigUInt64LE(64n, 32);
  out.writeUInt16LE(64, 52);
  out.writeUInt16LE(56, 54);
  out.writeUInt16LE(2, 56);
  const phdr = (k: number, flags: number, off: number, vaddr: number, size: number) => {
    const p = 64 + k * 56;
    out.writeUInt32LE(1, p);
    out.writeUInt32LE(flags, p + 4);
    out.writeBigUInt64LE(BigInt(off), p + 8);
    out.writeBigUInt64LE(BigInt(vaddr), p + 16);
    out.writeBigUInt64LE(BigInt(vaddr), p + 24);
    out.writeBigUInt64LE(BigInt(size), p + 32);
    out.writeBigUInt64LE(BigInt(size), p + 40);
  };
  phdr(0, 5, CODE_OFF, CODE_OFF, codeEnd - CODE_OFF);
  phdr(1, 4, dataOff, dataOff + DATA_SHIFT, dataBytes);
  const fields: number[] = [];
  let p = CODE_OFF;
  for (const ops of bodies)
    for (const o of ops) {
      if (o.kind === 'fill') {
        out.set(o.bytes as number[], p);
        p += (o.bytes as number[]).length;
      } else if (o.kind === 'call') {
        out[p] = 0xe8;
        fields.push(p + 1);
        out.writeInt32LE((starts[o.to as number] as number) - (p + 5), p + 1);
        p += 5;
      } else if (o.kind === 'jcc') {
        out[p] = 0x0f;
        out[p + 1] = 0x85;
        fields.push(p + 2);
        out.writeInt32LE((starts[o.to as number] as number) - (p + 6), p + 2);
        p += 6;
      } else {
        out[p] = 0x48;
        out[p + 1] = 0x8d;
        out[p + 2] = 0x05;
        fields.push(p + 3);
        // Code is mapped at its offset; the data DATA_SHIFT above its own.
        out.writeInt32LE(dataOff + DATA_SHIFT + 16 * (o.to as number) - (p + 7), p + 3);
        p += 7;
      }
    }
  for (let d = 0; d < nData; d++)
    out.write(`item-${shape.seed}-${d}`.padEnd(16, '.'), dataOff + 16 * d, 'latin1');
  return { bytes: out, fields };
}
