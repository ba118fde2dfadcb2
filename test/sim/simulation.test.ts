import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DchatError } from '../../src/errors.ts';
import type { ProtocolReport } from '../../src/sim/metrics.ts';
import { resolveSimOptions } from '../../src/sim/options.ts';
import { formatReport } from '../../src/sim/report.ts';
import { buildReport, runSimulation, runSimulationPart, type SimReport } from '../../src/sim/run.ts';
import { escapeXml, renderSvg } from '../../src/sim/svg.ts';

function result(r: SimReport, protocol: 'ours' | 'flood'): ProtocolReport {
  const x = r.results.find((p) => p.protocol === protocol);
  assert.ok(x, `no ${protocol} result`);
  return x;
}

test('500 nodes, no faults: both protocols reach every node; ours with fewer messages, within D+2', () => {
  const r = runSimulation({ nodes: 500, seed: 3 });
  const ours = result(r, 'ours');
  const flood = result(r, 'flood');
  for (const p of [ours, flood]) {
    assert.equal(p.coverage, 1, `${p.protocol} coverage ${p.coverage}`);
    assert.equal(p.covered, 500);
    assert.ok(p.msTo999 !== null && p.msTo999 > 0 && p.msTo999 < 2000, `${p.protocol} 99.9% at ${p.msTo999}`);
    assert.ok(p.hopsTo999 !== null && p.hopsTo999 <= 10);
    assert.equal(p.byHop[p.byHop.length - 1], 1);
    assert.ok(
      p.curve.coverage.every((c, k) => k === 0 || c >= (p.curve.coverage[k - 1] as number)),
      'monotone',
    );
  }
  assert.ok(
    ours.messagesPerNode < flood.messagesPerNode,
    `${ours.messagesPerNode} vs ${flood.messagesPerNode}`,
  );
  assert.ok(ours.messagesPerNode <= 8, `ours sends ${ours.messagesPerNode} messages per node`);
  assert.ok(ours.bytesPerNode < flood.bytesPerNode);
  assert.equal(ours.stopReason, 'complete');
  assert.equal(flood.stopReason, 'drained');
  assert.equal(r.topology.components, 1);
});

test('the TTL bound limits coverage on a line: ttl 5 reaches the 6 nodes after the origin, no further', () => {
  const r = runSimulation({ nodes: 30, topology: 'line', ttl: 5, antiEntropy: false, seed: 1 });
  for (const p of r.results) {
    assert.equal(p.covered, 7, `${p.protocol} covered ${p.covered}`);
    assert.equal(p.maxHop, 6);
    assert.equal(p.hopsTo999, null);
  }
  // Anti-entropy is pull between direct peers, not bound by hops: ours covers the line in the end.
  const ae = runSimulation({
    nodes: 30,
    topology: 'line',
    ttl: 5,
    seed: 1,
    gossip: { antiEntropyMs: 500 },
    maxTimeMs: 60_000,
  });
  assert.equal(result(ae, 'ours').coverage, 1);
  assert.equal(result(ae, 'flood').covered, 7);
});

test('malicious nodes (30%, forging, replaying, spamming, swallowing) do not stop honest coverage', () => {
  const r = runSimulation({ nodes: 600, malicious: 0.3, seed: 5 });
  assert.equal(r.world.malicious, 180);
  const ours = result(r, 'ours');
  assert.equal(ours.honestNodes, 420);
  assert.equal(ours.coverage, 1);
  assert.ok(ours.rejected.invalid > 0, 'forgeries were seen and dropped');
  assert.ok(ours.rejected.tooLarge > 0);
  assert.ok(ours.rejected.disconnects > 0, 'attackers were disconnected');
  assert.ok(ours.rejected.replaysIgnored + ours.rejected.graylisted > 0);
  assert.ok(ours.attackerMessages > 0);
  const silent = runSimulation({
    nodes: 600,
    malicious: 0.3,
    maliciousMode: 'silent',
    seed: 5,
    protocols: ['ours'],
  });
  assert.equal(result(silent, 'ours').coverage, 1);
});

test('a partition heals by anti-entropy for ours; flooding leaves the far side behind', () => {
  const r = runSimulation({ nodes: 500, partition: 0.3, partitionMs: 5000, seed: 2 });
  assert.equal(r.world.partitioned, 150);
  const ours = result(r, 'ours');
  const flood = result(r, 'flood');
  assert.equal(ours.coverage, 1);
  assert.ok((ours.msTo999 as number) >= 5000, 'the far side is reached only after the heal');
  assert.ok(flood.coverage < 0.75, `flood ${flood.coverage}`);
});

test('churn: late joiners catch up by anti-entropy; flooding misses them', () => {
  const r = runSimulation({ nodes: 500, churn: 0.1, churnWindowMs: 5000, seed: 4 });
  assert.equal(r.world.lateJoiners, 50);
  assert.equal(result(r, 'ours').coverage, 1);
  assert.ok(result(r, 'flood').coverage < 1);
});

test('message loss is repaired by lazy gossip and anti-entropy', () => {
  const r = runSimulation({ nodes: 500, loss: 0.05, seed: 6, protocols: ['ours'] });
  const ours = result(r, 'ours');
  assert.equal(ours.coverage, 1);
  assert.ok(ours.lostMessages > 0);
});

test('deterministic: the same options give the same report; another seed another one', () => {
  const a = runSimulation({ nodes: 300, seed: 8, loss: 0.01 });
  const b = runSimulation({ nodes: 300, seed: 8, loss: 0.01 });
  assert.deepEqual(a, b);
  const c = runSimulation({ nodes: 300, seed: 9, loss: 0.01 });
  assert.notDeepEqual(a.results, c.results);
});

test('protocols run apart (as the CLI workers do) assemble into the same report', () => {
  const opts = { nodes: 300, seed: 12, malicious: 0.1 };
  const whole = runSimulation(opts);
  const parts = (['ours', 'flood'] as const).map((p) => runSimulationPart(opts, p));
  const first = parts[0];
  assert.ok(first);
  const joined = buildReport(
    resolveSimOptions(opts),
    first.summary,
    parts.map((p) => p.run),
  );
  assert.deepEqual(joined, whole);
});

test('report text and SVG', () => {
  const r = runSimulation({ nodes: 200, seed: 1 });
  const text = formatReport(r);
  assert.match(text, /200 nodes/);
  assert.match(text, /TTL flooding/);
  assert.match(text, /time to 99\.9%/);
  const svg = renderSvg(r);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.equal(svg.match(/<polyline /g)?.length, 4, 'two curves in each of two panels');
  assert.ok(!/NaN|undefined|Infinity/.test(svg));
  assert.equal(escapeXml('<a & "b">'), '&#60;a &#38; &#34;b&#34;&#62;');
});

test('options out of range are usage errors naming the option', () => {
  for (const bad of [{ nodes: 0 }, { nodes: 1.5 }, { malicious: 1 }, { loss: -0.1 }, { ttl: 300 }]) {
    assert.throws(
      () => resolveSimOptions(bad),
      (e: unknown) =>
        e instanceof DchatError &&
        e.code === 'E_USAGE' &&
        e.message.startsWith(Object.keys(bad)[0] as string),
    );
  }
});
