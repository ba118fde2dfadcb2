/**
 * Signed objects (governance kinds) in the gossip core: the same push, dedupe, validation and
 * anti-entropy as releases, with each kind's replay rule (a holder's latest vote wins, an older
 * one is a replay), and `kind` in IHAVE/IWANT/WANT and digests.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ValidateObject } from '../../../src/gossip/core/actions.ts';
import {
  decodeGossipMessage,
  encodeGossipMessage,
  GOSSIP_FORMAT,
  type GossipMessage,
  OBJECT_KINDS,
} from '../../../src/gossip/core/messages.ts';
import { GossipNode } from '../../../src/gossip/core/node.ts';
import { VOTE_FORMAT, type Vote } from '../../../src/model/governance.ts';
import { sends } from './fixtures.ts';

const hex = (c: string, n = 64) => c.repeat(n);
const PROPOSAL_ID = hex('a');

function vote(voter: string, time: number, option: 'yes' | 'no' = 'yes', valid = true): Vote {
  return {
    format: VOTE_FORMAT,
    network_id: 'testnet',
    proposal_id: PROPOSAL_ID,
    voter,
    option,
    time_ms: time,
    height: null,
    signature: hex(valid ? 'b' : 'c', 128),
  };
}
/** The id stand-in: voter, time and option (the real one is the object's hash). */
const idOf = (v: Vote) =>
  `${v.voter.slice(0, 32)}${String(v.time_ms).padStart(16, '0')}${v.option === 'yes' ? hex('1', 16) : hex('2', 16)}`;
const validateObject: ValidateObject = (kind, id, o) =>
  kind === 'vote' && idOf(o as Vote) === id && (o as Vote).signature === hex('b', 128)
    ? { ok: true, proof: 'checked' }
    : { ok: false, code: 'E_SIGNATURE', reason: 'bad signature' };

function voteMsg(v: Vote, type: 'announce' | 'bundle' = 'announce', ttl = 5): GossipMessage {
  return { format: GOSSIP_FORMAT, type, kind: 'vote', id: idOf(v), object: v, ttl };
}

function node(seed = 1, withObjects = true) {
  const n = new GossipNode<string>({
    now: 0,
    validate: () => ({ ok: true }),
    seed,
    initialHighest: '1.0.0',
    ...(withObjects ? { validateObject } : {}),
  });
  for (const p of ['a', 'b', 'c']) n.connected(0, p, 'outbound');
  n.drain();
  return n;
}

test('every object kind round-trips on the wire, with kind in ihave/iwant/want/digest', () => {
  assert.deepEqual(OBJECT_KINDS, [
    'release',
    'proposal',
    'vote',
    'approval',
    'certificate',
    'beacon',
    'attestation',
    'readiness',
    'rollback',
  ]);
  const v = vote(hex('d'), 1000);
  const samples: GossipMessage[] = [
    voteMsg(v),
    voteMsg(v, 'bundle', 0),
    { format: GOSSIP_FORMAT, type: 'ihave', items: [{ kind: 'vote', id: idOf(v) }] },
    { format: GOSSIP_FORMAT, type: 'iwant', kind: 'vote', ids: [idOf(v)] },
    { format: GOSSIP_FORMAT, type: 'want', kind: 'vote', ids: [idOf(v)] },
    {
      format: GOSSIP_FORMAT,
      type: 'digest',
      digest: { releases: [], objects: [{ kind: 'vote', id: idOf(v) }] },
      reply: false,
    },
  ];
  for (const m of samples) {
    const r = decodeGossipMessage(encodeGossipMessage(m));
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.deepEqual(r.message, m);
  }
  // A vote under the proposal kind, or an unknown kind, is malformed.
  const wrong = decodeGossipMessage(
    encodeGossipMessage({ ...voteMsg(v), kind: 'proposal' } as GossipMessage),
  );
  assert.equal(wrong.ok ? '' : wrong.error.code, 'E_MALFORMED');
  const unknown = decodeGossipMessage(
    new TextEncoder().encode(JSON.stringify({ ...voteMsg(v), kind: 'ballot' })),
  );
  assert.equal(unknown.ok ? '' : unknown.error.code, 'E_MALFORMED');
});

