/**
 * The beacon book (governance/beacon-book.ts): a height is accepted at >= 2/3 of stake on one
 * beacon, never below; forged, unknown-validator, other-network, wrongly timed and off-chain
 * beacons are refused with their codes; caps hold.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BeaconValidatorSet, beaconHash, beaconToSign, heightAt } from '../../src/governance/beacon.ts';
import { BeaconBook, MAX_PENDING_PER_VALIDATOR } from '../../src/governance/beacon-book.ts';
import { MAX_VALIDATORS, SignedBeaconSchema } from '../../src/model/beacon.ts';
import { chain, PARAMS, setOf, signedBy, statement, validators } from './beacon-fixtures.ts';

const vs = validators([10, 10, 10, 10, 10, 10]); // total 60; quorum 40

test('a height is accepted at exactly 2/3 of stake, not one unit below', () => {
  const [b1] = chain(1);
  const exact = new BeaconBook(PARAMS, setOf(vs));
  assert.equal(exact.current(), null);
  for (const v of vs.slice(0, 3)) assert.equal(exact.receive(signedBy(b1!, [v])).ok, true);
  assert.equal(exact.current(), null, '30 of 60 is not enough');
  const r = exact.receive(signedBy(b1!, [vs[3]!]));
  assert.equal(r.ok && r.status, 'accepted');
  assert.deepEqual(exact.current(), { height: 1, time_ms: PARAMS.genesisTimeMs + 1000 });
  assert.equal(r.ok && r.status === 'accepted' && r.certificate.signatures.length, 4);

  // 3 validators of stake 13 + one of 1: 40 of 61 is below 2/3 (40.67); 41 is at it.
  const uneven = validators([13, 13, 13, 1, 21]);
  const below = new BeaconBook(PARAMS, setOf(uneven));
  const v = below.receive(signedBy(b1!, uneven.slice(0, 4)));
  assert.equal(v.ok && v.status, 'pending');
  assert.equal(below.current(), null);
  const more = below.receive(signedBy(b1!, [uneven[4]!]));
  assert.equal(more.ok && more.status, 'accepted', '61 of 61');
  const total61 = setOf(uneven);
  assert.equal(total61.isQuorum(40n), false, '40 * 3 = 120 < 122');
  assert.equal(total61.isQuorum(41n), true, '41 * 3 = 123 >= 122');
  assert.ok(new BeaconValidatorSet(setOfRaw([2, 1])).isQuorum(2n), '2 of 3 is exactly 2/3');
  assert.ok(!new BeaconValidatorSet(setOfRaw([2, 1])).isQuorum(1n));
});

function setOfRaw(stakes: number[]) {
  return validators(stakes).map(({ id, stake }) => ({ publicKey: id, stake }));
}

test('a certificate (one message with a quorum of signatures) is accepted at once by a late node', () => {
  const c = chain(5);
  const book = new BeaconBook(PARAMS, setOf(vs));
  const r = book.receive(signedBy(c[4]!, vs.slice(0, 4)));
  assert.equal(r.ok && r.status, 'accepted', 'skips heights it never saw');
  assert.equal(book.current()?.height, 5);
  // Older heights are now harmless replays.
  const old = book.receive(signedBy(c[2]!, vs));
  assert.equal(old.ok && old.status, 'known');
  // The certificate is what it hands on, and it round-trips the wire schema.
  const cert = book.certificate();
  assert.ok(cert);
  assert.deepEqual(SignedBeaconSchema.parse(JSON.parse(JSON.stringify(cert))), cert);
  const again = new BeaconBook(PARAMS, setOf(vs), cert);
  assert.equal(again.current()?.height, 5);
});

test('refusals carry codes; forgeries penalise the sender, off-chain beacons do not', () => {
  const [b1, b2] = chain(2);
  const book = new BeaconBook(PARAMS, setOf(vs));
  const stranger = validators([10])[0]!;

  const forged = signedBy(b1!, [vs[0]!]);
  forged.signatures[0]!.signature = signedBy(b2!, [vs[0]!]).signatures[0]!.signature; // real, other bytes
  const cases: [string, ReturnType<typeof signedBy>, string][] = [
    ['forged signature', forged, 'E_SIGNATURE'],
    [
      'garbage signature',
      { ...b1!, signatures: [{ validator: vs[0]!.id, signature: '00'.repeat(64) }] },
      'E_SIGNATURE',
    ],
    ['unknown validator', signedBy(b1!, [stranger]), 'E_UNTRUSTED_KEY'],
    ['same validator twice', signedBy(b1!, [vs[0]!, vs[0]!]), 'E_MALFORMED'],
    ['other network', signedBy({ ...b1!, network_id: 'othernet' }, [vs[0]!]), 'E_WRONG_NETWORK'],
    [
      'time not genesis + height blocks',
      signedBy({ ...b1!, time_ms: b1!.time_ms + 1 }, [vs[0]!]),
      'E_MALFORMED',
    ],
  ];
  for (const [what, b, code] of cases) {
    const r = book.receive(b);
    assert.equal(r.ok, false, what);
    assert.equal(!r.ok && r.code, code, what);
    assert.equal(!r.ok && r.penalize, true, what);
  }
  // A validator key that signs for someone else's id is a forgery too.
  const impostor = book.receive(signedBy(b1!, [{ ...stranger, id: vs[1]!.id }]));
  assert.equal(!impostor.ok && impostor.code, 'E_SIGNATURE');

  // Off the chain: height 1 must build on the genesis, height 2 on beacon 1.
  const wrongPrev = book.receive(signedBy(statement(1, 'ee'.repeat(32)), [vs[0]!]));
  assert.equal(!wrongPrev.ok && wrongPrev.code, 'E_CHAIN_MISMATCH');
  assert.equal(!wrongPrev.ok && wrongPrev.penalize, false);
  book.receive(signedBy(b1!, vs.slice(0, 4)));
  assert.equal(book.current()?.height, 1);
  const onGenesis = book.receive(signedBy(statement(2, PARAMS.genesisHash), vs));
  assert.equal(!onGenesis.ok && onGenesis.code, 'E_CHAIN_MISMATCH', 'a tip exists: not on the genesis');
  assert.equal(book.current()?.height, 1, 'even a full quorum cannot fork the accepted chain');
  const ok = book.receive(signedBy(b2!, vs.slice(0, 4)));
  assert.equal(ok.ok && ok.status, 'accepted');
  const skipBack = book.receive(signedBy(statement(4, beaconHash(b1!)), vs));
  assert.equal(!skipBack.ok && skipBack.code, 'E_CHAIN_MISMATCH', 'builds on an older accepted beacon');
  assert.equal(book.stats.off_chain, 3);
});

test('pending signatures on a beacon that falls off the chain are dropped when the tip moves', () => {
  const c = chain(3);
  const book = new BeaconBook(PARAMS, setOf(vs));
  // Beacon 2 on a prev this node never saw (skip allowed while the tip is 0): pending.
  const stray = statement(2, 'ee'.repeat(32));
  assert.equal(book.receive(signedBy(stray, [vs[5]!])).ok, true);
  assert.equal(book.stats.pending_beacons, 1);
  book.receive(signedBy(c[0]!, vs.slice(0, 4)));
  assert.equal(book.stats.pending_beacons, 0, 'beacon 2 must now follow beacon 1');
  const after = book.receive(signedBy(stray, vs.slice(0, 5)));
  assert.equal(!after.ok && after.code, 'E_CHAIN_MISMATCH');
});

test('caps: a validator signing endless heights holds at most MAX_PENDING_PER_VALIDATOR of them', () => {
  const book = new BeaconBook(PARAMS, setOf(vs));
  const c = chain(1);
  for (let h = 2; h < 200; h++) book.receive(signedBy(statement(h, 'aa'.repeat(32)), [vs[5]!]));
  assert.ok(book.stats.pending_beacons <= MAX_PENDING_PER_VALIDATOR, `${book.stats.pending_beacons}`);
  // Equivocation (two beacons, one height, one validator) is counted.
  book.receive(signedBy(statement(500, 'bb'.repeat(32)), [vs[5]!]));
  book.receive(signedBy(statement(500, 'cc'.repeat(32)), [vs[5]!]));
  assert.equal(book.stats.equivocations, 1);
  // The honest validators still make progress.
  const r = book.receive(signedBy(c[0]!, vs.slice(0, 4)));
  assert.equal(r.ok && r.status, 'accepted');
  // The schema caps signatures and strings before the book sees them.
  const one = signedBy(c[0]!, [vs[0]!]);
  const tooMany = {
    ...c[0]!,
    signatures: Array.from({ length: MAX_VALIDATORS + 1 }, () => one.signatures[0]!),
  };
  assert.equal(SignedBeaconSchema.safeParse(one).success, true);
  assert.equal(SignedBeaconSchema.safeParse(tooMany).success, false, 'more signatures than validators');
  assert.equal(SignedBeaconSchema.safeParse({ ...one, signatures: [] }).success, false);
  assert.equal(SignedBeaconSchema.safeParse({ ...one, network_id: 'x'.repeat(65) }).success, false);
  assert.equal(SignedBeaconSchema.safeParse({ ...one, height: 0 }).success, false);
  assert.equal(SignedBeaconSchema.safeParse({ ...one, extra: 1 }).success, false, 'strict: no extra fields');
});

test('beaconToSign: one beacon per slot, on the tip, only once the slot began', () => {
  const g = PARAMS.genesisTimeMs;
  assert.equal(heightAt(PARAMS, g - 5), 0);
  assert.equal(beaconToSign(PARAMS, null, 0, g + 999), undefined, 'slot 1 begins at genesis + 1 block');
  const first = beaconToSign(PARAMS, null, 0, g + 1000);
  assert.deepEqual(first, chain(1)[0]);
  assert.equal(beaconToSign(PARAMS, null, 1, g + 1500), undefined, 'already signed height 1');
  const tip = { height: 1, hash: beaconHash(first!) };
  assert.deepEqual(beaconToSign(PARAMS, tip, 1, g + 2000), chain(2)[1]);
  // A validator back from a pause signs the current slot, on its tip (heights between are skipped).
  const late = beaconToSign(PARAMS, tip, 1, g + 7300);
  assert.equal(late?.height, 7);
  assert.equal(late?.prev, tip.hash);
});

test('after a certified genesis change heights need 2/3 of the new validators; the tip stays', () => {
  const c = chain(3);
  const book = new BeaconBook(PARAMS, setOf(vs));
  assert.equal(book.receive(signedBy(c[0]!, vs.slice(0, 4))).ok, true);
  assert.equal(book.current()?.height, 1);
  // Height 2 pending with the old stakes when the change lands: dropped, weighed again.
  assert.equal(book.receive(signedBy(c[1]!, vs.slice(0, 2))).ok, true);
  const next = validators([10, 10, 10]); // three new keys, 30 of stake
  book.setValidators(setOf(next));
  assert.equal(book.current()?.height, 1, 'the accepted tip survives the change');
  // The old validators' signatures no longer count at all.
  const old = book.receive(signedBy(c[1]!, vs));
  assert.equal(old.ok, false, 'old validators are strangers now');
  // Two of the three new ones are 2/3 of the new stake.
  const r = book.receive(signedBy(c[1]!, next.slice(0, 2)));
  assert.equal(r.ok && r.status, 'accepted');
  assert.equal(book.current()?.height, 2);
});
