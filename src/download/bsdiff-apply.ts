/**
 * bsdiff's apply step over whole blocks (pure: no I/O): the control triples parsed once into
 * typed arrays, each checked before use, and the new file built from the base, the diff block and
 * the extra block, in one buffer or a window at a time. decode.ts reads and decompresses the
 * blocks and writes the result; a result too large for memory goes through its streaming path,
 * which uses `triple` too. The in-memory apply runs in WebAssembly (./wasm-kernels.ts).
 */
import { DchatError } from '../errors.ts';
import { type KernelFile, Kernels } from './wasm-kernels.ts';

/** bsdiff's control triples as numbers (NaN for an offset past 2^53: malformed, caught by `triple`). */
export interface Control {
  rows: number;
  x: Float64Array;
  y: Float64Array;
  z: Float64Array;
  /** The same columns in a kernel instance (parseControl's `into`): used there in place. */
  in?: { kernels: Kernels; x: number; y: number; z: number };
}

/**
 * Reads every triple once (rows of 24 bytes, or bsdiff-best's three columns of 8-byte cells), in
 * the control kernel (./bspatch-kernels.wat): the same loop in JavaScript ran cold, at about a
 * third of a microsecond per triple. `into`: the kernel instance that will apply them (the
 * columns stay there too, not copied in again).
 */
export function parseControl(ctrl: Buffer, columns: boolean, into?: Kernels): Control {
  const rows = Math.floor(ctrl.length / 24);
  const k = into ?? new Kernels();
  const raw = k.put(ctrl.subarray(0, 24 * rows));
  const at = [k.alloc(8 * rows), k.alloc(8 * rows), k.alloc(8 * rows)] as const;
  k.fn.control(raw, rows, columns ? 1 : 0, ...at);
  const [x, y, z] = at.map((p) => new Float64Array(k.fn.memory.buffer.slice(p, p + 8 * rows))) as [
    Float64Array,
    Float64Array,
    Float64Array,
  ];
  return { rows, x, y, z, ...(into ? { in: { kernels: into, x: at[0], y: at[1], z: at[2] } } : {}) };
}

/** Where `c`'s columns are in `k`: in place when parsed there, else copied in. */
export function controlIn(k: Kernels, c: Control): [number, number, number] {
  if (c.in?.kernels === k) return [c.in.x, c.in.y, c.in.z];
  return [k.put(c.x), k.put(c.y), k.put(c.z)];
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

/** What the apply kernel's negative results mean. */
const APPLY_ERRORS: Record<number, string> = {
  [-1]: 'bsdiff control block ends early',
  [-2]: 'bsdiff control block is out of bounds',
  [-3]: 'bsdiff data block ends early or is malformed',
};

/**
 * The whole result in one buffer (bytes outside the base count as zero, as in bspatch), built by
 * the apply kernel (./bspatch-kernels.wat): it runs compiled from its first triple, where the
 * same loop in JavaScript ran mostly cold. A base already in a kernel instance (read there, or
 * set up for prediction: x86-refs.ts) is applied in that instance. `sparse`: the diff is in sparse
 * form (model/encoded.ts encodeSparseDiff, bsdiff-x86's). The result is a view of the instance's
 * memory.
 */
export function applyInMemory(
  c: Control,
  diff: Uint8Array,
  extra: Uint8Array,
  base: Uint8Array | KernelFile,
  newSize: number,
  sparse = false,
): Buffer {
  const b = base instanceof Uint8Array ? new Kernels().file(base) : base;
  const run = applyRun(b, c, diff, extra, newSize, sparse);
  const res = b.kernels.alloc(newSize);
  if (run(res, 0, newSize) !== newSize) throw new DchatError('E_MALFORMED', 'bsdiff apply stopped early');
  return b.kernels.u8(res, newSize);
}

/** Bytes of result the decoder builds at a time (applyInWindows). */
export const APPLY_WINDOW = 256 * 1024;

/**
 * The result built `window` bytes at a time in one reused buffer, each piece handed to `emit`
 * (its bytes, valid until `emit` returns, and where they go in the result) in order: what the
 * decoder writes to the file as it goes. The same bytes as applyInMemory's, without a whole
 * result's memory (a fresh page costs its fault: 2,450 of them for a 10 MB result).
 */
export function applyInWindows(
  c: Control,
  diff: Uint8Array,
  extra: Uint8Array,
  base: KernelFile,
  newSize: number,
  sparse: boolean,
  emit: (piece: Buffer, at: number) => void,
  window = APPLY_WINDOW,
): void {
  // A window holds at least one field (4 bytes): one across its end then ends it at its start.
  const w = Math.max(4, window);
  const run = applyRun(base, c, diff, extra, newSize, sparse);
  const buf = base.kernels.alloc(Math.min(w, newSize));
  let at = 0;
  do {
    // The kernel writes result byte j at (buf - at + j): the address wraps as a 32-bit value.
    const end = run(buf - at, at, Math.min(newSize, at + w));
    if (end <= at && at < newSize) throw new DchatError('E_MALFORMED', 'bsdiff apply made no progress');
    if (end > at) emit(base.kernels.u8(buf, end - at), at);
    at = end;
  } while (at < newSize);
}

/**
 * The apply kernel set up over `b` (its diff and extra blocks put into b's instance, its cursor
 * at the start): each call builds result bytes [wStart, wEnd) (or up to a field's start across
 * wEnd) at res + offset and returns where it stopped.
 */
function applyRun(
  b: KernelFile,
  c: Control,
  diff: Uint8Array,
  extra: Uint8Array,
  newSize: number,
  sparse: boolean,
): (res: number, wStart: number, wEnd: number) => number {
  const k = b.kernels;
  const [cx, cy, cz] = controlIn(k, c);
  const [d, e] = [k.put(diff), k.put(extra)] as [number, number];
  k.fn.applyBegin(d, diff.length);
  return (res, wStart, wEnd) => {
    const rc = k.fn.apply(
      c.rows,
      cx,
      cy,
      cz,
      d,
      diff.length,
      e,
      extra.length,
      b.at,
      b.size,
      res,
      newSize,
      b.predicts ? 1 : 0,
      sparse ? 1 : 0,
      wStart,
      wEnd,
    );
    if (rc < 0) throw new DchatError('E_MALFORMED', APPLY_ERRORS[rc] ?? `bsdiff apply failed (${rc})`);
    return rc;
  };
}
