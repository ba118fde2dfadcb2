/**
 * Properties (fast-check): the tally does not depend on the order in which votes arrive (nor on
 * repeats); a certificate verifies on every node or on none (verification is a function of the
 * pinned genesis and the certificate alone, whatever votes each node holds, whenever it checks),
 * also when validators and nodes saw different vote sets; and the genesis parser answers hostile
 * input with a coded error, never a crash.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { buildCertificate, verifyCertificate } from '../../src/governance/certificate.ts';
import { trustGenesis } from '../../src/governance/genesis.ts';
import { makeObjectCheck } from '../../src/governance/object-check.ts';
import { objectId } from '../../src/governance/signing.ts';
import { tally } from '../../src/governance/tally.ts';
import type { Certificate, Vote, VoteOption } from '../../src/model/governance.ts';
import { outcome } from '../helpers/fuzz.ts';
import { after, attestation, DAY, key, network, proposal, vote } from './fixtures.ts';

const net = network({ weights: [50, 120, 80, 30, 200, 20], stakes: [40, 30, 20, 10] });
const p = proposal(net);
const pid = objectId(p);
const outsider = key();
const options: VoteOption[] = ['yes', 'no', 'abstain'];

/** A pool of votes: genuine ones at various times (some after the period), forged, non-holder, other proposal. */
const pool: Vote[] = (() => {
  const out: Vote[] = [];
  net.holders.forEach((h, i) => {
    for (let j = 0; j < 3; j++) out.push(vote(net, p, h, options[(i + j) % 3] as VoteOption, 1000 + j * 777));
    out.push(vote(net, p, h, 'yes', 1000 + j(i)));
  });
  out.push(vote(net, p, net.holders[0] as never, 'no', 15 * DAY));
  out.push({ ...vote(net, p, net.holders[1] as never, 'yes', 999_999), option: 'no' });
  out.push(vote(net, p, outsider, 'yes'));
  out.push(vote(net, proposal(net, { version: '2.0.0' }), net.holders[2] as never, 'no'));
  return out;
})();
function j(i: number) {
  return i * 1000; // ties with the loop's times for some holders: ties are broken by id
}

test('property: the tally does not depend on vote order or repeats', () => {
  const orders = fc
    .subarray(pool)
    .chain((s) =>
      fc.tuple(fc.constant(s), fc.shuffledSubarray(s, { minLength: s.length, maxLength: s.length })),
    );
  fc.assert(
    fc.property(orders, fc.nat(), ([subset, shuffled], cut) => {
      const base = tally(net.g, p, pid, subset);
      assert.deepEqual(tally(net.g, p, pid, shuffled), base);
      // The same votes arriving again (several paths) change nothing but the repeat counter.
      const repeated = [...shuffled, ...shuffled.slice(0, cut % (shuffled.length + 1))];
      assert.deepEqual(tally(net.g, p, pid, repeated), base);
    }),
    { numRuns: 150 },
  );
});

const approvals = net.validators.map((v) => attestation(net, p, v, pool));
const built = buildCertificate(net.g, p, pool, approvals, after(p));
assert.ok(built.ok, built.ok ? '' : built.reason);
const cert = built.certificate;

/** Mutations an attacker or a broken peer may apply to a certificate. */
const mutation: fc.Arbitrary<(c: Certificate) => Certificate> = fc.oneof(
  fc.constant((c: Certificate) => c),
  fc.nat({ max: 20 }).map((i) => (c: Certificate) => ({
    ...c,
    votes: c.votes.filter((_, k) => k !== i % Math.max(1, c.votes.length)),
  })),
  fc
    .nat({ max: 20 })
    .map((i) => (c: Certificate) => ({ ...c, approvals: c.approvals.filter((_, k) => k !== i % 4) })),
  fc.constantFrom<VoteOption>('yes', 'no', 'abstain').chain((o) =>
    fc.nat({ max: 20 }).map((i) => (c: Certificate) => ({
      ...c,
      votes: c.votes.map((v, k) => (k === i % c.votes.length ? { ...v, option: o } : v)),
    })),
  ),
  fc.nat().map((h) => (c: Certificate) => ({ ...c, proposal: { ...c.proposal, activation_height: h } })),
  fc
    .constantFrom('1.1.0', '1.2.0', '0.9.0')
    .map((v) => (c: Certificate) => ({ ...c, proposal: { ...c.proposal, version: v } })),
  fc.constantFrom('dchat-test', 'dchat-other').map((n) => (c: Certificate) => ({ ...c, network_id: n })),
  fc
    .nat({ max: 20 })
    .map((i) => (c: Certificate) => ({ ...c, votes: [...c.votes, c.votes[i % c.votes.length] as never] })),
);

