/**
 * The fork id (governance/fork-id.ts). Heights only, it must be EIP-2124 exactly: the vectors are
 * Ethereum mainnet's, as published in EIP-2124 and go-ethereum's core/forkid tests (an independent
 * implementation computed them). Then dchat's own use: versions folded into the hash, hard forks
 * from a schedule, soft forks ruled by min_compatible_version.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  catchingUp,
  checkForkId,
  checkPeerVersion,
  checksumHex,
  checksumUpdate,
  type ForkPoint,
  forkIdOf,
  genesisChecksum,
  hardForks,
  judgePeer,
  type ScheduledUpgrade,
} from '../../src/governance/fork-id.ts';

const MAINNET = 'd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3';
/** Frontier..Petersburg as EIP-2124 lists them (Constantinople and Petersburg share 7280000). */
const PETERSBURG: ForkPoint[] = [1150000, 1920000, 2463000, 2675000, 4370000, 7280000, 7280000].map(
  (height) => ({ height }),
);
/** go-ethereum's mainnet config up to Gray Glacier. */
const GRAY_GLACIER: ForkPoint[] = [
  1150000, 1920000, 2463000, 2675000, 2675000, 4370000, 7280000, 7280000, 9069000, 9200000, 12244000,
  12965000, 13773000, 15050000,
].map((height) => ({ height }));
const FAR = Number.MAX_SAFE_INTEGER; // stands for EIP-2124's MaxUint64 "uncertain" next fork

test('EIP-2124 creation vectors (Ethereum mainnet): hash and next at each head', () => {
  const cases: [number, string, number][] = [
    [0, 'fc64ec04', 1150000],
    [1149999, 'fc64ec04', 1150000],
    [1150000, '97c2c34c', 1920000],
    [1919999, '97c2c34c', 1920000],
    [1920000, '91d1f948', 2463000],
    [2462999, '91d1f948', 2463000],
    [2463000, '7a64da13', 2675000],
    [2674999, '7a64da13', 2675000],
    [2675000, '3edd5b10', 4370000],
    [4369999, '3edd5b10', 4370000],
    [4370000, 'a00bc324', 7280000],
    [7279999, 'a00bc324', 7280000],
    [7280000, '668db0af', 9069000],
    [9068999, '668db0af', 9069000],
    [9069000, '879d6e30', 9200000],
    [9199999, '879d6e30', 9200000],
    [9200000, 'e029e991', 12244000],
    [12244000, '0eb440f6', 12965000],
    [12965000, 'b715077d', 13773000],
    [13773000, '20c327fc', 15050000],
    [15050000, 'f0afd0e3', 0],
  ];
  for (const [head, hash, next] of cases)
    assert.deepEqual(forkIdOf(MAINNET, GRAY_GLACIER, head), { hash, next }, `head ${head}`);
  assert.equal(checksumHex(genesisChecksum(MAINNET)), 'fc64ec04');
});

test('EIP-2124 validation vectors (local Petersburg config)', () => {
  const stale5c = checksumHex(checksumUpdate(0x668db0af, { height: 0xffffffff }));
  assert.equal(stale5c, '5cddc0e1', 'the EIP names this checksum: Petersburg + a fork at 0xffffffff');
  const cases: [
    head: number,
    hash: string,
    next: number,
    want: 'ok' | 'remote-stale' | 'local-incompatible-or-stale',
  ][] = [
    [7987396, '668db0af', 0, 'ok'], // same fork, nothing next
    [7987396, '668db0af', FAR, 'ok'], // same fork, an uncertain far fork
    [7279999, 'a00bc324', 0, 'ok'], // both Byzantium, peer unaware of Petersburg (not passed yet)
    [7279999, 'a00bc324', 7280000, 'ok'],
    [7279999, 'a00bc324', FAR, 'ok'],
    [7280000, 'a00bc324', 7280000, 'ok'], // peer out of sync, knows Petersburg
    [7987396, 'a00bc324', 7280000, 'ok'],
    [7987396, '3edd5b10', 4370000, 'ok'], // peer far out of sync, knows its next fork
    [7279999, '668db0af', 0, 'ok'], // we are behind
    [4369999, 'a00bc324', 0, 'ok'],
    [7987396, 'a00bc324', 0, 'remote-stale'], // peer missed Petersburg: needs an update
    [7987396, stale5c, 0, 'local-incompatible-or-stale'],
    [7279999, stale5c, 0, 'local-incompatible-or-stale'],
    [7987396, 'afec6b27', 0, 'local-incompatible-or-stale'], // Rinkeby
    [88888888, '668db0af', 88888888, 'local-incompatible-or-stale'], // fork we passed without
    [7279999, 'a00bc324', 7279999, 'local-incompatible-or-stale'],
  ];
  for (const [head, hash, next, want] of cases) {
    const r = checkForkId(MAINNET, PETERSBURG, head, { hash, next });
    assert.equal(r.ok ? 'ok' : r.reason, want, `head ${head} remote ${hash}/${next}`);
    if (!r.ok) assert.ok(r.message.length > 0);
  }
});

