/**
 * The hop rule that ships (gossip/core/node.ts, run by the node over /dchat/gossip/1 and by the
 * simulator), as a property over random connected graphs, origins and TTLs, pumped in memory with
 * equal link delays (so the first copy a node gets came along a shortest path):
 *  - flooding (the seed's protocol) reaches exactly the nodes within TTL+1 hops of the origin;
 *  - our mesh protocol reaches no node beyond TTL+1 hops, and no node sooner than its distance;
 *  - every copy a node passes on carries the ttl it accepted minus one, and a node that accepted
 *    ttl 0 passes nothing on (neither pushed nor answered to IWANT).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { announcement, node, Pump } from './fixtures.ts';

interface Case {
  n: number;
  /** parent[i] links node i+1 to an earlier node: a random spanning tree, so the graph is connected. */
  parent: number[];
  extra: [number, number][];
  origin: number;
  ttl: number;
  mode: 'mesh' | 'flood';
}

const caseArb: fc.Arbitrary<Case> = fc.integer({ min: 2, max: 14 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    parent: fc.tuple(...Array.from({ length: n - 1 }, (_, i) => fc.integer({ min: 0, max: i }))),
    extra: fc.array(fc.tuple(fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 0, max: n - 1 })), {
      maxLength: 2 * n,
    }),
    origin: fc.integer({ min: 0, max: n - 1 }),
    ttl: fc.integer({ min: 0, max: 6 }),
    mode: fc.constantFrom('mesh' as const, 'flood' as const),
  }),
);

function distances(n: number, edges: Set<string>, origin: number): number[] {
  const adj: number[][] = Array.from({ length: n }, () => []);
  for (const e of edges) {
    const [a, b] = e.split('-').map(Number) as [number, number];
    adj[a]?.push(b);
    adj[b]?.push(a);
  }
  const d = new Array<number>(n).fill(Number.POSITIVE_INFINITY);
  d[origin] = 0;
  const q = [origin];
  for (let k = 0; k < q.length; k++) {
    const u = q[k] as number;
    for (const v of adj[u] ?? []) {
      if (d[v] !== Number.POSITIVE_INFINITY) continue;
      d[v] = (d[u] as number) + 1;
      q.push(v);
    }
  }
  return d;
}

test('property: the hop rule bounds the spread to TTL+1 hops (exactly so when flooding) and ttl drops by one per hop', () => {
  fc.assert(
    fc.property(caseArb, (c) => {
      const edges = new Set<string>();
      const add = (a: number, b: number) => {
        if (a !== b) edges.add(a < b ? `${a}-${b}` : `${b}-${a}`);
      };
      for (const [i, p] of c.parent.entries()) add(p, i + 1);
      for (const [a, b] of c.extra) add(a, b);
      const net = new Pump(10);
      for (let i = 0; i < c.n; i++) net.add(`n${i}`, node({ mode: c.mode, antiEntropyMs: 0 }, i + 1));
      for (const e of edges) {
        const [a, b] = e.split('-');
        net.connect(`n${a}`, `n${b}`);
      }
      net.run(5000);
      const a = announcement('1.1.0', c.ttl);
      const t0 = net.now;
      net.publish(`n${c.origin}`, a);
      net.run(t0 + 60_000);

      const dist = distances(c.n, edges, c.origin);
      // The ttl each node accepted: that of the first copy delivered to it.
      const acceptedTtl = new Map<string, number>();
      for (const m of net.log)
        if (
          m.at >= t0 &&
          (m.message.type === 'announce' || m.message.type === 'bundle') &&
          m.message.kind === 'release'
        )
          if (!acceptedTtl.has(m.to)) acceptedTtl.set(m.to, m.message.announcement.ttl);
      for (let i = 0; i < c.n; i++) {
        if (i === c.origin) continue;
        const id = `n${i}`;
        const d = dist[i] as number;
        const got = acceptedTtl.get(id);
        if (c.mode === 'flood') assert.equal(got !== undefined, d <= c.ttl + 1, `n${i} at distance ${d}`);
        if (got === undefined) {
          assert.ok(!net.accepted.has(id));
          continue;
        }
        const hops = c.ttl - got + 1;
        assert.ok(hops >= d && hops <= c.ttl + 1, `n${i}: ${hops} hops at distance ${d}, ttl ${c.ttl}`);
      }
      // Every copy passed on carries the sender's accepted ttl minus one; none from a ttl-0 node.
      for (const m of net.log) {
        if (m.at < t0 || m.message.type !== 'announce' || m.message.kind !== 'release') continue;
        if (m.from === `n${c.origin}`) {
          assert.equal(m.message.announcement.ttl, c.ttl);
          continue;
        }
        const mine = acceptedTtl.get(m.from);
        assert.ok(mine !== undefined && mine >= 1, `${m.from} passed on a copy after accepting ttl ${mine}`);
        assert.equal(m.message.announcement.ttl, mine - 1);
      }
    }),
    { numRuns: 150 },
  );
});
