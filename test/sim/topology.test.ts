import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/gossip/core/rng.ts';
import {
  degreeStats,
  lineTopology,
  neighborsOf,
  randomTopology,
  ringTopology,
} from '../../src/sim/topology.ts';

test('random topology: symmetric, no self or double links, degrees around the asked range, connected', () => {
  const t = randomTopology(3000, 8, 12, new Rng(3));
  const edges = new Set<string>();
  for (let i = 0; i < t.n; i++) {
    const nb = [...neighborsOf(t, i)];
    assert.equal(new Set(nb).size, nb.length, `node ${i} has a double link`);
    for (const j of nb) {
      assert.notEqual(i, j);
      assert.ok([...neighborsOf(t, j)].includes(i), `${i}-${j} is not symmetric`);
      edges.add(i < j ? `${i}-${j}` : `${j}-${i}`);
    }
  }
  const s = degreeStats(t);
  assert.equal(s.edges, edges.size);
  assert.equal(s.components, 1);
  assert.ok(s.max <= 13, `max degree ${s.max}`);
  assert.ok(s.mean >= 9 && s.mean <= 11, `mean degree ${s.mean}`);
  let inRange = 0;
  for (let i = 0; i < t.n; i++) {
    const d = neighborsOf(t, i).length;
    if (d >= 8 && d <= 12) inRange++;
  }
  assert.ok(inRange / t.n > 0.95, `${inRange} of ${t.n} in 8..12`);
});

test('random topology is a function of the seed', () => {
  const a = randomTopology(500, 8, 12, new Rng(9));
  const b = randomTopology(500, 8, 12, new Rng(9));
  const c = randomTopology(500, 8, 12, new Rng(10));
  assert.deepEqual(a.neighbors, b.neighbors);
  assert.notDeepEqual(a.neighbors, c.neighbors);
});

test('line and ring', () => {
  const l = lineTopology(5);
  assert.deepEqual([...neighborsOf(l, 0)], [1]);
  assert.deepEqual([...neighborsOf(l, 2)].sort(), [1, 3]);
  assert.equal(degreeStats(l).edges, 4);
  const r = ringTopology(5);
  assert.deepEqual([...neighborsOf(r, 0)].sort(), [1, 4]);
  assert.equal(degreeStats(r).edges, 5);
  assert.equal(degreeStats(randomTopology(1, 8, 12, new Rng(1))).edges, 0);
});