const GENESIS = 'ab'.repeat(32);
const schedule: ScheduledUpgrade[] = [
  { version: '1.1.0', activation_height: 100, fork: 'hard', min_compatible_version: '1.1.0' },
  { version: '1.2.0', activation_height: 200, fork: 'soft', min_compatible_version: '1.1.0' },
  { version: '2.0.0', activation_height: 300, fork: 'hard', min_compatible_version: '2.0.0' },
];

test('dchat fork ids: versions are in the hash, soft forks are not, next is the next hard fork', () => {
  const forks = hardForks(schedule);
  assert.deepEqual(forks, [
    { height: 100, version: '1.1.0' },
    { height: 300, version: '2.0.0' },
  ]);
  const g = checksumHex(genesisChecksum(GENESIS));
  assert.deepEqual(forkIdOf(GENESIS, forks, 0), { hash: g, next: 100 });
  assert.deepEqual(forkIdOf(GENESIS, forks, 99), { hash: g, next: 100 });
  const at100 = forkIdOf(GENESIS, forks, 100);
  assert.equal(at100.next, 300);
  assert.notEqual(at100.hash, g);
  // The soft fork at 200 changes nothing.
  assert.deepEqual(forkIdOf(GENESIS, forks, 250), at100);
  // Another release at the same height is another fork.
  const other = forkIdOf(GENESIS, [{ height: 100, version: '1.1.1' }], 100);
  assert.notEqual(other.hash, at100.hash);
  // Another genesis is another chain, even with the same forks.
  assert.notEqual(forkIdOf('cd'.repeat(32), forks, 100).hash, at100.hash);
  // Vectors computed independently with Python's zlib.crc32 over the same bytes (genesis, then
  // uint64-BE height and UTF-8 version per fork): a change here is a change to the wire.
  assert.deepEqual(forkIdOf(GENESIS, forks, 0), { hash: 'd98acb08', next: 100 });
  assert.deepEqual(at100, { hash: '05b59239', next: 300 });
  assert.deepEqual(forkIdOf(GENESIS, forks, 300), { hash: '83298541', next: 0 });
});

test('after a hard fork height, a node without the upgrade is refused; before it, both talk', () => {
  const upgraded = hardForks(schedule);
  const legacy: ForkPoint[] = []; // never heard of the upgrade
  // Before the height: the legacy node's id equals ours, only `next` differs (it knows no fork).
  const legacyId = forkIdOf(GENESIS, legacy, 99);
  assert.equal(checkForkId(GENESIS, upgraded, 99, legacyId).ok, true);
  // At the height: we passed the fork; the legacy node is stale.
  const r = checkForkId(GENESIS, upgraded, 100, forkIdOf(GENESIS, legacy, 100));
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.reason, 'remote-stale');
  // The legacy node's view of us: our hash is not on its chain.
  const back = checkForkId(GENESIS, legacy, 100, forkIdOf(GENESIS, upgraded, 100));
  assert.equal(back.ok ? 'ok' : back.reason, 'local-incompatible-or-stale');
  // Two upgraded nodes agree at every height.
  for (const h of [0, 99, 100, 150, 299, 300, 1000])
    assert.equal(checkForkId(GENESIS, upgraded, h, forkIdOf(GENESIS, upgraded, h)).ok, true, `height ${h}`);
});

