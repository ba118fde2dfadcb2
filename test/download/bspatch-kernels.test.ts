/**
 * The patch kernels (download/bspatch-kernels.wat) against plain references written here: the
 * committed module is the assembled text; the apply kernel builds what bsdiff 4.3's bspatch
 * builds, or refuses with E_MALFORMED, for any control block; a sparse diff adds exactly its
 * dense diff and any malformed one is refused; the vector scan finds what a byte-by-byte walk
 * finds; carry answers what a sorted search of the copy ranges answers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { KERNELS_TS, KERNELS_WAT, kernelsModuleSource } from '../../scripts/build-wasm.ts';
import { applyInMemory, parseControl } from '../../src/download/bsdiff-apply.ts';
import { RefPredictor } from '../../src/download/x86-refs.ts';
import { elfLoads, PAIR, scanRel32 } from '../../src/download/x86-scan.ts';
import { DchatError } from '../../src/errors.ts';
import { encodeSparseDiff, sparseDiffCap } from '../../src/model/encoded.ts';
import { appliedInWindows, controlRows, triplesOf } from '../helpers/bsdiff-control.ts';
import { x86Program } from '../helpers/x86-elf.ts';

test('the committed module is bspatch-kernels.wat assembled (npm run wasm)', async () => {
  assert.equal(
    readFileSync(KERNELS_TS, 'utf8'),
    await kernelsModuleSource(readFileSync(KERNELS_WAT, 'utf8')),
  );
});

/** bsdiff 4.3's bspatch, byte by byte; undefined where it would refuse the patch. */
function referenceBspatch(
  triples: [number, number, number][],
  diff: Uint8Array,
  extra: Uint8Array,
  base: Uint8Array,
  newSize: number,
): Buffer | undefined {
  const out = Buffer.alloc(newSize);
  let [oldpos, newpos, dpos, epos] = [0, 0, 0, 0];
  for (const [x, y, z] of triples) {
    if (newpos >= newSize) break;
    if (x < 0 || y < 0 || newpos + x + y > newSize || x > diff.length - dpos || y > extra.length - epos)
      return undefined;
    for (let j = 0; j < x; j++) {
      const o = oldpos + j;
      out[newpos + j] =
        ((diff[dpos + j] as number) + (o >= 0 && o < base.length ? (base[o] as number) : 0)) & 0xff;
    }
    out.set(extra.subarray(epos, epos + y), newpos + x);
    [dpos, epos, newpos, oldpos] = [dpos + x, epos + y, newpos + x + y, oldpos + x + z];
  }
  return newpos >= newSize ? out : undefined;
}

const malformed = (e: unknown) => e instanceof DchatError && e.code === 'E_MALFORMED';

test('apply: what bspatch builds for any control block, or E_MALFORMED where bspatch refuses', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.integer({ min: -3, max: 40 }),
          fc.integer({ min: -2, max: 20 }),
          fc.integer({ min: -60, max: 60 }),
        ),
        {
          maxLength: 8,
        },
      ),
      fc.uint8Array({ maxLength: 64, size: 'max' }),
      fc.uint8Array({ maxLength: 120, size: 'max' }),
      fc.uint8Array({ maxLength: 60, size: 'max' }),
      fc.integer({ min: 1, max: 100 }),
      fc.integer({ min: 1, max: 40 }),
      (triples, base, diff, extra, newSize, window) => {
        const want = referenceBspatch(triples, diff, extra, base, newSize);
        const c = parseControl(controlRows(triples), false);
        // In one buffer, and window by window (what the decoder writes as it goes).
        for (const apply of [
          () => applyInMemory(c, diff, extra, base, newSize),
          () => appliedInWindows(c, diff, extra, base, newSize, false, window),
        ])
          try {
            const got = apply();
            assert.ok(want, 'the kernel built a result bspatch refuses');
            assert.deepEqual(Buffer.from(got), want);
          } catch (e) {
            assert.ok(malformed(e), String(e));
            assert.equal(want, undefined, 'the kernel refused a patch bspatch builds');
          }
      },
    ),
    { numRuns: 3000 },
  );
});

