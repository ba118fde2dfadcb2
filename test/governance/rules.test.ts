/**
 * Table tests of the tally and certificate rules (issue 10, "Must show"): forged votes,
 * non-holders, double votes (the latest counts), votes after the period, quorum and approving
 * stake just below and at 67%, a certificate replayed for another version or network, a proposal
 * whose release hash does not match the signed targets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { approvingStake } from '../../src/governance/approval.ts';
import { buildCertificate, verifyCertificate } from '../../src/governance/certificate.ts';
import { trustGenesis } from '../../src/governance/genesis.ts';
import { checkProposal, checkReleaseBinding } from '../../src/governance/proposal.ts';
import { objectId, signObject } from '../../src/governance/signing.ts';
import { tally } from '../../src/governance/tally.ts';
import { CertificateSchema, type Vote } from '../../src/model/governance.ts';
import { after, approval, attestation, DAY, key, network, proposal, signGenesis, vote } from './fixtures.ts';

test('genesis: root threshold, forged root signatures, repeated holders', () => {
  const net = network();
  assert.equal(net.g.totalWeight, 400);
  assert.equal(net.g.totalStake, 100);
  const one = signGenesis(net.genesis.signed, [net.root[0] as never]);
  assert.throws(() => trustGenesis(one), { code: 'E_THRESHOLD' });
  const forged = structuredClone(net.genesis);
  forged.signed.params.min_deposit = 0;
  assert.throws(() => trustGenesis(forged), { code: 'E_SIGNATURE' });
  const stranger = signGenesis(net.genesis.signed, [key(), key()]);
  assert.throws(() => trustGenesis(stranger), { code: 'E_THRESHOLD' });
  const dup = structuredClone(net.genesis.signed);
  dup.holders.push(dup.holders[0] as never);
  assert.throws(() => trustGenesis(signGenesis(dup, net.root)), { code: 'E_MALFORMED' });
  assert.throws(() => trustGenesis({ signed: {}, signatures: [] }), { code: 'E_MALFORMED' });
});

test('tally table: what counts and what does not', () => {
  const net = network({ weights: [100, 100, 100, 100] });
  const [h0, h1, h2, h3] = net.holders as [never, never, never, never];
  const p = proposal(net);
  const other = proposal(net, { version: '1.2.0' });
  const outsider = key();
  const forged: Vote = { ...vote(net, p, h3, 'yes'), option: 'no' };
  const cases: {
    name: string;
    votes: Vote[];
    expect: Partial<Record<'yes' | 'no' | 'abstain', number>> & { passed?: boolean; quorum?: boolean };
  }[] = [
    {
      name: 'three yes of four: quorum 75%, passes',
      votes: [vote(net, p, h0, 'yes'), vote(net, p, h1, 'yes'), vote(net, p, h2, 'yes')],
      expect: { yes: 300, passed: true, quorum: true },
    },
    {
      name: 'a forged vote does not count',
      votes: [vote(net, p, h0, 'yes'), vote(net, p, h1, 'yes'), forged],
      expect: { yes: 200, no: 0, quorum: false, passed: false },
    },
    {
      name: 'a non-holder does not count',
      votes: [vote(net, p, h0, 'yes'), vote(net, p, h1, 'yes'), vote(net, p, outsider as never, 'yes')],
      expect: { yes: 200, quorum: false },
    },
    {
      name: 'double vote: the latest counts, once',
      votes: [
        vote(net, p, h0, 'yes', 1000),
        vote(net, p, h0, 'no', 5000),
        vote(net, p, h1, 'yes'),
        vote(net, p, h2, 'yes'),
      ],
      expect: { yes: 200, no: 100, passed: true },
    },
    {
      name: 'double vote, later one first: still the latest',
      votes: [vote(net, p, h0, 'no', 5000), vote(net, p, h0, 'yes', 1000)],
      expect: { yes: 0, no: 100 },
    },
    {
      name: 'a vote after the period does not count',
      votes: [vote(net, p, h0, 'yes'), vote(net, p, h1, 'yes'), vote(net, p, h2, 'yes', 14 * DAY + 1)],
      expect: { yes: 200, quorum: false },
    },
    {
      name: 'a vote after the period by height does not count',
      votes: [
        vote(net, p, h0, 'yes', 1000, { height: (p.submit_height as number) + p.voting_period_blocks + 1 }),
      ],
      expect: { yes: 0 },
    },
    {
      name: 'a vote for another proposal does not count',
      votes: [vote(net, other, h0, 'yes')],
      expect: { yes: 0 },
    },
    {
      name: 'a vote for another network does not count',
      votes: [vote(net, p, h0, 'yes', 1000, { network_id: 'elsewhere' })],
      expect: { yes: 0 },
    },
    {
      name: 'abstain counts for quorum, not for the threshold',
      votes: [vote(net, p, h0, 'abstain'), vote(net, p, h1, 'abstain'), vote(net, p, h2, 'yes')],
      expect: { yes: 100, abstain: 200, quorum: true, passed: true },
    },
    {
      name: 'a tie does not pass (yes must be above 50%)',
      votes: [vote(net, p, h0, 'yes'), vote(net, p, h1, 'no'), vote(net, p, h2, 'abstain')],
      expect: { passed: false, quorum: true },
    },
    {
      name: 'all abstain: quorum but no pass',
      votes: [h0, h1, h2].map((h) => vote(net, p, h, 'abstain')),
      expect: { passed: false, quorum: true },
    },
  ];
  for (const c of cases) {
    const t = tally(net.g, p, objectId(p), c.votes);
    for (const k of ['yes', 'no', 'abstain'] as const)
      if (c.expect[k] !== undefined) assert.equal(t[k], c.expect[k], `${c.name}: ${k}`);
    if (c.expect.passed !== undefined) assert.equal(t.passed, c.expect.passed, `${c.name}: passed`);
    if (c.expect.quorum !== undefined) assert.equal(t.quorum_reached, c.expect.quorum, `${c.name}: quorum`);
  }
});

test('quorum just below and at 67%', () => {
  for (const [w, reached] of [
    [[6699, 3301], false],
    [[6700, 3300], true],
  ] as const) {
    const net = network({ weights: [...w] });
    const p = proposal(net);
    const t = tally(net.g, p, objectId(p), [vote(net, p, net.holders[0] as never, 'yes')]);
    assert.equal(t.quorum_reached, reached, `${w[0]} of 10000`);
    assert.equal(t.passed, reached);
  }
});

test('approving stake just below and at 67%, forged and foreign approvals', () => {
  for (const [s, approved] of [
    [[66, 34], false],
    [[67, 33], true],
  ] as const) {
    const net = network({ stakes: [...s] });
    const p = proposal(net);
    const r = approvingStake(net.g, p, objectId(p), [approval(net, p, net.validators[0] as never)]);
    assert.equal(r.approved, approved, `${s[0]} of 100`);
    assert.equal(r.approving_stake, s[0]);
  }
  const net = network({ stakes: [50, 50] });
  const p = proposal(net);
  const [v0, v1] = net.validators as [never, never];
  const pid = objectId(p);
  const forged = { ...approval(net, p, v1), time_ms: 1 };
  assert.equal(approvingStake(net.g, p, pid, [approval(net, p, v0), forged]).approving_stake, 50);
  // Same validator twice counts once; a non-validator counts nothing; another height counts nothing.
  assert.equal(
    approvingStake(net.g, p, pid, [approval(net, p, v0), approval(net, p, v0, { time_ms: 5 })])
      .approving_stake,
    50,
  );
  assert.equal(approvingStake(net.g, p, pid, [approval(net, p, key() as never)]).approving_stake, 0);
  assert.equal(
    approvingStake(net.g, p, pid, [approval(net, p, v1, { activation_height: 1 })]).approving_stake,
    0,
  );
});

test('proposal rules: deposit, signature, network, period, activation height', () => {
  const net = network({ weights: [100, 5] });
  assert.ok(checkProposal(net.g, proposal(net)).ok);
  const poor = proposal(net, {}, net.holders[1]);
  assert.equal(
    checkProposal(net.g, poor).ok ? '' : (checkProposal(net.g, poor) as { code: string }).code,
    'E_THRESHOLD',
  );
  const code = (p: ReturnType<typeof proposal>) => {
    const v = checkProposal(net.g, p);
    return v.ok ? 'ok' : v.code;
  };
  assert.equal(code(proposal(net, {}, key())), 'E_UNTRUSTED_KEY');
  assert.equal(code({ ...proposal(net), version: '9.9.9' }), 'E_SIGNATURE');
  assert.equal(code(proposal(net, { network_id: 'other' })), 'E_WRONG_NETWORK');
  assert.equal(code(proposal(net, { voting_period_blocks: 3 })), 'E_MALFORMED');
  assert.equal(code(proposal(net, { activation_height: 1001 })), 'E_MALFORMED');
  assert.equal(code(proposal(net, { voting_period_ms: 500, voting_period_blocks: 1 })), 'E_MALFORMED');
  assert.equal(code(proposal(net, { min_compatible_version: '2.0.0' })), 'E_MALFORMED');
});

test('a proposal whose release hash does not match the signed targets is refused', () => {
  const net = network();
  const p = proposal(net);
  const targets = {
    targets_hash: p.targets_hash,
    releases: [{ version: '1.1.0', sha256: p.release_sha256 }],
  };
  assert.ok(checkReleaseBinding(p, targets).ok);
  const wrongPkg = checkReleaseBinding(p, {
    ...targets,
    releases: [{ version: '1.1.0', sha256: 'c'.repeat(64) }],
  });
  assert.equal(wrongPkg.ok ? '' : wrongPkg.code, 'E_HASH_MISMATCH');
  const wrongDoc = checkReleaseBinding(p, { ...targets, targets_hash: 'd'.repeat(64) });
  assert.equal(wrongDoc.ok ? '' : wrongDoc.code, 'E_HASH_MISMATCH');
  const missing = checkReleaseBinding(p, {
    ...targets,
    releases: [{ version: '1.0.0', sha256: p.release_sha256 }],
  });
  assert.equal(missing.ok ? '' : missing.code, 'E_NOT_FOUND');
});

/** A passed and approved hard fork on a fresh network, with its certificate. */
function certified() {
  const net = network();
  const p = proposal(net);
  const votes = net.holders.slice(0, 3).map((h) => vote(net, p, h, 'yes'));
  const approvals = net.validators.slice(0, 3).map((v) => attestation(net, p, v, votes));
  const b = buildCertificate(net.g, p, votes, approvals, after(p));
  assert.ok(b.ok, b.ok ? '' : b.reason);
  return { net, p, votes, approvals, cert: b.certificate, id: b.id };
}

