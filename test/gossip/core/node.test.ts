import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GossipAction } from '../../../src/gossip/core/actions.ts';
import { GOSSIP_FORMAT, type GossipMessage } from '../../../src/gossip/core/messages.ts';
import { GossipNode } from '../../../src/gossip/core/node.ts';
import type { DownloadSource } from '../../../src/model/download-source.ts';
import {
  announceMsg,
  announcement,
  connectAll,
  node,
  Pump,
  sends,
  sentOfType,
  validate,
} from './fixtures.ts';

const PEERS = ['a', 'b', 'c', 'd'];

function accepted(actions: readonly GossipAction<string>[]) {
  return actions.filter((a) => a.type === 'accepted');
}

function rejected(actions: readonly GossipAction<string>[]) {
  return actions.flatMap((a) => (a.type === 'rejected' ? [a] : []));
}

test('a valid announcement is accepted and relayed to the mesh with ttl-1, not back to its sender', () => {
  const n = node();
  connectAll(n, PEERS);
  const a = announcement('1.1.0', 5);
  n.receive(10, 'a', announceMsg(a), 500);
  const actions = n.drain();
  assert.equal(accepted(actions).length, 1);
  const relayed = sentOfType(actions, 'announce');
  assert.deepEqual(relayed.map((s) => s.to).sort(), ['b', 'c', 'd']);
  for (const s of relayed) {
    assert.equal(s.message.announcement.ttl, 4);
    assert.equal(s.message.announcement.id, a.id);
  }
  assert.equal(n.highestVersion, '1.1.0');
});

test('ttl 0: accepted but never passed on, neither pushed nor advertised by IHAVE', () => {
  const n = node({ meshDegree: 2, meshDegreeLow: 1, meshDegreeHigh: 3 });
  connectAll(n, ['a', 'b', 'c', 'd', 'e']);
  n.receive(10, 'a', announceMsg(announcement('1.1.0', 0)), 500);
  const first = n.drain();
  assert.equal(accepted(first).length, 1);
  assert.equal(sends(first).length, 0);
  for (let t = 1000; t < 6000; t += 500) n.timeout(t);
  assert.equal(sentOfType(n.drain(), 'ihave').length, 0);
});

test('dedupe: a second copy is counted as a duplicate, not accepted or relayed again', () => {
  const n = node();
  connectAll(n, PEERS);
  const a = announcement('1.1.0', 5);
  n.receive(10, 'a', announceMsg(a), 500);
  n.drain();
  n.receive(20, 'b', announceMsg({ ...a, ttl: 9 }), 500);
  const again = n.drain();
  assert.equal(accepted(again).length, 0);
  assert.equal(sends(again).length, 0);
  assert.equal(n.stats.duplicates, 1);
});

test('replays of a release at or below the highest known version are ignored without penalty', () => {
  const n = node({}, 1, '1.0.0');
  connectAll(n, PEERS);
  n.receive(5, 'a', announceMsg(announcement('1.0.0', 5)), 500); // equal to the trusted highest
  n.receive(6, 'a', announceMsg(announcement('0.9.0', 5)), 500); // older
  assert.equal(sends(n.drain()).length, 0);
  n.receive(10, 'b', announceMsg(announcement('1.2.0', 5)), 500);
  n.drain();
  n.receive(20, 'c', announceMsg(announcement('1.1.0', 9)), 500); // fresh id, older than 1.2.0
  n.receive(21, 'c', announceMsg(announcement('1.2.0', 9)), 500); // fresh id, same version
  const after = n.drain();
  assert.equal(sends(after).length, 0);
  assert.equal(accepted(after).length, 0);
  assert.equal(rejected(after).length, 0);
  assert.equal(n.stats.replaysIgnored, 4);
  assert.equal(n.peerScore('a', 21), 0);
  assert.equal(n.peerScore('c', 21), 0);
});

