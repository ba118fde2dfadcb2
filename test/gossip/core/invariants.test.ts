/**
 * Property tests of the protocol's safety rules over random input sequences (fast-check drives
 * one node with connects, disconnects, genuine and forged announcements of random versions and
 * ttls, IHAVE/IWANT/WANT, digests and heartbeats), checked on every action the node emits:
 *  - an announcement that failed validation is never sent on;
 *  - ttl never grows: a copy goes out with at most (received ttl - 1), never above maxTtl;
 *  - dedupe: an accepted id is accepted once; each peer gets one pushed copy and one anti-entropy
 *    copy of it per connection at most;
 *  - versions only go up: each accepted release is above everything accepted or trusted before;
 *  - nothing is sent to a peer that is not connected.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { GossipAction } from '../../../src/gossip/core/actions.ts';
import { GOSSIP_FORMAT, type GossipMessage } from '../../../src/gossip/core/messages.ts';
import { compareVersions } from '../../../src/model/version.ts';
import { announcement, node, validate } from './fixtures.ts';

const PEERS = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'];
const VERSIONS = ['0.9.0', '1.0.0', '1.0.1', '1.1.0', '1.2.0', '2.0.0', '2.1.0'];
/** A small pool of ids, so that ids collide across valid and forged copies and across peers. */
const IDS = [
  '1f0e4a52-6b7c-4d8e-9f01-23456789abcd',
  '2a1b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
  '3b2c4d5e-6f70-4b8c-9dae-1f203a4b5c6d',
  '4c3d5e6f-7081-4c9d-aebf-20314b5c6d7e',
  '5d4e6f70-8192-4dae-bfc0-31425c6d7e8f',
];

type Step =
  | { k: 'connect'; peer: number; inbound: boolean }
  | { k: 'disconnect'; peer: number }
  | { k: 'announce'; peer: number; id: number; version: number; ttl: number; valid: boolean; bundle: boolean }
  | { k: 'ihave'; peer: number; id: number; version: number }
  | { k: 'iwant'; peer: number; id: number; want: boolean }
  | { k: 'digest'; peer: number; id: number; version: number; reply: boolean }
  | { k: 'publish'; id: number; version: number; ttl: number }
  | { k: 'tick'; ms: number };

const peer = fc.integer({ min: 0, max: PEERS.length - 1 });
const id = fc.integer({ min: 0, max: IDS.length - 1 });
const version = fc.integer({ min: 0, max: VERSIONS.length - 1 });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('connect' as const), peer, inbound: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('disconnect' as const), peer }) },
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('announce' as const),
      peer,
      id,
      version,
      ttl: fc.integer({ min: 0, max: 255 }),
      valid: fc.boolean(),
      bundle: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('ihave' as const), peer, id, version }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('iwant' as const), peer, id, want: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant('digest' as const), peer, id, version, reply: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('publish' as const),
      id,
      version,
      ttl: fc.integer({ min: 0, max: 64 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 4000 }) }),
  },
);

