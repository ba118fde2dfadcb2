/**
 * The chunk table kept beside a package (src/model/chunks.ts): parseChunkTable on random and
 * mutated input always ends in a table or a coded error, and a table that parses but differs from
 * the genuine one never passes the check against the signed Merkle root (E_CHUNK_MISMATCH).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { chunkCount, chunkRange, parseChunkTable, serializeChunkTable } from '../../src/model/chunks.ts';
import { LIMITS } from '../../src/model/limits.ts';
import { checkChunkTable } from '../../src/trust/package-check.ts';
import { hostileBytes, mutate, mutationArb, outcome } from '../helpers/fuzz.ts';
import { assertCode, chunkTableOf, packageBytes, targetFor } from '../helpers/repo.ts';

const CHUNK = 16 * 1024;
const PKG = packageBytes('chunks', 5 * CHUNK + 123);
const TABLE = chunkTableOf(PKG, CHUNK);
const BYTES = serializeChunkTable(TABLE);
const TARGET = targetFor(PKG, '1.0.0', 'linux-x64', {}, CHUNK);

describe('parseChunkTable', () => {
  test('baseline: the table of a package round-trips and matches its signed Merkle root', () => {
    const t = parseChunkTable(BYTES);
    assert.deepEqual(t, TABLE);
    assert.equal(t.chunks.length, 6);
    checkChunkTable(TARGET, t);
  });

  test('random bytes and JSON: E_MALFORMED or E_TOO_LARGE, never a table', () => {
    fc.assert(
      fc.property(hostileBytes(), (bytes) => {
        assert.equal(outcome(() => parseChunkTable(bytes), ['E_MALFORMED', 'E_TOO_LARGE']).ok, false);
      }),
      { numRuns: 200 },
    );
  });

  test('mutated tables: a coded parse error, or E_CHUNK_MISMATCH against the signed root, unless unchanged', () => {
    fc.assert(
      fc.property(mutationArb, (m) => {
        const bytes = mutate(BYTES, m);
        fc.pre(!bytes.equals(BYTES));
        const r = outcome(() => {
          const t = parseChunkTable(bytes);
          checkChunkTable(TARGET, t);
          return t;
        }, ['E_MALFORMED', 'E_TOO_LARGE', 'E_CHUNK_MISMATCH']);
        if (r.ok) assert.deepEqual(r.value, TABLE, `mutation ${JSON.stringify(m)} passed with other content`);
      }),
      { numRuns: 300 },
    );
  });

  test('a count that does not fit the size -> E_MALFORMED; a file over the cap -> E_TOO_LARGE', async () => {
    const short = { ...TABLE, chunks: TABLE.chunks.slice(1) };
    await assertCode(() => parseChunkTable(serializeChunkTable(short)), 'E_MALFORMED');
    const long = { ...TABLE, chunks: [...TABLE.chunks, TABLE.chunks[0]!] };
    await assertCode(() => parseChunkTable(serializeChunkTable(long)), 'E_MALFORMED');
    await assertCode(() => parseChunkTable(Buffer.alloc(LIMITS.chunkTableBytes + 1, 0x20)), 'E_TOO_LARGE');
  });

  test('chunkRange tiles [0, size) exactly, for any size and chunk size', () => {
    fc.assert(
      fc.property(fc.nat({ max: 10_000_000 }), fc.integer({ min: 14, max: 24 }), (size, log2) => {
        const chunk_size = 2 ** log2;
        let next = 0;
        const n = chunkCount(size, chunk_size);
        for (let i = 0; i < n; i++) {
          const { start, end } = chunkRange({ size, chunk_size }, i);
          assert.equal(start, next);
          assert.ok(end > start && end - start <= chunk_size);
          next = end;
        }
        assert.equal(next, size);
      }),
      { numRuns: 200 },
    );
  });
});
