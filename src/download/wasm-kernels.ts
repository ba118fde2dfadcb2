/**
 * One instance of the patch kernels (./bspatch-kernels.wat) with its own memory, laid out by a
 * bump allocator: the files and tables one apply needs are put in, the kernels run over them,
 * and the result is read back as a view. One instance per apply (or per publisher step), dropped
 * with it: nothing is freed piecemeal. Pure: no I/O.
 */
import { DchatError } from '../errors.ts';
import { BSPATCH_KERNELS_WASM } from './bspatch-kernels.wasm.ts';

/** The kernels' exports (bspatch-kernels.wat documents each). */
export interface KernelExports {
  memory: WebAssembly.Memory;
  scan(b: number, start: number, limit: number, end: number, at: number, tail: number, n: number): number;
  scanNext: WebAssembly.Global;
  target(file: number, toV: number, toO: number, f: number, tail: number): number;
  carry(t: number): number;
  index(a: number, n: number, first: number, buckets: number): void;
  fixes(src: number, n: number, baseSize: number, newSize: number, from: number, to: number): number;
  control(raw: number, rows: number, columns: number, cx: number, cy: number, cz: number): void;
  ranges(
    rows: number,
    cx: number,
    cy: number,
    cz: number,
    o: number,
    n: number,
    x: number,
    o2: number,
    n2: number,
    x2: number,
    count: number,
  ): number;
  predict(f: number, tail: number, nf: number): number;
  apply(
    rows: number,
    cx: number,
    cy: number,
    cz: number,
    diff: number,
    diffLen: number,
    extra: number,
    extraLen: number,
    base: number,
    baseLen: number,
    res: number,
    newSize: number,
    predict: number,
    sparse: number,
    wStart: number,
    wEnd: number,
  ): number;
  applyBegin(diff: number, diffLen: number): void;
}

/** The predictor's state in the kernels (bspatch-kernels.wat's exported globals). */
export type KernelGlobal =
  | 'base'
  | 'fAt'
  | 'fTail'
  | 'fCount'
  | 'oldV'
  | 'oldO'
  | 'newV'
  | 'newVt'
  | 'fixFrom'
  | 'fixTo'
  | 'nFix'
  | 'cpO'
  | 'cpN'
  | 'cpX'
  | 'nCp'
  | 'fixFirst'
  | 'cpFirst'
  | 'baseLen'
  | 'segDisjoint';

/**
 * A file in a kernel instance's memory. `predicts`: bsdiff-x86's predictor is set up over it
 * (x86-refs.ts RefPredictor), so an apply over this base predicts its fields.
 */
export interface KernelFile {
  readonly kernels: Kernels;
  readonly at: number;
  readonly size: number;
  readonly predicts?: boolean;
}

/** Bytes below this address are the scan's opcode-pair table (x86-scan.ts writes it). */
export const SCAN_TABLE_BYTES = 65536;
const PAGE = 65536;
/** WebAssembly's 32-bit memory: 4 GiB. */
const MAX_BYTES = 2 ** 32;

let compiled: WebAssembly.Module | undefined;

export class Kernels {
  readonly fn: KernelExports;
  private top = SCAN_TABLE_BYTES;

  constructor() {
    compiled ??= new WebAssembly.Module(Buffer.from(BSPATCH_KERNELS_WASM, 'base64'));
    this.fn = new WebAssembly.Instance(compiled, {}).exports as unknown as KernelExports;
  }

  /** `bytes` of memory aligned to 16 (zeroed: fresh memory); grows the memory as needed. */
  alloc(bytes: number): number {
    const at = (this.top + 15) & ~15;
    const end = at + bytes;
    if (!(bytes >= 0 && end <= MAX_BYTES))
      throw new DchatError('E_TOO_LARGE', 'a patch needs more than 4 GiB of working memory');
    const have = this.fn.memory.buffer.byteLength;
    if (end > have) {
      try {
        this.fn.memory.grow(Math.ceil((end - have) / PAGE));
      } catch (e) {
        throw new DchatError('E_TOO_LARGE', 'no memory left to apply a patch', { cause: e });
      }
    }
    this.top = end;
    return at;
  }

  /** A copy of `b` in memory; its address. */
  put(b: ArrayBufferView): number {
    const at = this.alloc(b.byteLength);
    this.u8(at, b.byteLength).set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    return at;
  }

  /** `b` put into memory as a file. */
  file(b: Uint8Array): KernelFile {
    return { kernels: this, at: this.put(b), size: b.length };
  }

  /** A view of memory (valid until the memory grows: take it after the last alloc). */
  u8(at: number, len: number): Buffer {
    return Buffer.from(this.fn.memory.buffer, at, len);
  }

  set(name: KernelGlobal, value: number): void {
    (this.fn as unknown as Record<KernelGlobal, WebAssembly.Global>)[name].value = value;
  }
}
