/**
 * Fork rules on real libp2p nodes (TCP, noise, yamux on loopback) with /dchat/hello/1: before a
 * hard fork's height everybody talks; once the height passes, a node that never learned the
 * upgrade is refused (log line, counter, hang-up, and the gater keeps it out), while upgraded
 * peers stay connected. Soft forks: a peer at or above min_compatible_version keeps talking, one
 * below is refused, and the fork id does not change. A node back from being offline after the
 * height, which never heard of the upgrade, is talked to (it catches up), then refused while it
 * still runs the old version once it knows.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { BanList } from '../../../src/gossip/libp2p/bans.ts';
import { ForkGuard } from '../../../src/gossip/libp2p/fork-guard.ts';
import type { ForkView, ScheduledUpgrade } from '../../../src/governance/fork-id.ts';
import { createNodeLibp2p, type DchatLibp2p } from '../../../src/node/libp2p.ts';

const GENESIS = '42'.repeat(32);
const HARD: ScheduledUpgrade[] = [
  { version: '1.1.0', activation_height: 10, fork: 'hard', min_compatible_version: '1.1.0' },
];
const SOFT: ScheduledUpgrade[] = [
  { version: '1.0.5', activation_height: 10, fork: 'soft', min_compatible_version: '1.0.5' },
];

interface Peer {
  name: string;
  node: DchatLibp2p;
  guard: ForkGuard;
  bans: BanList;
  logs: string[];
  view: ForkView;
}

const started: Peer[] = [];
after(async () => {
  for (const p of started) {
    await p.guard.stop();
    await p.node.stop();
  }
});

async function peer(name: string, upgrades: ScheduledUpgrade[], version: string): Promise<Peer> {
  const bans = new BanList();
  const node = await createNodeLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bans,
  });
  const p: Peer = {
    name,
    node,
    bans,
    logs: [],
    view: { networkId: 'forknet', genesisHash: GENESIS, upgrades, head: 5 },
    guard: undefined as unknown as ForkGuard,
  };
  p.guard = new ForkGuard(node, {
    view: () => p.view,
    version,
    bans,
    refuseMs: 60_000,
    onLog: (level, msg) => {
      if (level !== 'debug') p.logs.push(msg);
    },
  });
  await p.guard.start();
  started.push(p);
  return p;
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const connected = (a: Peer, b: Peer) => a.node.getPeers().some((p) => p.equals(b.node.peerId));
const knows = (a: Peer, b: Peer) => b.node.peerId.toString() in a.guard.status().peers;

test('hard fork: after the height the node without the upgrade is refused, upgraded peers keep talking', async () => {
  const a = await peer('upgraded-a', HARD, '1.1.0');
  const b = await peer('upgraded-b', HARD, '1.1.0');
  const legacy = await peer('legacy', [], '1.0.0');
  await b.node.dial(a.node.getMultiaddrs()[0]!);
  await legacy.node.dial(a.node.getMultiaddrs()[0]!);
  await until(() => knows(a, b) && knows(a, legacy) && knows(legacy, a), 'hellos before the fork');
  assert.equal(a.guard.refused + b.guard.refused + legacy.guard.refused, 0, 'before the height all talk');
  assert.equal(a.guard.status().fork_id?.next, 10, 'the upgraded node announces the next fork');
  assert.equal(legacy.guard.status().fork_id?.next, 0);

  // The height passes on every node (beacons); the upgraded nodes' fork id changes.
  for (const p of [a, b, legacy]) p.view = { ...p.view, head: 10 };
  await until(() => a.guard.refused >= 1 && !connected(a, legacy), 'the legacy node refused');
  assert.equal(a.guard.lastRefusal?.peer, legacy.node.peerId.toString());
  assert.equal(a.guard.lastRefusal?.code, 'E_FORK_MISMATCH');
  assert.match(a.guard.lastRefusal?.reason ?? '', /remote-stale/);
  assert.ok(
    a.logs.some((l) => /refusing peer on another fork/.test(l)),
    a.logs.join('\n'),
  );
  // The legacy node sees it too (from its side the upgraded chain is not its own).
  await until(() => legacy.guard.refused >= 1, 'the legacy node refuses back');
  assert.match(legacy.guard.lastRefusal?.reason ?? '', /local-incompatible-or-stale/);
  // Upgraded peers stay connected and agree.
  await new Promise((r) => setTimeout(r, 700));
  assert.ok(connected(a, b), 'upgraded peers still connected');
  assert.equal(b.guard.refused, 0);
  assert.notEqual(a.guard.status().fork_id?.hash, legacy.guard.status().fork_id?.hash);
  // The gater keeps the legacy node out while its refusal lasts.
  await assert.rejects(legacy.node.dial(a.node.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5000) }));
  assert.ok(!connected(a, legacy));
});

test('a node back after the height, that missed the approval, is talked to until it learns the fork', async () => {
  const a = await peer('upgraded-late-a', HARD, '1.1.0');
  a.view = { ...a.view, head: 20 };
  // Down since height 5 (its saved beacon tip): it knows no fork and says height 5.
  const late = await peer('late', [], '1.0.0');
  await late.node.dial(a.node.getMultiaddrs()[0]!);
  await until(() => knows(a, late) && knows(late, a), 'hellos with the returning node');
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(a.guard.refused + late.guard.refused, 0, 'neither side refuses: it is catching up');
  assert.ok(connected(a, late));
  // Anti-entropy brings it the certificate and the beacons; still on 1.0.0 past the height, its
  // new fork id makes it say hello again, and the upgraded node now refuses it (until it switches).
  late.view = { ...late.view, upgrades: HARD, head: 20 };
  await until(() => a.guard.refused >= 1 && !connected(a, late), 'refused once it knows and did not switch');
  assert.match(a.guard.lastRefusal?.reason ?? '', /below 1\.1\.0/);
});

test('soft fork: versions at or above min_compatible_version keep talking, older ones are refused', async () => {
  const a = await peer('soft-a', SOFT, '1.0.5');
  const ok = await peer('soft-compatible', SOFT, '1.0.5');
  const old = await peer('soft-old', SOFT, '1.0.0');
  for (const p of [a, ok, old]) p.view = { ...p.view, head: 12 };
  await ok.node.dial(a.node.getMultiaddrs()[0]!);
  await old.node.dial(a.node.getMultiaddrs()[0]!);
  await until(() => a.guard.refused >= 1, 'the old version refused');
  assert.equal(a.guard.lastRefusal?.peer, old.node.peerId.toString());
  assert.match(a.guard.lastRefusal?.reason ?? '', /below 1\.0\.5/);
  await until(() => !connected(a, old), 'old peer hung up');
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(connected(a, ok), 'the compatible version keeps talking');
  // Same fork id on all three: a soft fork is not in the hash.
  assert.equal(a.guard.status().fork_id?.hash, old.guard.status().fork_id?.hash);
});
