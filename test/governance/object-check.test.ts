/**
 * The gossip check of governance objects (governance/object-check.ts): the id must be the hash;
 * a vote or approval for a proposal not held yet is E_NOT_FOUND (costs the sender nothing, is
 * fetched again later); future-dated objects wait (E_BUSY); a proposal whose release hash differs
 * from the trusted targets is refused; a certificate's proof is its approved plan.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSecurityCode } from '../../src/errors.ts';
import { buildCertificate } from '../../src/governance/certificate.ts';
import { makeObjectCheck } from '../../src/governance/object-check.ts';
import { objectId } from '../../src/governance/signing.ts';
import type { Proposal } from '../../src/model/governance.ts';
import { after, approval, attestation, network, proposal, vote } from './fixtures.ts';

test('object check: ids, missing proposals, future dates, release binding, certificates', () => {
  const net = network();
  const p = proposal(net);
  const pid = objectId(p);
  const held = new Map<string, Proposal>();
  let now = { time_ms: p.submit_time_ms + 5000, height: null as number | null };
  let targets = { targets_hash: p.targets_hash, releases: [{ version: '1.1.0', sha256: p.release_sha256 }] };
  const check = makeObjectCheck(net.g, {
    proposal: (id) => held.get(id),
    now: () => now,
    targets: () => targets,
  });
  const code = (kind: 'proposal' | 'vote' | 'approval' | 'certificate', o: object, id = objectId(o)) => {
    const r = check(kind, id, o);
    return r.ok ? 'ok' : r.code;
  };
  const v = vote(net, p, net.holders[0] as never, 'yes');
  assert.equal(code('vote', v), 'E_NOT_FOUND');
  assert.equal(isSecurityCode('E_NOT_FOUND'), false, 'a vote that arrives before its proposal costs nothing');
  assert.equal(code('proposal', p, 'f'.repeat(64)), 'E_MALFORMED');
  assert.equal(code('proposal', p), 'ok');
  held.set(pid, p);
  assert.equal(code('vote', v), 'ok');
  assert.equal(code('approval', approval(net, p, net.validators[0] as never)), 'ok');
  assert.equal(code('vote', vote(net, p, net.holders[1] as never, 'no', 10 * 60_000)), 'E_BUSY');
  assert.equal(code('vote', { ...v, option: 'no' }), 'E_SIGNATURE');
  // The trusted targets list 1.1.0 with another package hash: refused.
  targets = { ...targets, releases: [{ version: '1.1.0', sha256: 'c'.repeat(64) }] };
  assert.equal(code('proposal', p), 'E_HASH_MISMATCH');
  // Targets that do not list the version yet (a newer release): taken, judged later by TUF.
  targets = { targets_hash: 'd'.repeat(64), releases: [{ version: '1.0.0', sha256: 'e'.repeat(64) }] };
  assert.equal(code('proposal', p), 'ok');
  // A certificate's proof is the approved plan.
  now = { time_ms: after(p).time_ms, height: null };
  const votes = net.holders.slice(0, 3).map((h) => vote(net, p, h, 'yes'));
  const b = buildCertificate(
    net.g,
    p,
    votes,
    net.validators.slice(0, 3).map((x) => attestation(net, p, x, votes)),
    after(p),
  );
  assert.ok(b.ok);
  const r = check('certificate', b.id, b.certificate);
  assert.ok(r.ok);
  assert.equal((r.proof as { version: string }).version, '1.1.0');
});

test('vote omission: a certificate is judged by the tally 2/3 of stake attested, not by the votes a node holds', () => {
  // yes 30, no 33, abstain 37: with every vote the proposal fails (30 / 63); without the no vote
  // it would pass (30 / 30).
  const net = network({ weights: [30, 33, 37] });
  const p = proposal(net, { fork: 'soft' });
  const [h0, h1, h2] = net.holders as [never, never, never];
  const yes = vote(net, p, h0, 'yes');
  const no = vote(net, p, h1, 'no');
  const abstain = vote(net, p, h2, 'abstain');
  const all = [yes, no, abstain];
  const thinVotes = [yes, abstain];
  // Validators (3 of 4, 75% of stake) saw every vote and attested that tally: a certificate
  // that leaves the no vote out carries no attestation of its own tally, on any node.
  const honest = net.validators.slice(0, 3).map((v) => attestation(net, p, v, all));
  assert.equal(buildCertificate(net.g, p, all, honest, after(p)).ok, false, 'the full tally fails');
  const thinAgainstHonest = buildCertificate(net.g, p, thinVotes, honest, after(p));
  assert.equal(thinAgainstHonest.ok ? '' : thinAgainstHonest.code, 'E_THRESHOLD');
  // Validators holding 2/3 of stake attested the tally without it (they never saw the no vote):
  // valid offline, and a node holding the no vote takes it all the same; so do all nodes.
  const attested = net.validators.slice(0, 3).map((v) => attestation(net, p, v, thinVotes));
  const thin = buildCertificate(net.g, p, thinVotes, attested, after(p));
  assert.ok(thin.ok, thin.ok ? '' : thin.reason);
  const held = new Map([[objectId(p), p]]);
  const check = makeObjectCheck(net.g, { proposal: (id) => held.get(id), now: () => after(p) });
  assert.ok(check('certificate', thin.id, thin.certificate).ok);
  // Fewer than 2/3 of stake attesting a tally: no certificate, whatever the votes say.
  const two = attested.slice(0, 2);
  const short = buildCertificate(net.g, p, thinVotes, two, after(p));
  assert.equal(short.ok ? '' : short.code, 'E_THRESHOLD');
});
