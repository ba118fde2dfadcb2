/**
 * Test helper for the HTTP/1.1 parser and range tests: cuts one byte string into the reads a
 * socket might deliver, so property tests can check that framing does not depend on read edges.
 */

/** Splits a byte string into pieces at the given cut points (taken modulo its length + 1). */
export function split(all: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (all.byteLength + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, all.byteLength]) {
    if (p > prev) out.push(all.subarray(prev, p));
    prev = p;
  }
  return out;
}