/**
 * Dense diffs mostly of zeros, with runs of other bytes: what a predicted diff looks like. Also
 * as long runs: zero runs past 127 (varints of two bytes) and literals of 16 bytes and more (the
 * kernel adds short and long literals by different paths).
 */
const denseDiff = fc.oneof(
  fc
    .array(fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 255 })), {
      maxLength: 600,
      size: 'max',
    })
    .map((a) => Uint8Array.from(a)),
  fc
    .array(
      fc.tuple(
        fc.nat({ max: 300 }),
        fc.uint8Array({ minLength: 1, maxLength: 40 }).map((l) => l.map((v) => v | 1)),
      ),
      { maxLength: 12 },
    )
    .map((runs) => Uint8Array.from(runs.flatMap(([zeros, lit]) => [...new Uint8Array(zeros), ...lit]))),
);

test('sparse diff: adds exactly its dense diff, within its cap', () => {
  fc.assert(
    fc.property(
      denseDiff,
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 64 }),
      (dense, parts, window) => {
        const sparse = encodeSparseDiff(dense);
        assert.ok(sparse.length <= sparseDiffCap(dense.length), `${sparse.length} > cap`);
        const base = Uint8Array.from(dense, (_, k) => (k * 37) & 0xff);
        // The diff split over `parts` copy ranges with extra bytes between them.
        const cut = Math.floor(dense.length / parts);
        const triples: [number, number, number][] = [];
        for (let k = 0, left = dense.length; k < parts; k++) {
          const x = k === parts - 1 ? left : cut;
          triples.push([x, 1, 0]);
          left -= x;
        }
        const extra = Buffer.alloc(parts, 0x77);
        const newSize = dense.length + parts;
        const want = referenceBspatch(triples, dense, extra, base, newSize);
        const c = parseControl(controlRows(triples), false);
        assert.deepEqual(Buffer.from(applyInMemory(c, sparse, extra, base, newSize, true)), want);
        assert.deepEqual(appliedInWindows(c, sparse, extra, base, newSize, true, window), want);
      },
    ),
    { numRuns: 1000 },
  );
});

