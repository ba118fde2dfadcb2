/**
 * Properties of the beacon book (governance/beacon-book.ts), over random validator sets, random
 * sets of honest signatures on one chain, Byzantine traffic (validators under 1/3 of stake that
 * sign conflicting beacons, forged signatures, strangers, other networks) and random orders:
 *  - the accepted height is the highest height that honest signatures carry to >= 2/3 of stake,
 *    whatever order the messages arrive in (and the accepted beacon is the same one);
 *  - signatures from less than 2/3 of stake, however combined, never make a height.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BeaconBook } from '../../src/governance/beacon-book.ts';
import type { SignedBeacon } from '../../src/model/beacon.ts';
import {
  chain,
  PARAMS,
  setOf,
  signedBy,
  statement,
  type TestValidator,
  validators,
} from './beacon-fixtures.ts';

// Keys are costly to make: one pool, reused with random stakes.
const POOL = validators(Array.from({ length: 8 }, () => 1));
const STRANGER = validators([1])[0]!;
const HEIGHTS = 6;

interface World {
  vs: TestValidator[];
  honest: TestValidator[];
  byzantine: TestValidator[];
}

/** 3..8 validators with random stakes; the Byzantine ones hold strictly less than 1/3. */
const worldArb: fc.Arbitrary<World> = fc
  .array(fc.integer({ min: 1, max: 100 }), { minLength: 3, maxLength: 8 })
  .chain((stakes) =>
    fc.record({
      stakes: fc.constant(stakes),
      byzMask: fc.array(fc.boolean(), { minLength: stakes.length, maxLength: stakes.length }),
    }),
  )
  .map(({ stakes, byzMask }) => {
    const vs = stakes.map((s, i) => ({ ...(POOL[i] as TestValidator), stake: BigInt(s) }));
    const total = stakes.reduce((a, b) => a + b, 0);
    const byzantine: TestValidator[] = [];
    let byz = 0;
    vs.forEach((v, i) => {
      if (byzMask[i] && (byz + Number(v.stake)) * 3 < total) {
        byzantine.push(v);
        byz += Number(v.stake);
      }
    });
    return { vs, byzantine, honest: vs.filter((v) => !byzantine.includes(v)) };
  });

function stakeOf(vs: readonly TestValidator[]): bigint {
  return vs.reduce((a, v) => a + v.stake, 0n);
}

/** The rule, stated apart from the code under test: at least two thirds of all stake. */
function twoThirds(part: readonly TestValidator[], all: readonly TestValidator[]): boolean {
  return 3n * stakeOf(part) >= 2n * stakeOf(all);
}

/** Junk a Byzantine minority and outsiders can produce. */
function attacks(w: World, pick: number[]): SignedBeacon[] {
  const out: SignedBeacon[] = [];
  const honest = chain(HEIGHTS);
  for (const [i, b] of w.byzantine.entries()) {
    const h = 1 + ((pick[i] ?? 0) % HEIGHTS);
    out.push(signedBy(statement(h, 'ee'.repeat(32)), [b])); // conflicting beacon
    out.push(signedBy(statement(h + 1, 'dd'.repeat(32)), w.byzantine)); // colluding, still < 1/3
    const forged = signedBy(honest[h - 1]!, [b]);
    forged.signatures[0]!.validator = w.honest[0]!.id; // claims an honest validator's name
    out.push(forged);
  }
  out.push(signedBy(honest[0]!, [STRANGER]));
  out.push(signedBy({ ...honest[0]!, network_id: 'othernet' }, w.honest));
  return out;
}

function run(messages: readonly SignedBeacon[], w: World) {
  const book = new BeaconBook(PARAMS, setOf(w.vs));
  for (const m of messages) book.receive(m);
  return { current: book.current(), tip: book.tip() };
}

test('the accepted height does not depend on arrival order, and is the highest honest quorum', () => {
  fc.assert(
    fc.property(
      worldArb,
      // signs[h][i]: does honest validator i sign height h+1; bundle: some arrive as one message.
      fc.array(fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), {
        minLength: HEIGHTS,
        maxLength: HEIGHTS,
      }),
      fc.boolean(),
      fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
      fc.integer(),
      fc.integer(),
      (w, signs, bundle, pick, seedA, seedB) => {
        const c = chain(HEIGHTS);
        const messages: SignedBeacon[] = [];
        let expected = 0;
        c.forEach((st, h) => {
          const signers = w.honest.filter((_, i) => signs[h]?.[i]);
          if (signers.length === 0) return;
          if (twoThirds(signers, w.vs)) expected = h + 1;
          if (bundle && signers.length > 1) messages.push(signedBy(st, signers));
          else for (const s of signers) messages.push(signedBy(st, [s]));
        });
        messages.push(...attacks(w, pick));
        const a = run(shuffle(messages, seedA), w);
        const b = run(shuffle(messages, seedB), w);
        assert.deepEqual(a, b);
        assert.equal(a.current?.height ?? 0, expected);
      },
    ),
    { numRuns: 60 },
  );
});

test('signatures from less than 2/3 of stake never make a height', () => {
  fc.assert(
    fc.property(
      worldArb,
      fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
      fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
      fc.integer(),
      (w, mask, pick, seed) => {
        // Greedily take validators (by the mask, then any) while the total stays below 2/3.
        const minority: TestValidator[] = [];
        for (const [i, v] of w.vs.entries())
          if (mask[i] && !twoThirds([...minority, v], w.vs)) minority.push(v);
        if (minority.length === 0) return;
        const c = chain(HEIGHTS);
        const messages: SignedBeacon[] = [];
        for (const st of c) {
          messages.push(signedBy(st, minority));
          for (const v of minority) messages.push(signedBy(st, [v]));
        }
        messages.push(...attacks({ ...w, byzantine: minority }, pick));
        const r = run(shuffle(messages, seed), w);
        assert.equal(r.current, null);
      },
    ),
    { numRuns: 60 },
  );
});

function shuffle<T>(xs: readonly T[], seed: number): T[] {
  const out = xs.slice();
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