test('property: a certificate verifies on every node or on none', () => {
  // Three nodes, each with its own copy of the genesis (parsed from the bytes it pinned).
  const bytes = JSON.stringify(net.genesis);
  const nodes = [0, 1, 2].map(() => trustGenesis(JSON.parse(bytes)));
  fc.assert(
    fc.property(fc.array(mutation, { maxLength: 3 }), (ms) => {
      const c = ms.reduce((acc, m) => m(acc), cert);
      const verdicts = nodes.map((g) => {
        const v = verifyCertificate(g, structuredClone(c));
        return v.ok
          ? { ok: true, id: v.plan.certificate_id, height: v.plan.activation_height }
          : { ok: false, code: v.code };
      });
      assert.deepEqual(verdicts[1], verdicts[0]);
      assert.deepEqual(verdicts[2], verdicts[0]);
      if (ms.length === 0) assert.equal(verdicts[0]?.ok, true);
    }),
    { numRuns: 200 },
  );
});

test('property: nodes holding different vote sets agree on every certificate; at most one tally is certified', () => {
  // Each node pins its own copy of the genesis and holds its own subset of the votes (gossip
  // reached it differently); validators attest the subset each of them saw.
  const bytes = JSON.stringify(net.genesis);
  const gs = [0, 1, 2].map(() => trustGenesis(JSON.parse(bytes)));
  const checks = gs.map((g) =>
    makeObjectCheck(g, { proposal: (id) => (id === pid ? p : undefined), now: () => after(p) }),
  );
  const views = fc.subarray(pool, { minLength: 0 });
  let built = 0;
  // Views are mostly one common set (gossip converged) with some nodes or validators off it.
  const common = fc.oneof({ weight: 2, arbitrary: fc.constant(pool) }, { weight: 1, arbitrary: views });
  const maybeOwn = fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: views });
  fc.assert(
    fc.property(
      common,
      fc.array(maybeOwn, { minLength: 4, maxLength: 4 }),
      fc.array(maybeOwn, { minLength: 3, maxLength: 3 }),
      fc.array(mutation, { maxLength: 2 }),
      (base, validatorOwn, nodeOwn, ms) => {
        const validatorViews = validatorOwn.map((v) => v ?? base);
        const nodeViews = nodeOwn.map((v) => v ?? base);
        const attested = net.validators.map((v, i) => attestation(net, p, v, validatorViews[i] as Vote[]));
        const certified = new Set<string>();
        for (const [n, view] of nodeViews.entries()) {
          const b = buildCertificate(gs[n] as never, p, view, attested, after(p));
          if (!b.ok) continue;
          for (const c of [b.certificate, ms.reduce((acc, m) => m(acc), b.certificate)]) {
            const verdicts = checks.map((check) => {
              const r = check('certificate', objectId(c), structuredClone(c));
              return r.ok ? 'ok' : r.code;
            });
            assert.deepEqual(verdicts, [verdicts[0], verdicts[0], verdicts[0]]);
            if (c === b.certificate) assert.equal(verdicts[0], 'ok');
            if (verdicts[0] === 'ok') certified.add(JSON.stringify(c.votes));
            if (c === b.certificate) built++;
          }
        }
        // Validators attest one view each: no two different vote sets both reach 2/3 of stake.
        assert.ok(certified.size <= 1, `certified ${certified.size} different tallies`);
      },
    ),
    { numRuns: 80 },
  );
  assert.ok(built > 20, `only ${built} certificates were built: the property ran nearly empty`);
});

test('property: a hostile genesis is a coded error, never a crash', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (data) => {
      outcome(() => trustGenesis(data), ['E_MALFORMED']);
    }),
    { numRuns: 300 },
  );
  const mutateField = fc.constantFrom('network_id', 'params', 'holders', 'validators', 'root', 'version');
  fc.assert(
    fc.property(mutateField, fc.jsonValue({ maxDepth: 2 }), (field, value) => {
      const g = structuredClone(net.genesis) as { signed: Record<string, unknown> };
      g.signed[field] = value;
      outcome(() => trustGenesis(g), ['E_MALFORMED', 'E_SIGNATURE', 'E_THRESHOLD']);
    }),
    { numRuns: 200 },
  );
});