test('an invalid announcement is dropped, not relayed, and graylists its sender; one more offence disconnects and bans it', () => {
  const n = node();
  connectAll(n, PEERS);
  n.receive(10, 'a', announceMsg(announcement('2.0.0', 5, { valid: false })), 500);
  const first = n.drain();
  assert.equal(sends(first).length, 0);
  assert.equal(accepted(first).length, 0);
  assert.deepEqual(
    rejected(first).map((r) => [r.from, r.code, r.reason]),
    [['a', 'E_SIGNATURE', 'invalid']],
  );
  assert.ok((n.peerScore('a', 10) as number) <= n.config.graylistThreshold);
  // Graylisted: even a valid message from it is now ignored.
  n.receive(11, 'a', announceMsg(announcement('1.5.0', 5)), 500);
  assert.equal(accepted(n.drain()).length, 0);
  assert.equal(n.stats.graylisted, 1);
  // Size and rate are still checked for a graylisted peer: an oversized message pushes it past
  // the disconnect threshold.
  n.receive(12, 'a', { format: GOSSIP_FORMAT, type: 'graft' }, n.config.maxMessageBytes + 1);
  const second = n.drain();
  assert.ok(second.some((x) => x.type === 'disconnect' && x.peer === 'a'));
  assert.ok(n.isBanned('a', 13));
  assert.ok(!n.connectedPeers().includes('a'));
  n.connected(14, 'a');
  assert.ok(n.drain().some((x) => x.type === 'disconnect' && x.peer === 'a' && x.reason === 'banned'));
  // The ban ends.
  n.connected(14 + n.config.banMs, 'a');
  assert.ok(n.connectedPeers().includes('a'));
});

test('a forgery sent under a genuine announcement id does not block the genuine one', () => {
  const n = node();
  connectAll(n, PEERS);
  const genuine = announcement('1.1.0', 5);
  n.receive(10, 'a', announceMsg({ ...genuine, metadata: { ...genuine.metadata, targets: 'YmFk' } }), 500);
  n.receive(11, 'b', announceMsg(genuine), 500);
  const actions = n.drain();
  assert.equal(accepted(actions).length, 1);
  assert.equal(n.highestVersion, '1.1.0');
});

test('an old version sent under a new release id (id squatting by replay) does not block the release', () => {
  const n = node();
  connectAll(n, PEERS);
  const genuine = announcement('1.1.0', 5);
  n.receive(10, 'a', announceMsg({ ...announcement('0.9.0', 5), id: genuine.id }), 500);
  n.receive(11, 'b', announceMsg(genuine), 500);
  assert.equal(accepted(n.drain()).length, 1);
});

test('a validator that throws drops the message without relaying it and without blaming the peer', () => {
  const n = new GossipNode<string>({
    now: 0,
    validate: () => {
      throw new Error('trust store unavailable');
    },
    initialHighest: '1.0.0',
  });
  connectAll(n, PEERS);
  n.receive(10, 'a', announceMsg(announcement('1.1.0', 5)), 500);
  assert.equal(sends(n.drain()).length, 0);
  assert.equal(n.peerScore('a', 10), 0);
  assert.equal(n.stats.invalid, 1);
});

test('size cap and per-peer rate limit on every message', () => {
  const n = node({ rateMsgBurst: 5, rateMsgsPerSec: 1 });
  connectAll(n, PEERS);
  const graft: GossipMessage = { format: GOSSIP_FORMAT, type: 'graft' };
  n.receive(0, 'a', graft, n.config.maxMessageBytes + 1);
  assert.deepEqual(
    rejected(n.drain()).map((r) => r.code),
    ['E_TOO_LARGE'],
  );
  for (let k = 0; k < 5; k++) n.receive(1, 'b', graft, 50);
  assert.equal(rejected(n.drain()).length, 0);
  n.receive(1, 'b', graft, 50);
  assert.deepEqual(
    rejected(n.drain()).map((r) => [r.code, r.reason]),
    [['E_BUSY', 'rate-limited']],
  );
  // Tokens come back at the refill rate.
  n.receive(2001, 'b', graft, 50);
  assert.equal(rejected(n.drain()).length, 0);
  assert.equal(n.stats.rateLimited, 1);
  assert.equal(n.stats.tooLarge, 1);
});