test('soft forks: versions at or above min_compatible_version keep talking', () => {
  assert.equal(checkPeerVersion(schedule, 50, '1.0.0'), undefined, 'nothing activated yet');
  assert.match(checkPeerVersion(schedule, 100, '1.0.0') ?? '', /below 1\.1\.0/);
  assert.equal(checkPeerVersion(schedule, 250, '1.1.0'), undefined, 'the soft fork keeps 1.1.0');
  assert.equal(checkPeerVersion(schedule, 250, '1.2.0'), undefined);
  assert.match(checkPeerVersion(schedule, 300, '1.2.0') ?? '', /below 2\.0\.0/);
  assert.match(checkPeerVersion(schedule, 300, 'x') ?? '', /not a version/);
});

test('a peer one block before the activation height on the old version is syncing, not refused', () => {
  const genesisHash = 'a'.repeat(64);
  const local = { networkId: 'n', genesisHash, upgrades: schedule.slice(0, 1), head: 100 };
  const before = forkIdOf(genesisHash, hardForks(schedule.slice(0, 1)), 99);
  // Its fork id names the coming fork (EIP-2124 rule 2) and it says it is at height 99.
  assert.equal(judgePeer(local, { network_id: 'n', fork: before, version: '1.0.0', height: 99 }), undefined);
  // Past the height on the old version: refused (soft-fork rule at its own height).
  const after = forkIdOf(genesisHash, hardForks(schedule.slice(0, 1)), 100);
  assert.equal(
    judgePeer(local, { network_id: 'n', fork: after, version: '1.0.0', height: 100 })?.code,
    'E_FORK_MISMATCH',
  );
  // No height said: judged at ours.
  assert.equal(
    judgePeer(local, { network_id: 'n', fork: before, version: '1.0.0' })?.code,
    'E_FORK_MISMATCH',
  );
});

test('a node back from being offline (it missed the approval) talks to upgraded peers until it catches up', () => {
  const genesisHash = 'c'.repeat(64);
  const upgrades = schedule.slice(0, 1); // the hard fork 1.1.0 at 100
  const upgraded = { networkId: 'n', genesisHash, upgrades, head: 130 };
  // It went down at height 40, before the proposal: it knows no fork and says height 40.
  const lateId = forkIdOf(genesisHash, [], 40);
  const late = { network_id: 'n', fork: lateId, version: '1.0.0', height: 40 };
  assert.equal(judgePeer(upgraded, late), undefined, 'the upgraded node hands it the certificate');
  // Its own view of the upgraded node: a fork it cannot place, from a peer ahead: it is catching up.
  const lateView = { networkId: 'n', genesisHash, upgrades: [], head: 40 };
  const up = {
    network_id: 'n',
    fork: forkIdOf(genesisHash, hardForks(upgrades), 130),
    version: '1.1.0',
    height: 130,
  };
  assert.equal(judgePeer(lateView, up), undefined);
  // Beacons first, certificate later: past the height without knowing the fork it is still behind.
  assert.equal(judgePeer({ ...lateView, head: 120 }, up), undefined);
  // Once it learned both and still runs 1.0.0 past the height: refused (the hard-fork version rule).
  const learned = forkIdOf(genesisHash, hardForks(upgrades), 128);
  assert.equal(
    judgePeer(upgraded, { network_id: 'n', fork: learned, version: '1.0.0', height: 128 })?.code,
    'E_FORK_MISMATCH',
  );
  // Switched to 1.1.0: talks.
  assert.equal(
    judgePeer(upgraded, { network_id: 'n', fork: learned, version: '1.1.0', height: 128 }),
    undefined,
  );
  // A node past the height that never learned the fork (the legacy node) is refused, as EIP-2124 says.
  const stale = forkIdOf(genesisHash, [], 120);
  assert.equal(
    judgePeer(upgraded, { network_id: 'n', fork: stale, version: '1.0.0', height: 120 })?.code,
    'E_FORK_MISMATCH',
  );
  // And one that says no height is judged at ours: refused.
  assert.equal(
    judgePeer(upgraded, { network_id: 'n', fork: lateId, version: '1.0.0' })?.code,
    'E_FORK_MISMATCH',
  );
  // A peer ahead of us on a hash we cannot place talks; one at or below our height does not.
  const other = { network_id: 'n', fork: { hash: '01234567', next: 0 }, version: '1.1.0' };
  assert.equal(
    catchingUp(genesisHash, [], 40, { ...other, height: 41 }, 'local-incompatible-or-stale'),
    true,
  );
  assert.equal(
    catchingUp(genesisHash, [], 40, { ...other, height: 40 }, 'local-incompatible-or-stale'),
    false,
  );
  assert.equal(
    catchingUp(genesisHash, [], 40, { ...other, height: null }, 'local-incompatible-or-stale'),
    false,
  );
});

