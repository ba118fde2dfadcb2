/**
 * Changing the genesis by a certified governance decision (governance/genesis-change.ts): a
 * genesis proposal carries the next genesis; with a passing vote and 2/3 of stake attesting the
 * tally, its certificate verified against the pinned genesis moves a node to the next one. Never a
 * skip, never a rollback, never another network; an earlier step of a node's own chain is still
 * checked and relayed for nodes behind. After the change the new snapshot counts: a new holder's
 * vote counts and a removed holder's does not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSecurityCode } from '../../src/errors.ts';
import { verifyCertificate } from '../../src/governance/certificate.ts';
import { trustGenesis } from '../../src/governance/genesis.ts';
import { buildGenesisCertificate, verifyGenesisChange } from '../../src/governance/genesis-change.ts';
import { makeObjectCheck } from '../../src/governance/object-check.ts';
import { checkProposal } from '../../src/governance/proposal.ts';
import { objectId, signObject } from '../../src/governance/signing.ts';
import { tally } from '../../src/governance/tally.ts';
import {
  type AnyProposal,
  GENESIS_PROPOSAL_FORMAT,
  type Genesis,
  type GenesisProposal,
} from '../../src/model/governance.ts';
import {
  after,
  approval,
  attestation,
  key,
  type Net,
  network,
  proposal,
  signGenesis,
  vote,
} from './fixtures.ts';

/** The next genesis of `net`: holder 3 removed, a new holder added, version `version`. */
function nextGenesis(
  net: Net,
  fresh: { pub: string },
  over: { version?: number; network_id?: string } = {},
): Genesis {
  const b = net.genesis.signed;
  const version = over.version ?? b.version + 1;
  return signGenesis(
    {
      ...b,
      version,
      ...(version > 1 ? { origin: net.g.origin } : {}),
      network_id: over.network_id ?? b.network_id,
      holders: [...b.holders.slice(0, 3), { public_key: fresh.pub, weight: 100 }],
    },
    net.root,
  );
}

function genesisProposal(net: Net, genesis: Genesis): GenesisProposal {
  const p = proposal(net);
  return signObject(net.holders[0]?.priv as never, {
    format: GENESIS_PROPOSAL_FORMAT,
    network_id: net.g.networkId,
    genesis,
    submit_height: null,
    submit_time_ms: p.submit_time_ms,
    voting_period_ms: p.voting_period_ms,
    voting_period_blocks: p.voting_period_blocks,
    title: 'next genesis',
    proposer: net.holders[0]?.pub as string,
  });
}

function certifiedChange(net: Net, genesis: Genesis) {
  const p = genesisProposal(net, genesis);
  const votes = net.holders.slice(0, 3).map((h) => vote(net, p as never, h, 'yes'));
  const attested = net.validators
    .slice(0, 3)
    .map((v) => attestation(net, p as never, v, votes, { version: '0.0.0', activation_height: 0 }));
  const b = buildGenesisCertificate(net.g, p, votes, attested, after(p as never));
  assert.ok(b.ok, b.ok ? '' : b.reason);
  return { p, votes, attested, b };
}

test('a certified genesis change verifies against the pinned genesis and names the next one', () => {
  const net = network();
  const fresh = key();
  const next = nextGenesis(net, fresh);
  const { b } = certifiedChange(net, next);
  const v = verifyGenesisChange(trustGenesis(JSON.parse(JSON.stringify(net.genesis))), b.certificate);
  assert.ok(v.ok, v.ok ? '' : v.reason);
  assert.equal(v.change.from_hash, net.g.hash);
  assert.equal(v.change.next.hash, trustGenesis(next).hash);
  assert.equal(v.change.next.body.version, 2);
  // It is not an upgrade certificate: the activation code never takes it for one.
  const u = verifyCertificate(net.g, b.certificate);
  assert.equal(u.ok ? '' : u.code, 'E_UNSUPPORTED');
  // Without 2/3 of stake attesting, or with consent only, no certificate.
  const p = genesisProposal(net, next);
  const votes = net.holders.slice(0, 3).map((h) => vote(net, p as never, h, 'yes'));
  const consent = net.validators.map((v) =>
    approval(net, p as never, v, { version: '0.0.0', activation_height: 0 }),
  );
  const none = buildGenesisCertificate(net.g, p, votes, consent, after(p as never));
  assert.equal(none.ok ? '' : none.code, 'E_THRESHOLD');
  // Approvals naming a release (as for an upgrade) are not approvals of a genesis change.
  const wrong = net.validators.map((v) =>
    attestation(net, p as never, v, votes, { version: '1.1.0', activation_height: 100 }),
  );
  const w = buildGenesisCertificate(net.g, p, votes, wrong, after(p as never));
  assert.equal(w.ok ? '' : w.code, 'E_THRESHOLD');
});

test('never a skip, a rollback, another network or a genesis its root did not sign', () => {
  const net = network();
  const fresh = key();
  const code = (g: Genesis) => {
    const r = checkProposal(net.g, genesisProposal(net, g) as AnyProposal);
    return r.ok ? 'ok' : r.code;
  };
  assert.equal(code(nextGenesis(net, fresh)), 'ok');
  assert.equal(code(nextGenesis(net, fresh, { version: 3 })), 'E_NOT_FOUND', 'a skip waits, costing nobody');
  assert.equal(code(nextGenesis(net, fresh, { version: 1 })), 'E_ROLLBACK');
  assert.equal(code(nextGenesis(net, fresh, { network_id: 'dchat-other' })), 'E_WRONG_NETWORK');
  // Another network's origin, or another height clock: not this network's next genesis.
  const foreign = nextGenesis(net, fresh);
  assert.equal(code(signGenesis({ ...foreign.signed, origin: 'e'.repeat(64) }, net.root)), 'E_WRONG_NETWORK');
  assert.equal(
    code(signGenesis({ ...foreign.signed, created: '2030-01-01T00:00:00.000Z' }, net.root)),
    'E_MALFORMED',
  );
  assert.equal(trustGenesis(foreign).origin, net.g.hash, 'the origin stays the first genesis');
  const unsigned = { ...nextGenesis(net, fresh), signatures: [] };
  assert.equal(code(unsigned), 'E_THRESHOLD');
  const forged = nextGenesis(net, fresh);
  (forged.signatures[0] as { signature: string }).signature = 'ab'.repeat(64);
  assert.equal(code(forged), 'E_SIGNATURE');
});