test('flood mode (the seed): no handshake, no timers, every new announcement to every other peer', () => {
  const n = node({ mode: 'flood' });
  connectAll(n, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']);
  assert.equal(n.pollTimeout(), Number.POSITIVE_INFINITY);
  n.receive(10, 'a', announceMsg(announcement('1.1.0', 3)), 500);
  const relayed = sentOfType(n.drain(), 'announce');
  assert.equal(relayed.length, 8);
  assert.ok(relayed.every((s) => s.to !== 'a' && s.message.announcement.ttl === 2));
});

test('mesh: grafts beyond D_hi are refused with PRUNE; a prune takes the peer out; the heartbeat grafts back up to D', () => {
  const cfg = { meshDegree: 3, meshDegreeLow: 2, meshDegreeHigh: 4 };
  const n = node(cfg);
  const peers = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
  for (const p of peers) n.connected(0, p, 'inbound');
  assert.equal(sends(n.drain()).length, 0, 'the listener speaks only when answering a HELLO');
  const graft: GossipMessage = { format: GOSSIP_FORMAT, type: 'graft' };
  for (const p of peers) n.receive(1, p, graft, 40);
  const answers = sentOfType(n.drain(), 'prune');
  assert.deepEqual(
    answers.map((s) => s.to),
    ['p5', 'p6'],
  );
  assert.equal(n.meshPeers().length, 4);
  const prune: GossipMessage = { format: GOSSIP_FORMAT, type: 'prune' };
  for (const p of ['p1', 'p2', 'p3']) n.receive(2, p, prune, 40);
  assert.equal(n.meshPeers().length, 1);
  n.timeout(n.pollTimeout());
  const grafts = sentOfType(n.drain(), 'graft');
  // Only p5 and p6 are eligible (p1-p3 pruned us: backoff), so the mesh grows back to 3.
  assert.deepEqual(grafts.map((s) => s.to).sort(), ['p5', 'p6']);
  assert.equal(n.meshPeers().length, 3);
});

test('lazy gossip: IHAVE to non-mesh peers at the heartbeat; IWANT answered once per peer', () => {
  const n = node({ meshDegree: 2, meshDegreeLow: 1, meshDegreeHigh: 3, lazyDegree: 2, gossipHistory: 1 });
  connectAll(n, ['m1', 'm2', 'x', 'y', 'z']);
  assert.deepEqual(n.meshPeers().sort(), ['m1', 'm2']);
  const a = announcement('1.1.0', 6);
  n.receive(10, 'm1', announceMsg(a), 500);
  assert.deepEqual(
    sentOfType(n.drain(), 'announce').map((s) => s.to),
    ['m2'],
  );
  n.timeout(n.pollTimeout());
  const ihave = sentOfType(n.drain(), 'ihave');
  assert.equal(ihave.length, 2);
  for (const s of ihave) {
    assert.ok(['x', 'y', 'z'].includes(s.to));
    assert.deepEqual(s.message.items, [{ id: a.id, version: '1.1.0' }]);
  }
  const asker = ihave[0]?.to as string;
  const iwant: GossipMessage = { format: GOSSIP_FORMAT, type: 'iwant', ids: [a.id] };
  n.receive(2000, asker, iwant, 80);
  const served = sentOfType(n.drain(), 'announce');
  assert.equal(served.length, 1);
  assert.equal(served[0]?.message.announcement.ttl, 5);
  n.receive(2001, asker, iwant, 80);
  assert.equal(sends(n.drain()).length, 0, 'no second copy on a repeated IWANT');
  // History is one heartbeat: nothing more is advertised.
  n.timeout(n.pollTimeout() === Number.POSITIVE_INFINITY ? 5000 : n.pollTimeout());
  assert.equal(sentOfType(n.drain(), 'ihave').length, 0);
});

test('IHAVE makes us ask with IWANT; a promise not kept in time costs the promiser, a kept one does not', () => {
  const n = node({ antiEntropyMs: 0 });
  connectAll(n, ['honest', 'liar']);
  const kept = announcement('1.1.0', 5);
  const empty = announcement('1.2.0', 5);
  const ihave = (id: string, version: string): GossipMessage => ({
    format: GOSSIP_FORMAT,
    type: 'ihave',
    items: [{ id, version }],
  });
  n.receive(10, 'honest', ihave(kept.id, kept.version), 80);
  n.receive(10, 'liar', ihave(empty.id, empty.version), 80);
  const asks = sentOfType(n.drain(), 'iwant');
  assert.deepEqual(
    asks.map((s) => [s.to, s.message.ids]),
    [
      ['honest', [kept.id]],
      ['liar', [empty.id]],
    ],
  );
  n.receive(50, 'honest', announceMsg(kept), 500);
  n.drain();
  let t = 50;
  while (t < 10 + n.config.promiseTimeoutMs + 2000) {
    t = n.pollTimeout();
    n.timeout(t);
  }
  const after = n.drain();
  assert.deepEqual(
    rejected(after).map((r) => [r.from, r.reason]),
    [['liar', 'broken-promise']],
  );
  assert.ok((n.peerScore('liar', t) as number) < 0);
  assert.ok((n.peerScore('honest', t) as number) >= 0);
});

test('anti-entropy: a late joiner catches up on connect, by digest and WANT, with nobody re-announcing', () => {
  const net = new Pump();
  const origin = net.add('origin', node({}, 1));
  net.add('b', node({}, 2));
  net.connect('origin', 'b');
  net.run(100);
  const a = announcement('1.1.0', 5);
  net.publish('origin', a);
  net.run(500);
  assert.ok(net.accepted.has('b'));
  const late = net.add('late', node({}, 3));
  const announcesBefore = net.log.filter((m) => m.message.type === 'announce').length;
  net.connect('late', 'b'); // the late node dials a peer that holds the release
  net.run(2000);
  assert.ok(net.accepted.has('late'));
  assert.equal(late.highestVersion, '1.1.0');
  const types = net.log.filter((m) => m.to === 'late' || m.from === 'late').map((m) => m.message.type);
  assert.deepEqual(types.slice(0, 4), ['hello', 'digest', 'want', 'bundle']);
  assert.equal(net.log.filter((m) => m.message.type === 'announce').length, announcesBefore);
  assert.equal(origin.highestVersion, '1.1.0');
});

test('anti-entropy: a healed partition converges without re-announcement; periodic digests reach the far side', () => {
  const net = new Pump();
  const ids = ['l0', 'l1', 'l2', 'r0', 'r1', 'r2'];
  ids.forEach((id, k) => {
    net.add(id, node({ antiEntropyMs: 1000 }, k + 1));
  });
  for (const [x, y] of [
    ['l0', 'l1'],
    ['l1', 'l2'],
    ['r0', 'r1'],
    ['r1', 'r2'],
  ] as const)
    net.connect(x, y);
  net.run(200);
  net.publish('l0', announcement('1.1.0', 0)); // ttl 0: it stops at the first hop
  net.run(400);
  assert.ok(net.accepted.has('l1'));
  assert.ok(!net.accepted.has('l2'), 'push stops at the hop bound');
  net.connect('l2', 'r0'); // the partition heals
  net.run(30_000);
  for (const id of ids.slice(1)) assert.ok(net.accepted.has(id), `${id} caught up`);
  assert.equal(net.log.filter((m) => m.message.type === 'announce').length, 1, 'only the original push');
  assert.ok(net.log.some((m) => m.message.type === 'bundle'));
});

test('mirror sharing: learned mirrors arrive with the handshake, marked learned and ranked below configured ones', () => {
  const configured: DownloadSource = {
    id: '7b0c7d3e-3f5e-4a53-9c59-7f1d1e3c2a10',
    source_type: 'HttpsMirror',
    uri: 'https://releases.example.org/dchat',
    priority: 10,
    failure_count: 0,
    origin: 'configured',
  };
  const theirs: DownloadSource = {
    ...configured,
    id: 'a7d4b0a2-4c3e-4b8a-9f63-1a2b3c4d5e6f',
    uri: 'https://mirror.example.net/d',
    priority: 5,
  };
  const net = new Pump();
  const me = net.add(
    'me',
    new GossipNode<string>({ now: 0, validate, mirrors: [configured], initialHighest: '1.0.0' }),
  );
  net.add(
    'peer',
    new GossipNode<string>({ now: 0, validate, mirrors: [theirs], seed: 2, initialHighest: '1.0.0' }),
  );
  net.connect('me', 'peer');
  net.run(100);
  const ranked = me.mirrors();
  assert.deepEqual(
    ranked.map((m) => [m.uri, m.origin]),
    [
      [configured.uri, 'configured'],
      [theirs.uri, 'learned'],
    ],
  );
  assert.ok((ranked[1]?.priority as number) > configured.priority);
});

test('two bad chunks from one peer disconnect it', () => {
  const n = node();
  connectAll(n, PEERS);
  n.badChunk(10, 'c');
  assert.ok(!n.drain().some((x) => x.type === 'disconnect'));
  n.badChunk(11, 'c');
  const actions = n.drain();
  assert.deepEqual(
    rejected(actions).map((r) => r.code),
    ['E_CHUNK_MISMATCH'],
  );
  assert.ok(actions.some((x) => x.type === 'disconnect' && x.peer === 'c'));
});

test('timers: none while idle without anti-entropy, a heartbeat while there is lazy gossip to do', () => {
  const n = node({ antiEntropyMs: 0, meshDegree: 2, meshDegreeLow: 1, meshDegreeHigh: 3 });
  connectAll(n, ['a', 'b', 'c']);
  assert.equal(n.pollTimeout(), Number.POSITIVE_INFINITY);
  n.receive(1500, 'a', announceMsg(announcement('1.1.0', 5)), 500);
  n.drain();
  const due = n.pollTimeout();
  assert.ok(due > 1500 && due <= 2500, `heartbeat due at ${due}`);
  n.timeout(due);
  n.drain();
  n.timeout(n.pollTimeout());
  n.drain();
  assert.equal(n.pollTimeout(), Number.POSITIVE_INFINITY);
});

test('determinism: the same seed and inputs give the same actions', () => {
  const run = () => {
    const n = node({ meshDegree: 2, meshDegreeLow: 1, meshDegreeHigh: 3 }, 99);
    connectAll(n, ['a', 'b', 'c', 'd', 'e', 'f']);
    n.receive(
      10,
      'a',
      announceMsg(announcement('1.1.0', 5, { id: '0f6c0a3b-1d2e-4f50-8a7b-9c0d1e2f3a4b' })),
      500,
    );
    const out = n.drain();
    n.timeout(n.pollTimeout());
    return JSON.stringify([...out, ...n.drain()]);
  };
  assert.equal(run(), run());
});

test('malformed bytes are a coded rejection that costs the sender', () => {
  const n = node();
  connectAll(n, PEERS);
  n.receiveBytes(5, 'b', new TextEncoder().encode('{"format":"dchat.gossip/1","type":"nope"}'));
  n.receiveBytes(6, 'c', new TextEncoder().encode('{"format":"dchat.gossip/9","type":"graft"}'));
  n.receiveBytes(7, 'd', new Uint8Array([0xff, 0xfe, 0x00]));
  assert.deepEqual(
    rejected(n.drain()).map((r) => [r.from, r.code]),
    [
      ['b', 'E_MALFORMED'],
      ['c', 'E_UNSUPPORTED'],
      ['d', 'E_MALFORMED'],
    ],
  );
  assert.ok((n.peerScore('b', 7) as number) < 0);
  n.receiveBytes(8, 'a', new TextEncoder().encode(JSON.stringify(announceMsg(announcement('1.1.0', 3)))));
  assert.equal(accepted(n.drain()).length, 1);
});

test('adopt holds a trusted release quietly (digest and WANT only); announceHeld pushes it with the given ttl', () => {
  const n = node({ antiEntropyMs: 0 });
  connectAll(n, PEERS);
  const a = announcement('1.1.0', 0);
  assert.deepEqual(n.adopt(10, a), { ok: true });
  const quiet = n.drain();
  assert.equal(accepted(quiet).length, 1);
  assert.equal(accepted(quiet)[0]?.type === 'accepted' && accepted(quiet)[0]?.via, 'local');
  assert.deepEqual(sends(quiet), [], 'adopting sends nothing');
  // A late IWANT is not answered (it is not being gossiped); a WANT is (anti-entropy repair).
  n.receive(20, 'a', { format: GOSSIP_FORMAT, type: 'iwant', ids: [a.id] }, 50);
  assert.deepEqual(sends(n.drain()), []);
  n.receive(30, 'a', { format: GOSSIP_FORMAT, type: 'want', ids: [a.id] }, 50);
  assert.deepEqual(
    sentOfType(n.drain(), 'bundle').map((s) => [s.to, s.message.announcement.ttl]),
    [['a', 0]],
  );
  // The operator announces it: every peer gets it with the ttl asked for (floodPublish).
  assert.equal(n.announceHeld(40, a.id, 5), true);
  const pushed = sentOfType(n.drain(), 'announce');
  assert.deepEqual(pushed.map((s) => s.to).sort(), PEERS);
  assert.ok(pushed.every((s) => s.message.announcement.ttl === 5 && s.message.kind === 'release'));
  assert.equal(n.announceHeld(50, '00000000-0000-4000-8000-000000000000', 5), false);
  // Not newer than what it holds: refused, like a replay.
  assert.equal(n.adopt(60, announcement('1.1.0', 0)).ok, false);
});

test('the validation budget: past it a sender costs no signature check, and pays for the attempt', () => {
  let checks = 0;
  const n = new GossipNode<string>({
    now: 0,
    validate: (a) => {
      checks++;
      return validate(a);
    },
    config: { validatePerSec: 1, validateBurst: 2, scoreRateLimited: -1 },
    seed: 1,
    initialHighest: '1.0.0',
  });
  connectAll(n, ['a']);
  for (const v of ['1.1.0', '1.2.0', '1.3.0', '1.4.0'])
    n.receive(10, 'a', announceMsg(announcement(v, 3, { valid: false })), 300);
  const actions = n.drain();
  assert.equal(checks, 1, 'one check: the first forgery graylists its sender, nothing more is read');
  assert.equal(n.stats.validateRateLimited, 0);
  assert.equal(n.stats.graylisted, 3);
  assert.equal(rejected(actions).filter((r) => r.reason === 'invalid').length, 1);
  // An honest sender over budget: dropped unchecked (anti-entropy fetches it later), scored -1.
  const h = new GossipNode<string>({
    now: 0,
    validate: (a) => {
      checks++;
      return validate(a);
    },
    config: { validatePerSec: 1, validateBurst: 1 },
    seed: 1,
    initialHighest: '1.0.0',
  });
  connectAll(h, ['b']);
  checks = 0;
  h.receive(10, 'b', announceMsg(announcement('1.1.0', 3)), 300);
  h.receive(11, 'b', announceMsg(announcement('1.2.0', 3)), 300);
  const hs = h.drain();
  assert.equal(checks, 1);
  assert.equal(h.stats.validateRateLimited, 1);
  assert.deepEqual(
    rejected(hs).map((r) => [r.reason, r.code]),
    [['validate-rate-limited', 'E_BUSY']],
  );
  assert.equal(h.highestVersion, '1.1.0');
  h.receive(1100, 'b', announceMsg(announcement('1.2.0', 3)), 300);
  assert.equal(h.highestVersion, '1.2.0', 'the budget refills');
});