test('an object is validated, accepted once, relayed with ttl-1; a duplicate is not', () => {
  const n = node();
  const v = vote(hex('d'), 1000);
  n.receive(10, 'a', voteMsg(v), 400);
  const actions = n.drain();
  const acc = actions.filter((a) => a.type === 'object');
  assert.equal(acc.length, 1);
  assert.equal(acc[0]?.type === 'object' && acc[0].proof, 'checked');
  const relayed = sends(actions).filter((s) => s.message.type === 'announce');
  assert.ok(relayed.length > 0 && relayed.every((s) => s.to !== 'a'));
  assert.ok(
    relayed.every((s) => s.message.type === 'announce' && s.message.kind === 'vote' && s.message.ttl === 4),
  );
  n.receive(11, 'b', voteMsg(v), 400);
  assert.equal(n.drain().filter((a) => a.type === 'object').length, 0);
  assert.equal(n.stats.duplicates, 1);
});

test('replay rule: the latest vote of a holder replaces the older; an older one is ignored unpenalised', () => {
  const n = node();
  const voter = hex('d');
  n.receive(10, 'a', voteMsg(vote(voter, 2000, 'no')), 400);
  n.receive(11, 'b', voteMsg(vote(voter, 1000, 'yes')), 400);
  const acts = n.drain();
  assert.equal(acts.filter((a) => a.type === 'object').length, 1);
  assert.equal(n.stats.replaysIgnored, 1);
  assert.equal(n.peerScore('b', 11), 0);
  n.receive(12, 'c', voteMsg(vote(voter, 3000, 'yes')), 400);
  const later = n.drain().find((a) => a.type === 'object');
  assert.ok(later && later.type === 'object');
  assert.equal(later.replaced, idOf(vote(voter, 2000, 'no')));
  const held = n.heldObjects('vote');
  assert.equal(held.length, 1);
  assert.equal((held[0]?.object as Vote | undefined)?.time_ms, 3000);
});

test('a forged object is dropped, not relayed, and costs its sender', () => {
  const n = node();
  n.receive(10, 'a', voteMsg(vote(hex('d'), 1000, 'yes', false)), 400);
  const acts = n.drain();
  assert.equal(acts.filter((a) => a.type === 'object').length, 0);
  assert.equal(sends(acts).length, 0);
  assert.equal(n.stats.invalid, 1);
  assert.ok((n.peerScore('a', 10) ?? 0) < 0);
});

test('a node without an object check ignores objects without penalising anyone', () => {
  const n = node(1, false);
  n.receive(10, 'a', voteMsg(vote(hex('d'), 1000)), 400);
  assert.deepEqual(n.drain(), []);
  assert.equal(n.peerScore('a', 10), 0);
});

test('anti-entropy: a late joiner gets held objects through digest -> want -> bundle', () => {
  const old = new GossipNode<string>({ now: 0, validate: () => ({ ok: true }), validateObject, seed: 3 });
  const votes = Array.from({ length: 100 }, (_, i) => vote(i.toString(16).padStart(64, '0'), 1000 + i));
  for (const v of votes) assert.ok(old.adoptObject(0, 'vote', idOf(v), v).ok);
  old.drain();
  const late = new GossipNode<string>({ now: 0, validate: () => ({ ok: true }), validateObject, seed: 4 });
  old.connected(0, 'late', 'inbound');
  late.connected(0, 'old', 'outbound');
  // Pump messages both ways; run anti-entropy on the late node until it holds every vote.
  let now = 0;
  const pump = () => {
    for (let moved = true; moved; ) {
      moved = false;
      for (const a of late.drain())
        if (a.type === 'send') {
          old.receive(now, 'late', a.message, 100);
          moved = true;
        }
      for (const a of old.drain())
        if (a.type === 'send') {
          late.receive(now, 'old', a.message, 100);
          moved = true;
        }
    }
  };
  pump();
  for (let round = 0; round < 20 && late.heldObjects('vote').length < votes.length; round++) {
    now += 60_000;
    late.timeout(now);
    old.timeout(now);
    pump();
  }
  assert.equal(late.heldObjects('vote').length, votes.length);
});