test('certificate: built after the period, verifies offline, plan carries version and height', () => {
  const { net, p, votes, approvals, cert } = certified();
  assert.equal(CertificateSchema.safeParse(JSON.parse(JSON.stringify(cert))).success, true);
  const v = verifyCertificate(trustGenesis(JSON.parse(JSON.stringify(net.genesis))), cert);
  assert.ok(v.ok, v.ok ? '' : v.reason);
  assert.equal(v.plan.version, '1.1.0');
  assert.equal(v.plan.activation_height, p.activation_height);
  assert.equal(v.plan.approving_stake, 75);
  assert.equal(v.plan.tally.yes, 300);
  // Not before voting ends; not without 2/3 of stake attesting the tally, for a hard fork or a soft.
  const early = buildCertificate(net.g, p, votes, approvals, {
    time_ms: p.submit_time_ms + 10,
    height: null,
  });
  assert.equal(early.ok ? '' : early.code, 'E_BUSY');
  const unapproved = buildCertificate(net.g, p, votes, approvals.slice(0, 2), after(p));
  assert.equal(unapproved.ok ? '' : unapproved.code, 'E_THRESHOLD');
  const consentOnly = net.validators.slice(0, 3).map((v) => approval(net, p, v));
  const unattested = buildCertificate(net.g, p, votes, consentOnly, after(p));
  assert.equal(unattested.ok ? '' : unattested.code, 'E_THRESHOLD');
  const soft = proposal(net, { fork: 'soft' });
  const sv = net.holders.slice(0, 3).map((h) => vote(net, soft, h, 'yes'));
  const none = buildCertificate(net.g, soft, sv, [], after(soft));
  assert.equal(none.ok ? '' : none.code, 'E_THRESHOLD');
  const attested = net.validators.slice(0, 3).map((v) => attestation(net, soft, v, sv));
  assert.ok(buildCertificate(net.g, soft, sv, attested, after(soft)).ok);
  // Attestations of another vote set (one vote fewer) do not carry this one.
  const other = net.validators.slice(0, 3).map((v) => attestation(net, soft, v, sv.slice(0, 2)));
  const mismatch = buildCertificate(net.g, soft, sv, other, after(soft));
  assert.equal(mismatch.ok ? '' : mismatch.code, 'E_THRESHOLD');
});

