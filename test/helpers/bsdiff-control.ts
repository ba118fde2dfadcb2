/**
 * bsdiff control blocks for the patch-kernel tests: triples as bsdiff 4.3 rows, and a fast-check
 * generator of triples within given bounds.
 */
import fc from 'fast-check';
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