test('sparse diff: malformed records are refused; random bytes never crash', () => {
  const c = parseControl(controlRows([[16, 0, 0]]), false);
  const base = Buffer.alloc(16, 1);
  const apply = (sparse: number[]) => applyInMemory(c, Buffer.from(sparse), Buffer.alloc(0), base, 16, true);
  assert.deepEqual([...apply([2, 1, 9])].slice(0, 4), [1, 1, 10, 1], 'a record: two zeros, one literal');
  for (const [why, bad] of [
    ['a literal of no bytes', [0, 0]],
    ['a literal past the frame', [0, 3, 1]],
    ['a varint past the frame', [0x80]],
    ['a varint of six bytes', [0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 1, 1]],
    ['a record past the diff', [20, 1, 1]],
    ['a literal past the diff', [14, 3, 1, 1, 1]],
  ] as const)
    assert.throws(() => apply([...bad]), malformed, why);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
      try {
        assert.equal(apply([...b]).length, 16);
      } catch (e) {
        assert.ok(malformed(e), String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

/** The scan byte by byte, as x86-scan.ts describes it: each position looked up in PAIR. */
function referenceScan(b: Uint8Array, end: number): number[] {
  const at: number[] = [];
  for (let i = 0; i + 6 <= end; i++) {
    const k = PAIR[(b[i] as number) | ((b[i + 1] as number) << 8)] as number;
    if (k === 1) {
      at.push(i + 1);
      i += 4;
    } else if (k === 2) {
      at.push(i + 2);
      i += 5;
    } else if (k === 3) {
      if (i + 7 <= end && ((b[i + 2] as number) & 0xc7) === 0x05) {
        at.push(i + 3);
        i += 6;
      }
    } else if (k >= 8 && i + 6 + (k - 8) <= end) {
      at.push(i + 2);
      i += 5 + (k - 8);
    }
  }
  return at;
}

test('scan: the vector pass finds exactly what a byte-by-byte walk finds, in one piece or many', () => {
  // Bytes drawn mostly from opcodes and ModRM bytes the scan looks for, so fields crowd and overlap.
  const byte = fc.oneof(
    fc.constantFrom(0xe8, 0xe9, 0x0f, 0x80, 0x85, 0x10, 0x8b, 0x8d, 0x05, 0x0d, 0x3d, 0x81, 0xc7),
    fc.integer({ min: 0, max: 255 }),
  );
  fc.assert(
    fc.property(
      fc.array(byte, { minLength: 16, maxLength: 300, size: 'max' }),
      fc.integer({ min: 1, max: 80 }),
      (a, piece) => {
        const b = Uint8Array.from(a);
        const loads = [{ off: 0, vaddr: 0x1000, size: b.length, exec: true }];
        const want = referenceScan(b, b.length);
        for (const f of [scanRel32(b, loads), scanRel32(b, loads, piece)])
          assert.deepEqual(Array.from(f.at.subarray(0, f.count)), want);
      },
    ),
    { numRuns: 3000 },
  );
});

test('carry: a correction, else the latest of the last four ranges starting at or before the target', () => {
  const prog = x86Program({ seed: 3, functions: 40 });
  const size = prog.bytes.length;
  fc.assert(
    fc.property(
      triplesOf({ x: 300, y: 5, z: 400 }, { minLength: 1, maxLength: 40 }),
      fc.uniqueArray(fc.integer({ min: 0, max: size - 1 }), { maxLength: 10 }),
      fc.array(fc.integer({ min: 0, max: size - 1 }), { minLength: 1, maxLength: 30 }),
      (triples, fixes, probes) => {
        const c = parseControl(controlRows(triples), false);
        const fixFrom = [...fixes].sort((x, y) => x - y);
        const fixTo = fixFrom.map((t) => t + 3);
        const p = new RefPredictor(prog.bytes, c, { newLoads: elfLoads(prog.bytes) ?? [], fixFrom, fixTo });
        // The reference: ranges (old start, new start, length) sorted by old start, ties in order.
        const ranges: [number, number, number][] = [];
        let [op, np] = [0, 0];
        for (const [x, y, z] of triples) {
          if (x > 0 && op >= 0) ranges.push([op, np, x]);
          np += x + y;
          op += x + z;
        }
        ranges.sort((a, b) => a[0] - b[0]);
        for (const t of [...probes, ...fixFrom]) {
          let want: number | undefined = fixFrom.includes(t) ? t + 3 : undefined;
          if (want === undefined) {
            const r = ranges.findLastIndex(([o]) => o <= t);
            for (let j = r; j >= 0 && j > r - 4 && want === undefined; j--) {
              const [o, n, x] = ranges[j] as [number, number, number];
              if (t < o + x) want = n + (t - o);
            }
          }
          assert.equal(p.carry(t), want, `target ${t}`);
        }
      },
    ),
    { numRuns: 500 },
  );
  // Ranges that all start at old offset 0: the long first one holds 50 while it is among the
  // last four to start there, and not once four later ranges start there too.
  const at0 = (n: number) =>
    new RefPredictor(
      prog.bytes,
      parseControl(
        controlRows([
          [100, 0, -100],
          ...Array.from({ length: n }, () => [10, 0, -10] as [number, number, number]),
        ]),
        false,
      ),
      { newLoads: elfLoads(prog.bytes) ?? [], fixFrom: [], fixTo: [] },
    );
  assert.equal(at0(3).carry(50), 50);
  assert.equal(at0(4).carry(50), undefined);
});
