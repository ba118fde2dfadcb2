/**
 * download/decode.ts: encoded targets decode to exactly the package or fail with a coded error
 * (never a crash, never more output than the signed size). bsdiff-zstd is checked against the
 * Debian bspatch applied to the same bsdiff patch.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { decodeToFile } from '../../src/download/decode.ts';
import { DchatError } from '../../src/errors.ts';
import {
  BSDIFF_BEST_HEADER_BYTES,
  BSDIFF_BEST_MAGIC,
  BSDIFF_HEADER_BYTES,
  BSDIFF_X86_MAGIC,
  BSDIFF_ZSTD_MAGIC,
  ctrlToColumns,
  parseBsdiffHeader,
  readOffset,
  writeOffset,
} from '../../src/model/encoded.ts';
import { bsdiffBest, bsdiffZstd, zstdBytes } from '../../src/release/delta.ts';
import { requireTool } from '../helpers/tools.ts';

const dir = mkdtempSync(join(tmpdir(), 'dchat-decode-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, b: Buffer) => {
  const f = join(dir, name);
  writeFileSync(f, b);
  return f;
};

function bytes(seed: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    // Low entropy: something zstd and bsdiff both find structure in.
    b[i] = (x >>> 24) % 16;
  }
  return b;
}

const OLD = bytes(1, 200_000);
const NEW = Buffer.concat([
  OLD.subarray(0, 50_000),
  bytes(2, 3_000),
  OLD.subarray(60_000),
  Buffer.from('tail'),
]);
NEW[120_000] = 0xee;

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof DchatError, `not a DchatError: ${err}`);
    return err.code;
  }
}

test('offsets: bsdiff sign-magnitude encoding round-trips', () => {
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 52), max: 2 ** 52 }), (n) => {
      const b = Buffer.alloc(8);
      writeOffset(n, b, 0);
      assert.equal(readOffset(b, 0), n === 0 ? 0 : n);
    }),
  );
});

test('headers: only the four magics parse, whatever names an object inherits', () => {
  for (const magic of ['toString', 'valueOf_', '__proto_', 'BSDIFF41']) {
    const b = Buffer.alloc(64);
    b.write(magic, 0, 'latin1');
    assert.equal(parseBsdiffHeader(b, 64), undefined, magic);
  }
  const x86 = Buffer.alloc(64);
  x86.write(BSDIFF_X86_MAGIC, 0, 'latin1');
  writeOffset(4, x86, 40);
  assert.deepEqual(parseBsdiffHeader(x86, 64), {
    magic: BSDIFF_X86_MAGIC,
    headerBytes: 48,
    ctrlBytes: 0,
    diffBytes: 0,
    extraBytes: 4,
    newSize: 0,
  });
  // The extra frame must fit the file too.
  assert.equal(parseBsdiffHeader(x86, 51), undefined);
});

describe('zstd and zstd-patch-from', () => {
  test('decode to the package; over the signed size is E_TOO_LARGE, under it E_SIZE_MISMATCH', async () => {
    const full = file('full.zst', await zstdBytes(NEW));
    const out = join(dir, 'out-full');
    await decodeToFile({ algorithm: 'zstd', encoded: full, out, maxBytes: NEW.length });
    assert.ok(readFileSync(out).equals(NEW));
    assert.equal(
      await codeOf(decodeToFile({ algorithm: 'zstd', encoded: full, out, maxBytes: NEW.length - 1 })),
      'E_TOO_LARGE',
    );
    assert.equal(
      await codeOf(decodeToFile({ algorithm: 'zstd', encoded: full, out, maxBytes: NEW.length + 1 })),
      'E_SIZE_MISMATCH',
    );
    const base = file('old', OLD);
    const patch = file('p.zpatch', await zstdBytes(NEW, OLD));
    await decodeToFile({ algorithm: 'zstd-patch-from', encoded: patch, base, out, maxBytes: NEW.length });
    assert.ok(readFileSync(out).equals(NEW));
  });

  test('garbage and truncated frames are E_MALFORMED', async () => {
    const out = join(dir, 'out-bad');
    const good = await zstdBytes(NEW);
    const cases = [Buffer.from('not zstd at all'), good.subarray(0, good.length - 10)];
    for (const b of cases)
      assert.equal(
        await codeOf(
          decodeToFile({ algorithm: 'zstd', encoded: file('bad.zst', b), out, maxBytes: NEW.length }),
        ),
        'E_MALFORMED',
      );
  });
});

const noBsdiff = requireTool('bsdiff') || requireTool('bspatch') || requireTool('bzip2');

for (const algo of ['bsdiff-zstd', 'bsdiff-best'] as const) {
  const make = algo === 'bsdiff-zstd' ? bsdiffZstd : bsdiffBest;
  const magic = algo === 'bsdiff-zstd' ? BSDIFF_ZSTD_MAGIC : BSDIFF_BEST_MAGIC;
  const headBytes = algo === 'bsdiff-zstd' ? BSDIFF_HEADER_BYTES : BSDIFF_BEST_HEADER_BYTES;
  describe(algo, { skip: noBsdiff }, () => {
    test('gives the bytes the Debian bspatch gives, and the package', async () => {
      const base = file('old2', OLD);
      const target = file('new2', NEW);
      const patch = file('p.bsdz', await make(base, target, dir, NEW.length));
      const out = join(dir, 'out-bsdz');
      await decodeToFile({ algorithm: algo, encoded: patch, base, out, maxBytes: NEW.length });
      // bsdiff-best: the brotli path is exercised (brotli wins at least one block here).
      if (algo === 'bsdiff-best')
        assert.ok([0, 1, 2].some((j) => readFileSync(patch)[BSDIFF_HEADER_BYTES + j] === 2));
      // The same through the 1 MiB window over the base (what a base over 512 MiB gets).
      const windowed = join(dir, 'out-bsdz-windowed');
      await decodeToFile({
        algorithm: algo,
        encoded: patch,
        base,
        out: windowed,
        maxBytes: NEW.length,
        baseInMemoryMax: 0,
      });
      assert.ok(readFileSync(windowed).equals(NEW));
      execFileSync('bsdiff', [base, target, join(dir, 'raw.bsdiff')]);
      execFileSync('bspatch', [base, join(dir, 'ref'), join(dir, 'raw.bsdiff')]);
      assert.ok(readFileSync(out).equals(readFileSync(join(dir, 'ref'))));
      assert.ok(readFileSync(out).equals(NEW));
    });

    test('any damage is a coded error, never a crash or output past the signed size', async () => {
      const base = file('old3', OLD);
      const good = await make(base, file('new3', NEW), dir, NEW.length);
      const out = join(dir, 'out-fuzz');
      const allowed = new Set(['E_MALFORMED', 'E_SIZE_MISMATCH', 'E_TOO_LARGE', 'ok']);
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: good.length - 1 }),
          fc.integer({ min: 1, max: 255 }),
          fc.boolean(),
          async (at, x, truncate) => {
            const b = Buffer.from(truncate ? good.subarray(0, at) : good);
            if (!truncate) b[at] = (b[at] as number) ^ x;
            const code = await codeOf(
              decodeToFile({
                algorithm: algo,
                encoded: file('fuzz.bsdz', b),
                base,
                out,
                maxBytes: NEW.length,
              }),
            );
            assert.ok(allowed.has(code), code);
            // 'ok' only when the damage left the output intact or changed it within the size (the
            // caller's hash check decides); never longer than signed.
            if (code === 'ok') assert.equal(readFileSync(out).length, NEW.length);
          },
        ),
        { numRuns: 60 },
      );
      // A header whose lengths point past the file, and a control block asking for too much output.
      const head = Buffer.alloc(headBytes);
      head.write(magic, 0, 'latin1');
      // bsdiff-best: every block zstd (codec 1).
      if (algo === 'bsdiff-best') head.fill(1, BSDIFF_HEADER_BYTES, BSDIFF_HEADER_BYTES + 3);
      writeOffset(10 ** 9, head, 8);
      writeOffset(0, head, 16);
      writeOffset(NEW.length, head, 24);
      assert.equal(
        await codeOf(
          decodeToFile({
            algorithm: algo,
            encoded: file('h.bsdz', head),
            base,
            out,
            maxBytes: NEW.length,
          }),
        ),
        'E_MALFORMED',
      );
      const ctrl = Buffer.alloc(24);
      writeOffset(NEW.length + 1, ctrl, 0);
      const zc = await zstdBytes(ctrl);
      const h2 = Buffer.from(head);
      writeOffset(zc.length, h2, 8);
      assert.equal(
        await codeOf(
          decodeToFile({
            algorithm: algo,
            encoded: file('c.bsdz', Buffer.concat([h2, zc])),
            base,
            out,
            maxBytes: NEW.length,
          }),
        ),
        'E_MALFORMED',
      );
    });
  });
}

test('bsdiff-best: any pattern of changed bytes at any alignment applies to exactly the new file', {
  skip: noBsdiff,
}, async () => {
  // The diff is added four bytes at a time (SWAR, the result at any alignment): bytes changed by
  // any amount (carries within a byte, none across), shifted by inserts, must all come out right.
  const base = bytes(7, 8_000);
  const oldF = file('old-prop', base);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.nat(7_999), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 60 }),
      fc.nat(64),
      async (edits, shift) => {
        const next = Buffer.concat([bytes(9, shift), base]);
        for (const [at, by] of edits) next[at] = ((next[at] as number) + by) & 0xff;
        const newF = file('new-prop', next);
        const patch = file('p-prop', await bsdiffBest(oldF, newF, dir, next.length));
        const out = join(dir, 'out-prop');
        await decodeToFile({
          algorithm: 'bsdiff-best',
          encoded: patch,
          base: oldF,
          out,
          maxBytes: next.length,
        });
        assert.ok(readFileSync(out).equals(next));
      },
    ),
    { numRuns: 4 },
  );
});

test('bsdiff-best: the control block by columns round-trips; a header naming an unknown codec is E_MALFORMED', async () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), { maxLength: 60 }), (xs) => {
      const n = Math.floor(xs.length / 3);
      const rows = Buffer.alloc(n * 24);
      for (let k = 0; k < n * 3; k++) writeOffset(xs[k] as number, rows, k * 8);
      const cols = ctrlToColumns(rows);
      for (let k = 0; k < n; k++)
        for (let j = 0; j < 3; j++)
          assert.equal(readOffset(cols, (j * n + k) * 8), readOffset(rows, k * 24 + j * 8));
    }),
  );
  if (noBsdiff) return;
  const base = file('old5', OLD);
  const good = await bsdiffBest(base, file('new5', NEW), dir, NEW.length);
  for (const [at, v] of [
    [BSDIFF_HEADER_BYTES, 7],
    [BSDIFF_HEADER_BYTES + 5, 1],
  ] as const) {
    const b = Buffer.from(good);
    b[at] = v;
    assert.equal(
      await codeOf(
        decodeToFile({
          algorithm: 'bsdiff-best',
          encoded: file('codec.bsdb', b),
          base,
          out: join(dir, 'o5'),
          maxBytes: NEW.length,
        }),
      ),
      'E_MALFORMED',
    );
  }
  // A bsdiff-zstd patch offered as bsdiff-best (and the reverse) is refused, not guessed.
  const z = file('z.bsdz', await bsdiffZstd(base, file('new6', NEW), dir, NEW.length));
  assert.equal(
    await codeOf(
      decodeToFile({
        algorithm: 'bsdiff-best',
        encoded: z,
        base,
        out: join(dir, 'o6'),
        maxBytes: NEW.length,
      }),
    ),
    'E_MALFORMED',
  );
});