test('certificate table: replay for another version or network, tampering, thin votes', () => {
  const { net, p, cert } = certified();
  const code = (c: typeof cert, g = net.g, expect = {}) => {
    const v = verifyCertificate(g, c, expect);
    return v.ok ? 'ok' : v.code;
  };
  assert.equal(code(cert), 'ok');
  assert.equal(code(cert, net.g, { version: '1.1.0' }), 'ok');
  // Replayed to claim another version: the consumer asked for 1.2.0; editing the version breaks the proposal's signature.
  assert.equal(code(cert, net.g, { version: '1.2.0' }), 'E_VERSION_MISMATCH');
  assert.equal(code({ ...cert, proposal: { ...p, version: '1.2.0' } }), 'E_SIGNATURE');
  assert.equal(
    code({ ...cert, proposal: { ...p, activation_height: p.activation_height + 1 } }),
    'E_SIGNATURE',
  );
  // Replayed on another network (same keys, another network id): refused.
  const elsewhere = trustGenesis(signGenesis({ ...net.genesis.signed, network_id: 'dchat-other' }, net.root));
  assert.equal(code(cert, elsewhere), 'E_WRONG_NETWORK');
  assert.equal(code({ ...cert, network_id: 'dchat-other' }, elsewhere), 'E_WRONG_NETWORK');
  // Same network, another genesis (changed snapshot): refused too.
  const changed = trustGenesis(
    signGenesis({ ...net.genesis.signed, version: 2, origin: net.g.hash }, net.root),
  );
  assert.equal(code(cert, changed), 'E_WRONG_NETWORK');
  // Tampered votes and approvals.
  const flip = structuredClone(cert);
  (flip.votes[0] as { option: string }).option = 'no';
  assert.equal(code(flip), 'E_SIGNATURE');
  const twice = structuredClone(cert);
  twice.votes.push(twice.votes[0] as never);
  assert.equal(code(twice), 'E_MALFORMED');
  const thin = structuredClone(cert);
  thin.votes.pop();
  assert.equal(code(thin), 'E_THRESHOLD');
  const fewer = structuredClone(cert);
  fewer.approvals.pop();
  assert.equal(code(fewer), 'E_THRESHOLD');
  const badApproval = structuredClone(cert);
  (badApproval.approvals[0] as { time_ms: number }).time_ms++;
  assert.equal(code(badApproval), 'E_SIGNATURE');
  const nobody = structuredClone(cert);
  (nobody.votes[0] as { holder: number }).holder = 77;
  assert.equal(code(nobody), 'E_UNTRUSTED_KEY');
  // A late vote inside a certificate.
  const late = vote(net, p, net.holders[3] as never, 'yes', p.voting_period_ms + 5);
  const withLate = structuredClone(cert);
  withLate.votes.push({
    holder: 3,
    option: 'yes',
    time_ms: late.time_ms,
    height: late.height,
    signature: late.signature,
  });
  assert.equal(code(withLate), 'E_MALFORMED');
  // Signing an object with a key is what makes it count: a re-signed proposal is another proposal.
  const resigned = signObject(net.holders[1]?.priv as never, {
    ...p,
    proposer: net.holders[1]?.pub as string,
    signature: undefined,
  });
  assert.equal(code({ ...cert, proposal: resigned as never }), 'E_SIGNATURE');
});