test('property: invalid never relayed, ttl never grows, dedupe holds, versions only rise, no send to strangers', () => {
  fc.assert(
    fc.property(
      fc.array(stepArb, { minLength: 1, maxLength: 80 }),
      fc.integer({ min: 0, max: 1000 }),
      (steps, seed) => {
        const n = node({ meshDegree: 3, meshDegreeLow: 2, meshDegreeHigh: 4, antiEntropyMs: 2500 }, seed);
        const maxTtl = n.config.maxTtl;
        let now = 0;
        const connected = new Set<string>();
        /** Budget of ttl for copies of each accepted id. */
        const budget = new Map<string, number>();
        const acceptedIds = new Set<string>();
        let highest = '1.0.0';
        /** (peer, id) pairs served per connection, by kind. */
        const pushed = new Set<string>();
        const bundled = new Set<string>();

        const check = (actions: readonly GossipAction<string>[]) => {
          for (const a of actions) {
            if (a.type === 'accepted') {
              const an = a.announcement;
              assert.ok(validate(an).ok, 'only valid releases are accepted');
              assert.ok(!acceptedIds.has(an.id), 'an id is accepted once');
              assert.ok(compareVersions(an.version, highest) > 0, `${an.version} must be above ${highest}`);
              highest = an.version;
              acceptedIds.add(an.id);
              budget.set(an.id, a.via === 'local' ? Math.min(an.ttl, maxTtl) : Math.min(an.ttl, maxTtl) - 1);
            } else if (a.type === 'disconnect') {
              connected.delete(a.peer);
              forget(a.peer);
            } else if (a.type === 'send') {
              assert.ok(connected.has(a.to), `send to ${a.to}, which is not connected`);
              const m = a.message;
              if ((m.type !== 'announce' && m.type !== 'bundle') || m.kind !== 'release') continue;
              const an = m.announcement;
              assert.ok(validate(an).ok, 'an invalid announcement was sent on');
              assert.ok(acceptedIds.has(an.id), 'only accepted releases are sent on');
              const limit = Math.max(0, budget.get(an.id) as number);
              assert.ok(an.ttl <= limit, `ttl ${an.ttl} above the budget ${limit}`);
              assert.ok(an.ttl <= maxTtl);
              if (m.type === 'announce')
                assert.ok((budget.get(an.id) as number) >= 0, 'pushed past the hop bound');
              const key = `${a.to}/${an.id}`;
              const seen = m.type === 'announce' ? pushed : bundled;
              assert.ok(!seen.has(key), `${m.type} of ${an.id} sent twice to ${a.to}`);
              seen.add(key);
            }
          }
        };
        const forget = (p: string) => {
          for (const set of [pushed, bundled])
            for (const k of [...set]) if (k.startsWith(`${p}/`)) set.delete(k);
        };

        for (const s of steps) {
          const p = 'peer' in s ? (PEERS[s.peer] as string) : '';
          switch (s.k) {
            case 'connect':
              if (!n.isBanned(p, now)) connected.add(p);
              n.connected(now, p, s.inbound ? 'inbound' : 'outbound');
              break;
            case 'disconnect':
              connected.delete(p);
              forget(p);
              n.disconnected(now, p);
              break;
            case 'announce': {
              const a = announcement(VERSIONS[s.version] as string, s.ttl, { id: IDS[s.id], valid: s.valid });
              const m: GossipMessage = {
                format: GOSSIP_FORMAT,
                type: s.bundle ? 'bundle' : 'announce',
                kind: 'release',
                announcement: a,
              };
              n.receive(now, p, m, 600);
              break;
            }
            case 'ihave':
              n.receive(
                now,
                p,
                {
                  format: GOSSIP_FORMAT,
                  type: 'ihave',
                  items: [{ id: IDS[s.id] as string, version: VERSIONS[s.version] as string }],
                },
                80,
              );
              break;
            case 'iwant':
              n.receive(
                now,
                p,
                { format: GOSSIP_FORMAT, type: s.want ? 'want' : 'iwant', ids: [IDS[s.id] as string] },
                80,
              );
              break;
            case 'digest':
              n.receive(
                now,
                p,
                {
                  format: GOSSIP_FORMAT,
                  type: 'digest',
                  reply: s.reply,
                  digest: { releases: [{ id: IDS[s.id] as string, version: VERSIONS[s.version] as string }] },
                },
                80,
              );
              break;
            case 'publish':
              n.publish(now, announcement(VERSIONS[s.version] as string, s.ttl, { id: IDS[s.id] }));
              break;
            case 'tick':
              now += s.ms;
              while (n.pollTimeout() <= now) n.timeout(n.pollTimeout());
              break;
          }
          check(n.drain());
        }
      },
    ),
    { numRuns: 1000 },
  );
});
