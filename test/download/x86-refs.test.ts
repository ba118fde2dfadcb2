/**
 * download/x86-refs.ts and the bsdiff-x86 encoding: ELF loads and rel32 fields found exactly on a
 * synthetic program, the reference table round-trips and refuses anything malformed with
 * E_MALFORMED, and a patch between two builds (code inserted in one function: everything after
 * it moves) decodes to exactly the new build and is far smaller than bsdiff-best's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { applyInMemory, parseControl } from '../../src/download/bsdiff-apply.ts';
import { decodeToFile } from '../../src/download/decode.ts';
import { parseRefTable, RefPredictor, serializeRefTable } from '../../src/download/x86-refs.ts';
import { elfLoads, isX86Elf, type Load, scanRel32 } from '../../src/download/x86-scan.ts';
import { DchatError } from '../../src/errors.ts';
import { BSDIFF_X86_HEADER_BYTES, readOffset } from '../../src/model/encoded.ts';
import { bsdiffBest, bsdiffX86, isX86Pair } from '../../src/release/delta.ts';
import { appliedInWindows, controlRows, triplesOf } from '../helpers/bsdiff-control.ts';
import { requireTool } from '../helpers/tools.ts';
import { x86Program } from '../helpers/x86-elf.ts';

const dir = mkdtempSync(join(tmpdir(), 'dchat-x86-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, b: Buffer) => {
  const f = join(dir, name);
  writeFileSync(f, b);
  return f;
};

const OLD = x86Program({ seed: 7, functions: 600 });
const NEW = x86Program({ seed: 7, functions: 600, grow: { at: 150, bytes: 37 } });

test('elfLoads: the two segments of an x86-64 ELF, nothing for any other file', () => {
  const loads = elfLoads(OLD.bytes);
  assert.ok(loads);
  assert.equal(loads.length, 2);
  assert.deepEqual(
    loads.map((l) => l.exec),
    [true, false],
  );
  assert.equal(
    (loads[1] as { vaddr: number; off: number }).vaddr - (loads[1] as { off: number }).off,
    0x2000,
  );
  assert.equal(
    elfLoads(Buffer.from('not an elf file at all, not at all, not at all, not at all, really')),
    undefined,
  );
  const arm = Buffer.from(OLD.bytes);
  arm.writeUInt16LE(183, 18); // EM_AARCH64
  assert.equal(isX86Elf(arm), false);
  assert.equal(elfLoads(arm), undefined);
  // Program headers past the end of the file: not trusted.
  assert.equal(elfLoads(OLD.bytes.subarray(0, 100)), undefined);
  assert.equal(isX86Pair(OLD.bytes, NEW.bytes), true);
});

test('scanRel32 finds exactly the program fields, only in code', () => {
  const f = scanRel32(OLD.bytes, elfLoads(OLD.bytes) ?? []);
  assert.deepEqual(Array.from(f.at.subarray(0, f.count)), OLD.fields);
  // lea rax, [rip + disp32] has no immediate after its field; the scan says so.
  assert.ok(Array.from(f.tail.subarray(0, f.count)).every((t) => t === 0));
});

test('reference table: round-trips; any bytes parse or fail with E_MALFORMED', () => {
  const t = {
    newLoads: elfLoads(NEW.bytes) ?? [],
    fixFrom: [10, 4000, 4001],
    fixTo: [12, 9, NEW.bytes.length - 1],
  };
  const back = parseRefTable(serializeRefTable(t), OLD.bytes.length, NEW.bytes.length);
  // The new file's loads travel without their flags: only the base's code is scanned.
  assert.deepEqual(
    { ...back, fixFrom: Array.from(back.fixFrom), fixTo: Array.from(back.fixTo) },
    { ...t, newLoads: t.newLoads.map(({ off, vaddr, size }) => ({ off, vaddr, size })) },
  );
  // Out of order, outside either file, a bad count: refused.
  for (const bad of [
    { ...t, fixFrom: [4000, 10, 4001] },
    { ...t, fixTo: [12, 9, NEW.bytes.length] },
    { ...t, fixFrom: [10, 4000, OLD.bytes.length] },
  ])
    assert.throws(
      () => parseRefTable(serializeRefTable(bad), OLD.bytes.length, NEW.bytes.length),
      (e: unknown) => e instanceof DchatError && e.code === 'E_MALFORMED',
    );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      try {
        parseRefTable(Buffer.from(b), 1000, 1000);
      } catch (e) {
        assert.ok(e instanceof DchatError && e.code === 'E_MALFORMED', String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

test('the predictor carries a field to where its target went', () => {
  // One copy range: all of the old file to the same place (no control change), so every
  // predicted value is the old one.
  const c = parseControl(controlRows([[OLD.bytes.length, 0, 0]]), false);
  const p = new RefPredictor(OLD.bytes, c, { newLoads: elfLoads(OLD.bytes) ?? [], fixFrom: [], fixTo: [] });
  for (const f of OLD.fields.slice(0, 50)) assert.equal(p.predict(f, 0, f), OLD.bytes.readInt32LE(f));
  // A correction moves every field aimed at its target; more corrections than fields: refused.
  const target = p.target(OLD.fields[0] as number, 0) as number;
  const moved = new RefPredictor(OLD.bytes, c, {
    newLoads: elfLoads(OLD.bytes) ?? [],
    fixFrom: [target],
    fixTo: [target + 16],
  });
  assert.equal(
    moved.predict(OLD.fields[0] as number, 0, OLD.fields[0] as number),
    OLD.bytes.readInt32LE(OLD.fields[0] as number) + 16,
  );
  const many = Array.from({ length: OLD.fields.length + 1 }, (_, k) => k);
  assert.throws(
    () => new RefPredictor(OLD.bytes, c, { newLoads: elfLoads(OLD.bytes) ?? [], fixFrom: many, fixTo: many }),
    (e: unknown) => e instanceof DchatError && e.code === 'E_MALFORMED',
  );
});

test("apply's prediction: what predict gives each field copied whole, whatever the ranges, the new loads and the windows", () => {
  // The apply kernel predicts in one loop (bspatch-kernels.wat $predictRange: a range inside one
  // segment of each file maps by that segment's constants); `predict` is the field-by-field
  // reference. New loads shifted, or the code split in two (ranges then straddle a segment edge).
  const prog = x86Program({ seed: 11, functions: 80 });
  const loads = elfLoads(prog.bytes) ?? [];
  const [code, data] = loads as [Load, Load];
  const size = prog.bytes.length;
  const layouts: Load[][] = [
    loads,
    [
      { ...code, vaddr: code.vaddr + 0x3000 },
      { ...data, vaddr: data.vaddr + 0x1000 },
    ],
    [
      { ...code, size: 700 },
      { off: code.off + 700, vaddr: code.vaddr + 0x9000, size: code.size - 700 },
      data,
    ],
  ];
  fc.assert(
    fc.property(
      triplesOf({ x: 900, y: 40, z: 900 }, { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 0, max: layouts.length - 1 }),
      fc.uniqueArray(fc.integer({ min: 0, max: size - 1 }), { maxLength: 8 }),
      fc.integer({ min: 4, max: 300 }),
      (triples, layout, fixes, window) => {
        const newSize = triples.reduce((n, [x, y]) => n + x + y, 0);
        if (newSize === 0) return;
        const c = parseControl(controlRows(triples), false);
        const fixFrom = [...fixes].sort((a, b) => a - b);
        const refs = { newLoads: layouts[layout] as Load[], fixFrom, fixTo: fixFrom.map((t) => t + 9) };
        const p = new RefPredictor(prog.bytes, c, refs);
        const got = applyInMemory(c, Buffer.alloc(0), Buffer.alloc(newSize), p.base, newSize, true);
        // The reference: the plain copy, then each field the copy holds whole, as predict says.
        const want = Buffer.alloc(newSize);
        const { at, tail, count } = p.fields();
        let [oldpos, newpos] = [0, 0];
        for (const [x, y, z] of triples) {
          const from = Math.min(x, Math.max(0, -oldpos));
          const to = Math.max(from, Math.min(x, size - oldpos));
          if (to > from) prog.bytes.copy(want, newpos + from, oldpos + from, oldpos + to);
          for (let j = 0; j < count; j++) {
            const f = at[j] as number;
            if (f < oldpos + from || f + 4 > oldpos + to) continue;
            const nf = newpos + (f - oldpos);
            const v = p.predict(f, tail[j] as number, nf);
            if (v !== undefined) want.writeInt32LE(v, nf);
          }
          [newpos, oldpos] = [newpos + x + y, oldpos + x + z];
        }
        assert.ok(got.equals(want));
        // Window by window: a field across a window's end goes whole to the next window.
        assert.ok(
          appliedInWindows(c, Buffer.alloc(0), Buffer.alloc(newSize), p.base, newSize, true, window).equals(
            want,
          ),
        );
      },
    ),
    { numRuns: 400 },
  );
});

test('bsdiff-x86 between two builds: exactly the new build, far smaller than bsdiff-best', async () => {
  requireTool('bsdiff');
  const oldF = file('old', OLD.bytes);
  const newF = file('new', NEW.bytes);
  const x86 = await bsdiffX86(oldF, newF, dir, NEW.bytes.length);
  const best = await bsdiffBest(oldF, newF, dir, NEW.bytes.length);
  const patch = file('p.bsdx', x86);
  await decodeToFile({
    algorithm: 'bsdiff-x86',
    base: oldF,
    encoded: patch,
    out: join(dir, 'out'),
    maxBytes: NEW.bytes.length,
  });
  assert.ok(readFileSync(join(dir, 'out')).equals(NEW.bytes), 'decodes to the new build');
  // Measured: about a tenth of bsdiff-best's size on this program (142 vs 1407 bytes).
  assert.ok(x86.length < 0.5 * best.length, `bsdiff-x86 ${x86.length} B vs bsdiff-best ${best.length} B`);
  assert.equal(readOffset(x86, 24), NEW.bytes.length);

  const codeOf = async (base: string, enc: string) => {
    try {
      await decodeToFile({
        algorithm: 'bsdiff-x86',
        base,
        encoded: enc,
        out: join(dir, 'bad'),
        maxBytes: NEW.bytes.length,
      });
      return readFileSync(join(dir, 'bad')).equals(NEW.bytes) ? 'same' : 'different';
    } catch (e) {
      assert.ok(e instanceof DchatError, String(e));
      return e.code;
    }
  };
  // A base that is not an x86-64 ELF: refused, not guessed.
  assert.equal(await codeOf(file('text-base', Buffer.alloc(OLD.bytes.length, 0x41)), patch), 'E_MALFORMED');
  // A bsdiff-best patch offered as bsdiff-x86: refused.
  assert.equal(await codeOf(oldF, file('p.bsdb', best)), 'E_MALFORMED');
  // Every byte of the header and the reference table damaged in turn: a coded error or a result
  // that is not the new build (the node's whole-file hash check catches it), never a crash.
  const refsStart = x86.length - 40;
  for (const at of [
    ...Array(BSDIFF_X86_HEADER_BYTES).keys(),
    ...Array.from({ length: 40 }, (_, k) => refsStart + k),
  ]) {
    const bad = Buffer.from(x86);
    bad[at] = (bad[at] as number) ^ 0x5a;
    const got = await codeOf(oldF, file('damaged.bsdx', bad));
    assert.notEqual(got, 'same', `byte ${at}`);
  }
});
