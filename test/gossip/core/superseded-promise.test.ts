/**
 * IWANT promises and superseded objects: a peer advertises an object, we ask for it, and before
 * our IWANT arrives a newer object replaces it in its slot (a height beacon does so every block
 * interval). The peer answers with the successor, naming the id asked for; that keeps its promise,
 * so its score does not fall and the newer object arrives at once instead of at the next
 * anti-entropy round. An answer that fails its check, or comes from a peer who promised nothing,
 * settles nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GossipAction, ValidateObject } from '../../../src/gossip/core/actions.ts';
import { GOSSIP_FORMAT, type GossipMessage } from '../../../src/gossip/core/messages.ts';
import { GossipNode } from '../../../src/gossip/core/node.ts';
import { VOTE_FORMAT, type Vote } from '../../../src/model/governance.ts';
import { sends } from './fixtures.ts';

const hex = (c: string, n = 64) => c.repeat(n);

function vote(time: number, valid = true): Vote {
  return {
    format: VOTE_FORMAT,
    network_id: 'testnet',
    proposal_id: hex('a'),
    voter: hex('d'),
    option: 'yes',
    time_ms: time,
    height: null,
    signature: hex(valid ? 'b' : 'c', 128),
  };
}
const idOf = (v: Vote) => `${String(v.time_ms).padStart(32, '0')}${v.signature.slice(0, 32)}`;
const validateObject: ValidateObject = (kind, id, o) =>
  kind === 'vote' && idOf(o as Vote) === id && (o as Vote).signature === hex('b', 128)
    ? { ok: true }
    : { ok: false, code: 'E_SIGNATURE', reason: 'bad signature' };

function node(peers: readonly string[]) {
  const n = new GossipNode<string>({
    now: 0,
    validate: () => ({ ok: true }),
    seed: 7,
    initialHighest: '1.0.0',
    validateObject,
    config: { antiEntropyMs: 0 },
  });
  for (const p of peers) n.connected(0, p, 'outbound');
  n.drain();
  return n;
}

const announce = (v: Vote, extra: { answers?: string } = {}): GossipMessage =>
  ({
    format: GOSSIP_FORMAT,
    type: 'announce',
    kind: 'vote',
    id: idOf(v),
    object: v,
    ttl: 3,
    ...extra,
  }) as GossipMessage;
const ihave = (v: Vote): GossipMessage => ({
  format: GOSSIP_FORMAT,
  type: 'ihave',
  items: [{ kind: 'vote', id: idOf(v) }],
});
const iwant = (v: Vote): GossipMessage => ({
  format: GOSSIP_FORMAT,
  type: 'iwant',
  kind: 'vote',
  ids: [idOf(v)],
});

/** Runs the node's timers well past the promise deadline; returns what it did. */
function pastDeadline(n: GossipNode<string>, from: number): { actions: GossipAction<string>[]; t: number } {
  const actions: GossipAction<string>[] = [];
  let t = from;
  while (t < from + n.config.promiseTimeoutMs + 2000) {
    const next = n.pollTimeout();
    t = next === Number.POSITIVE_INFINITY ? t + 1000 : Math.max(next, t + 1);
    n.timeout(t);
    actions.push(...n.drain());
  }
  return { actions, t };
}

const brokenPromises = (actions: readonly GossipAction<string>[]) =>
  actions.filter((a) => a.type === 'rejected' && a.reason === 'broken-promise');

test('a request for a superseded object is answered with its successor, naming the id asked for', () => {
  const server = node(['asker']);
  const old = vote(1);
  const newer = vote(2);
  server.receive(10, 'asker', announce(old), 500);
  server.receive(20, 'asker', announce(newer), 500);
  server.drain();
  server.receive(30, 'asker', iwant(old), 80);
  const out = sends(server.drain());
  assert.equal(out.length, 1);
  const m = out[0]?.message as Extract<GossipMessage, { type: 'announce'; kind: 'vote' }>;
  assert.equal(m.type, 'announce');
  assert.equal(m.id, idOf(newer));
  assert.equal(m.answers, idOf(old));
  // Once per peer: asking again gets nothing more.
  server.receive(40, 'asker', iwant(old), 80);
  assert.equal(sends(server.drain()).length, 0);
  // An id never held is still not answered.
  server.receive(50, 'asker', iwant(vote(99)), 80);
  assert.equal(sends(server.drain()).length, 0);
});

test('the successor kept the promise: no broken promise, the peer scores no less, the newer object is held', () => {
  const asker = node(['server']);
  const old = vote(1);
  const newer = vote(2);
  asker.receive(10, 'server', ihave(old), 80);
  const asks = sends(asker.drain()).filter((s) => s.message.type === 'iwant');
  assert.equal(asks.length, 1);
  asker.receive(60, 'server', announce(newer, { answers: idOf(old) }), 500);
  asker.drain();
  const { actions, t } = pastDeadline(asker, 60);
  assert.deepEqual(brokenPromises(actions), []);
  assert.equal(asker.stats.brokenPromises, 0);
  assert.ok((asker.peerScore('server', t) as number) >= 0);
  assert.deepEqual(
    asker.heldObjects('vote').map((h) => h.id),
    [idOf(newer)],
  );
});

test('an answer that fails its check, or from a peer who promised nothing, settles nothing', () => {
  const asker = node(['server', 'other']);
  const old = vote(1);
  asker.receive(10, 'server', ihave(old), 80);
  asker.drain();
  // Someone else claims to answer the server's promise: not theirs to keep.
  asker.receive(20, 'other', announce(vote(2), { answers: idOf(old) }), 500);
  // The server answers with a forged object.
  asker.receive(30, 'server', announce(vote(3, false), { answers: idOf(old) }), 500);
  asker.drain();
  const { actions, t } = pastDeadline(asker, 30);
  assert.equal(brokenPromises(actions).length, 1);
  assert.ok((asker.peerScore('server', t) as number) < 0);
});