test('the chain: a node at v2 relays the v1 -> v2 step; a node at v1 waits for v2 -> v3', () => {
  const net = network();
  const fresh = key();
  const v2 = nextGenesis(net, fresh);
  const { b: step1 } = certifiedChange(net, v2);
  const g2 = trustGenesis(v2);
  const proposals = new Map<string, AnyProposal>();
  const ctx = (past: Map<string, ReturnType<typeof trustGenesis>>) => ({
    proposal: (id: string) => proposals.get(id),
    now: () => after(step1.certificate.proposal as never),
    pastGenesis: (h: string) => past.get(h),
  });
  // At v1: the step is current.
  const at1 = makeObjectCheck(net.g, ctx(new Map()));
  const r1 = at1('certificate', step1.id, step1.certificate);
  assert.ok(r1.ok && (r1.proof as { current: boolean }).current === true);
  // At v2 with v1 in its history: held and relayed, not a move.
  const at2 = makeObjectCheck(g2, ctx(new Map([[net.g.hash, net.g]])));
  const r2 = at2('certificate', step1.id, step1.certificate);
  assert.ok(r2.ok && (r2.proof as { current: boolean }).current === false);
  // At v2 without that history: it does not hold v1, costs nobody.
  const lone = makeObjectCheck(g2, ctx(new Map()));
  const r3 = lone('certificate', step1.id, step1.certificate);
  assert.equal(r3.ok ? '' : r3.code, 'E_NOT_FOUND');
  // A v2 -> v3 step reaches a node still at v1: it waits (E_NOT_FOUND), no penalty.
  const net2: Net = { ...net, genesis: v2, g: g2, holders: [...net.holders.slice(0, 3), fresh] };
  const v3 = signGenesis({ ...v2.signed, version: 3 }, net.root);
  const { b: step2 } = certifiedChange(net2, v3);
  const r4 = at1('certificate', step2.id, step2.certificate);
  assert.equal(r4.ok ? '' : r4.code, 'E_NOT_FOUND');
});

test('after the change the new snapshot counts: a new holder votes, a removed one does not', () => {
  const net = network();
  const fresh = key();
  const g2 = trustGenesis(nextGenesis(net, fresh));
  const removed = net.holders[3] as never;
  const p = proposal({ ...net, g: g2 });
  const pid = objectId(p);
  const newVote = vote(net, p, fresh, 'yes');
  const oldVote = vote(net, p, removed, 'yes');
  const before = tally(net.g, p, pid, [newVote, oldVote]);
  assert.equal(before.voters, 1);
  assert.equal(before.ignored.non_holder, 1);
  const afterChange = tally(g2, p, pid, [newVote, oldVote]);
  assert.equal(afterChange.voters, 1);
  assert.equal(afterChange.yes, 100);
  assert.equal(afterChange.ignored.non_holder, 1);
  // The one that counts is the new holder's.
  const onlyNew = tally(g2, p, pid, [newVote]);
  assert.equal(onlyNew.voters, 1);
  const onlyOld = tally(g2, p, pid, [oldVote]);
  assert.equal(onlyOld.voters, 0);
});

test('objects of a genesis a node moved past are dropped without costing the peers that still hold them', () => {
  const net = network();
  const fresh = key();
  const v2 = nextGenesis(net, fresh);
  const g2 = trustGenesis(v2);
  const p = proposal({ ...net, g: g2 });
  const held = new Map<string, AnyProposal>([[objectId(p), p]]);
  const removed = net.holders[3] as never;
  const old = vote(net, p, removed, 'yes');
  const oldProposal = genesisProposal(net, v2);
  const base = {
    proposal: (id: string) => held.get(id),
    now: () => ({ time_ms: p.submit_time_ms + 5000, height: null }),
  };
  const strict = makeObjectCheck(g2, base);
  const lenient = makeObjectCheck(g2, {
    ...base,
    pastGenesis: (h: string) => (h === net.g.hash ? net.g : undefined),
    pastMember: (k: string) => net.g.holderIndex.has(k) && !g2.holderIndex.has(k),
  });
  const code = (c: typeof strict, kind: 'vote' | 'proposal', o: object) => {
    const r = c(kind, objectId(o), o);
    return r.ok ? 'ok' : r.code;
  };
  assert.equal(code(strict, 'vote', old), 'E_UNTRUSTED_KEY');
  assert.equal(code(lenient, 'vote', old), 'E_CHAIN_MISMATCH');
  assert.equal(isSecurityCode('E_CHAIN_MISMATCH'), false);
  assert.equal(code(strict, 'proposal', oldProposal), 'E_ROLLBACK');
  assert.equal(code(lenient, 'proposal', oldProposal), 'E_CHAIN_MISMATCH');
  // Someone who was never a holder is still a security refusal.
  assert.equal(code(lenient, 'vote', vote(net, p, key(), 'yes')), 'E_UNTRUSTED_KEY');
});
