/**
 * bsdiff control blocks for the patch-kernel tests: triples as bsdiff 4.3 rows, a fast-check
 * generator of triples within given bounds, and the windowed apply's pieces joined.
 */
import fc from 'fast-check';
import { applyInWindows, type Control } from '../../src/download/bsdiff-apply.ts';
import { type KernelFile, Kernels } from '../../src/download/wasm-kernels.ts';
import { writeOffset } from '../../src/model/encoded.ts';

export type Triple = [number, number, number];

/** Control triples as bsdiff 4.3 rows (offsets in bsdiff's sign-magnitude form). */
export function controlRows(triples: Triple[]): Buffer {
  const b = Buffer.alloc(24 * triples.length);
  triples.forEach((t, k) => {
    t.forEach((v, j) => {
      writeOffset(v, b, 24 * k + 8 * j);
    });
  });
  return b;
}

/** Arrays of triples: x in [0, x], y in [0, y], z in [-z, z]. */
export function triplesOf(
  bounds: { x: number; y: number; z: number },
  length: { minLength: number; maxLength: number },
): fc.Arbitrary<Triple[]> {
  return fc.array(
    fc.tuple(
      fc.integer({ min: 0, max: bounds.x }),
      fc.integer({ min: 0, max: bounds.y }),
      fc.integer({ min: -bounds.z, max: bounds.z }),
    ),
    length,
  );
}

/** applyInWindows' pieces joined: the whole result, for comparison with applyInMemory's. */
export function appliedInWindows(
  c: Control,
  diff: Uint8Array,
  extra: Uint8Array,
  base: Uint8Array | KernelFile,
  newSize: number,
  sparse: boolean,
  window: number,
): Buffer {
  const out = Buffer.alloc(newSize);
  let next = 0;
  const file = base instanceof Uint8Array ? new Kernels().file(base) : base;
  applyInWindows(
    c,
    diff,
    extra,
    file,
    newSize,
    sparse,
    (piece, at) => {
      // Pieces come in order and tile the result.
      if (at !== next) throw new Error(`piece at ${at}, expected ${next}`);
      piece.copy(out, at);
      next = at + piece.length;
    },
    window,
  );
  if (next !== newSize) throw new Error(`pieces end at ${next} of ${newSize}`);
  return out;
}