test('property: fork knowledge learned late never cuts a node off, passing a fork unknown does', () => {
  const genesisHash = 'd'.repeat(64);
  const arb = fc.record({
    heights: fc.uniqueArray(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 5 }),
    known: fc.nat({ max: 5 }),
    local: fc.integer({ min: 0, max: 1100 }),
    peer: fc.integer({ min: 0, max: 1100 }),
  });
  fc.assert(
    fc.property(arb, ({ heights, known, local, peer }) => {
      const all = [...heights].sort((a, b) => a - b);
      // No min_compatible_version: only the fork ids are judged here.
      const ups = all.map((h, i) => ({
        version: `1.${i + 1}.0`,
        activation_height: h,
        fork: 'hard' as const,
      }));
      const k = Math.min(known, ups.length);
      const partial = ups.slice(0, k);
      const full = { networkId: 'n', genesisHash, upgrades: ups, head: local };
      const peerFull = {
        network_id: 'n',
        fork: forkIdOf(genesisHash, hardForks(ups), peer),
        version: '9.0.0',
        height: peer,
      };
      const peerPartial = { ...peerFull, fork: forkIdOf(genesisHash, hardForks(partial), peer) };
      // Same knowledge: always talk (EIP-2124).
      assert.equal(judgePeer(full, peerFull), undefined);
      const missed = all[k];
      if (missed === undefined) return;
      // The peer knows a prefix of the forks: it talks while it is below the first one it misses,
      // and is refused once it is past it (if we passed it too).
      if (peer < missed) assert.equal(judgePeer(full, peerPartial), undefined, 'a peer catching up');
      else if (local >= missed) assert.equal(judgePeer(full, peerPartial)?.code, 'E_FORK_MISMATCH');
      // We know only the prefix: a peer with everything, ahead of us, is talked to (we catch up).
      const ours = { ...full, upgrades: partial };
      if (peer > local) assert.equal(judgePeer(ours, peerFull), undefined, 'we are catching up');
    }),
    { numRuns: 500 },
  );
});

test('at the height, nodes still on the old version for their switch do not refuse each other; upgraded ones refuse them', () => {
  const genesisHash = 'e'.repeat(64);
  const upgrades = schedule.slice(0, 1); // hard fork 1.1.0 at 100, min_compatible_version 1.1.0
  const view = { networkId: 'n', genesisHash, upgrades, head: 100 };
  const fork = forkIdOf(genesisHash, hardForks(upgrades), 100);
  const old = { network_id: 'n', fork, version: '1.0.0', height: 100 };
  // A node itself on 1.0.0 (switching now, or left behind) keeps talking to 1.0.0 and newer peers.
  assert.equal(judgePeer(view, old, '1.0.0'), undefined);
  assert.equal(judgePeer(view, { ...old, version: '1.1.0' }, '1.0.0'), undefined);
  // ...but not to a peer below its own version.
  assert.equal(judgePeer(view, { ...old, version: '0.9.0' }, '1.0.0')?.code, 'E_FORK_MISMATCH');
  // A switched node refuses 1.0.0 past the height, as does a judge that does not say its version.
  assert.equal(judgePeer(view, old, '1.1.0')?.code, 'E_FORK_MISMATCH');
  assert.equal(judgePeer(view, old)?.code, 'E_FORK_MISMATCH');
  // A peer's garbage version is refused whatever ours.
  assert.equal(judgePeer(view, { ...old, version: 'x' }, '1.0.0')?.code, 'E_FORK_MISMATCH');
});
