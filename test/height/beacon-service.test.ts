/**
 * Height beacons over the real gossip core (kind `beacon`), in virtual time: validators sign a
 * beacon every block interval, every node accepts the same height once 2/3 of stake agree, a node
 * that joins late catches up by anti-entropy (the certified tip is in every digest), and a
 * validator set below 2/3 online makes no height at all. Nodes are BeaconService + GossipNode
 * pairs wired as the daemon wires them (validateObject -> validate, 'object' -> accepted).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GossipNode } from '../../src/gossip/core/index.ts';
import type { GossipMessage } from '../../src/gossip/core/messages.ts';
import { BeaconService } from '../../src/height/beacon-service.ts';
import type { SignedBeacon } from '../../src/model/beacon.ts';
import { PARAMS, setOf, type TestValidator, validators } from '../governance/beacon-fixtures.ts';

const BLOCK = PARAMS.blockIntervalMs;

interface Member {
  id: string;
  core: GossipNode<string>;
  beacons: BeaconService;
}

/** A network of gossip cores with beacon services; messages take `delay` ms. */
class Net {
  now = PARAMS.genesisTimeMs;
  /** Validators sign at block boundaries while this is true. */
  signing = true;
  readonly members = new Map<string, Member>();
  private queue: { at: number; from: string; to: string; m: GossipMessage }[] = [];
  private readonly links = new Set<string>();

  async add(id: string, vs: TestValidator[], signer?: TestValidator, dir?: string): Promise<Member> {
    const set = setOf(vs);
    const beacons = await BeaconService.create({
      params: PARAMS,
      validators: set,
      ...(signer ? { signer: { privateKey: signer.key, publicKeyHex: signer.id } } : {}),
      ...(dir ? { dir } : {}),
      now: () => this.now,
    });
    const core = new GossipNode<string>({
      now: this.now,
      validate: () => ({ ok: false, code: 'E_UNSUPPORTED' }),
      validateObject: (kind, oid, o) =>
        kind === 'beacon' ? beacons.validate(oid, o as SignedBeacon) : { ok: false, code: 'E_UNSUPPORTED' },
      seed: this.members.size + 1,
    });
    const m = { id, core, beacons };
    this.members.set(id, m);
    beacons.attach({
      offerObject: (kind, oid, object, ttl) => {
        const r =
          ttl === undefined
            ? core.adoptObject(this.now, kind, oid, object)
            : core.publishObject(this.now, kind, oid, object, ttl);
        this.flush(id);
        return r;
      },
    });
    return m;
  }

  connect(a: string, b: string): void {
    this.links.add(`${a}|${b}`);
    this.get(a).core.connected(this.now, b, 'outbound');
    this.get(b).core.connected(this.now, a, 'inbound');
    this.flush(a);
    this.flush(b);
  }

  get(id: string): Member {
    return this.members.get(id) as Member;
  }

  /** Runs to `until`: deliveries, core timers, and every validator's tick at block boundaries. */
  async run(until: number): Promise<void> {
    for (;;) {
      const nextMsg = this.queue[0]?.at ?? Number.POSITIVE_INFINITY;
      let nextTimer = Number.POSITIVE_INFINITY;
      let timerNode: string | undefined;
      for (const [id, m] of this.members) {
        const t = m.core.pollTimeout();
        if (t < nextTimer) [nextTimer, timerNode] = [t, id];
      }
      const nextBlock =
        PARAMS.genesisTimeMs + (Math.floor((this.now - PARAMS.genesisTimeMs) / BLOCK) + 1) * BLOCK;
      const t = Math.min(nextMsg, nextTimer, nextBlock);
      if (t > until) break;
      this.now = Math.max(this.now, t);
      if (t === nextMsg) {
        const q = this.queue.shift() as { from: string; to: string; m: GossipMessage };
        this.get(q.to).core.receive(this.now, q.from, q.m, 100);
        this.flush(q.to);
      } else if (t === nextTimer && timerNode) {
        this.get(timerNode).core.timeout(this.now);
        this.flush(timerNode);
      } else if (this.signing) for (const m of this.members.values()) m.beacons.tick(this.now);
      await Promise.resolve(); // the services' queued adopt of a certificate
    }
    this.now = Math.max(this.now, until);
  }

  private flush(id: string): void {
    const m = this.get(id);
    for (let a = m.core.poll(); a !== undefined; a = m.core.poll()) {
      if (a.type === 'send') {
        if (this.links.has(`${id}|${a.to}`) || this.links.has(`${a.to}|${id}`))
          this.queue.push({ at: this.now + 20, from: id, to: a.to, m: a.message });
      } else if (a.type === 'object' && a.kind === 'beacon')
        m.beacons.accepted(a.object as SignedBeacon, a.proof);
    }
    this.queue.sort((x, y) => x.at - y.at);
  }
}

test('validators make a height every block; all nodes agree; a late node catches up by anti-entropy', async () => {
  const vs = validators([10, 10, 10, 10]);
  const net = new Net();
  const dir = await mkdtemp(join(tmpdir(), 'dchat-beacon-'));
  try {
    for (const [i, v] of vs.entries()) await net.add(`v${i}`, vs, v);
    await net.add('relay', vs, undefined, dir);
    await net.add('user', vs);
    // A line with a ring of validators: v0-v1-v2-v3-v0, relay on v3, user behind the relay.
    for (const [a, b] of [
      ['v0', 'v1'],
      ['v1', 'v2'],
      ['v2', 'v3'],
      ['v3', 'v0'],
      ['relay', 'v3'],
      ['user', 'relay'],
    ])
      net.connect(a as string, b as string);
    await net.run(PARAMS.genesisTimeMs + 10 * BLOCK + 500);
    for (const m of net.members.values()) assert.ok((m.beacons.current()?.height ?? 0) >= 9, m.id);
    // Validators pause: within an anti-entropy period every node ends on the very same beacon.
    net.signing = false;
    await net.run(PARAMS.genesisTimeMs + 10 * BLOCK + 25_000);
    const tips = new Set(
      [...net.members.values()].map((m) => `${m.beacons.current()?.height}/${m.beacons.book.tip()?.hash}`),
    );
    assert.equal(tips.size, 1, `one tip everywhere: ${[...tips]}`);
    assert.deepEqual(net.get('user').beacons.current(), {
      height: 10,
      time_ms: PARAMS.genesisTimeMs + 10 * BLOCK,
    });
    net.signing = true;
    assert.ok(net.get('v0').beacons.status().signed >= 10);

    // The relay saved its tip: a restart knows the height before any peer speaks.
    await net.get('relay').beacons.stop();
    const saved = JSON.parse(await readFile(join(dir, 'beacon-tip.json'), 'utf8')) as SignedBeacon;
    assert.ok(saved.height >= 9);
    const again = await BeaconService.create({ params: PARAMS, validators: setOf(vs), dir });
    assert.equal(again.current()?.height, saved.height);

    // A node that joins at block 40 gets the height from one certified beacon, not 40 rounds.
    await net.run(PARAMS.genesisTimeMs + 40 * BLOCK + 100);
    const late = await net.add('late', vs);
    net.connect('late', 'user');
    await net.run(PARAMS.genesisTimeMs + 40 * BLOCK + 600);
    // Its one peer is the user node; it must hold what the user holds (the same tip), which is
    // the network's height or, while a block's last beacons are still on their way, one below.
    const user = net.get('user').beacons;
    assert.equal(late.beacons.book.tip()?.hash, user.book.tip()?.hash, 'the late node has its peer tip');
    assert.ok((net.get('v0').beacons.current()?.height ?? 0) - (user.current()?.height ?? 0) <= 1);
    assert.ok((late.beacons.current()?.height ?? 0) >= 39, 'one certified beacon, not 40 rounds');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('validators holding less than 2/3 of stake online make no height', async () => {
  const vs = validators([10, 10, 10, 10]);
  const net = new Net();
  // Only two of four validators run (20 of 40): below 2/3.
  await net.add('v0', vs, vs[0]);
  await net.add('v1', vs, vs[1]);
  await net.add('user', vs);
  net.connect('v0', 'v1');
  net.connect('user', 'v1');
  await net.run(PARAMS.genesisTimeMs + 8 * BLOCK);
  for (const m of net.members.values()) assert.equal(m.beacons.current(), null, m.id);
  assert.ok(net.get('v0').beacons.status().signed >= 7, 'they did sign');
  // A third validator comes up (30 of 40 >= 2/3): heights follow.
  await net.add('v2', vs, vs[2]);
  net.connect('v2', 'v0');
  await net.run(PARAMS.genesisTimeMs + 12 * BLOCK + 500);
  for (const m of net.members.values()) assert.ok((m.beacons.current()?.height ?? 0) >= 11, m.id);
});
