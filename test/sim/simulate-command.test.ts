import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  parseSimulateFlags,
  runSimulateCommand,
  runSimulationInWorkers,
} from '../../src/cli/commands/simulate.ts';
import { DchatError } from '../../src/errors.ts';
import { runSimulation } from '../../src/sim/run.ts';

function capture(json: boolean) {
  const lines: string[] = [];
  const docs: unknown[] = [];
  return {
    out: { line: (s: string) => lines.push(s), result: (d: unknown) => docs.push(d), json },
    lines,
    docs,
  };
}

test('flags: values in every accepted spelling', () => {
  const o = parseSimulateFlags({
    nodes: '2000',
    malicious: '10%',
    loss: '0.01',
    churn: '0.05',
    churnWindow: '5s',
    partition: '0.3',
    partitionMs: '2m',
    ttl: '7',
    degree: '6-9',
    protocol: 'ours',
    seed: '42',
    maxTime: '500ms',
    antiEntropy: false,
    uniformLatency: true,
  });
  assert.equal(o.nodes, 2000);
  assert.equal(o.malicious, 0.1);
  assert.equal(o.loss, 0.01);
  assert.equal(o.churnWindowMs, 5000);
  assert.equal(o.partitionMs, 120_000);
  assert.equal(o.ttl, 7);
  assert.deepEqual([o.minDegree, o.maxDegree], [6, 9]);
  assert.deepEqual(o.protocols, ['ours']);
  assert.equal(o.seed, 42);
  assert.equal(o.maxTimeMs, 500);
  assert.equal(o.antiEntropy, false);
  assert.equal(o.link?.distanceLatencyMs, 0);
  assert.deepEqual(parseSimulateFlags({}).protocols, ['ours', 'flood']);
  assert.equal(parseSimulateFlags({}).nodes, 10_000);
});

test('flags: a bad value is a usage error that names its flag', () => {
  const cases: [Record<string, string | boolean>, string][] = [
    [{ nodes: '0' }, '--nodes'],
    [{ nodes: '1000001' }, '--nodes'],
    [{ nodes: 'ten' }, '--nodes'],
    [{ nodes: true }, '--nodes'],
    [{ malicious: '0.99' }, '--malicious'],
    [{ loss: '-1' }, '--loss'],
    [{ partitionMs: 'soon' }, '--partition-ms'],
    [{ degree: '12-8' }, '--degree'],
    [{ protocol: 'carrier-pigeon' }, '--protocol'],
    [{ topology: 'torus' }, '--topology'],
  ];
  for (const [flags, name] of cases) {
    assert.throws(
      () => parseSimulateFlags(flags),
      (e: unknown) =>
        e instanceof DchatError &&
        e.code === 'E_USAGE' &&
        e.exitCode === 2 &&
        e.message.startsWith(`${name}:`),
      JSON.stringify(flags),
    );
  }
  assert.throws(() => parseSimulateFlags({ nodes: '0' }), /--nodes: must be an integer 1\.\.1000000/);
});

test('the command prints the comparison, writes the SVG and gives the report as JSON', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dchat-sim-'));
  try {
    const human = capture(false);
    assert.equal(
      await runSimulateCommand({ nodes: '300', seed: '2', out: 'plot.svg' }, human.out, { cwd: dir }),
      0,
    );
    const text = human.lines.join('\n');
    assert.match(text, /300 nodes/);
    assert.match(text, /plot: .*plot\.svg/);
    const svg = await readFile(join(dir, 'plot.svg'), 'utf8');
    assert.ok(svg.startsWith('<svg'));
    const machine = capture(true);
    assert.equal(
      await runSimulateCommand({ nodes: '300', seed: '2', json: true }, machine.out, { cwd: dir }),
      0,
    );
    const doc = machine.docs[0] as {
      format: string;
      results: { protocol: string; coverage: number }[];
      wallMs: number;
    };
    assert.equal(doc.format, 'dchat.sim-report/1');
    assert.deepEqual(
      doc.results.map((r) => [r.protocol, r.coverage]),
      [
        ['ours', 1],
        ['flood', 1],
      ],
    );
    assert.ok(doc.wallMs >= 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('worker threads, one per protocol, give the same report as one thread', async () => {
  const opts = { nodes: 400, seed: 21, loss: 0.02 };
  const parallel = await runSimulationInWorkers(opts);
  assert.deepEqual(parallel, runSimulation(opts));
});

test('--ttl-sweep adds what the hop bound costs; a bad range is a usage error before any work', async () => {
  const machine = capture(true);
  assert.equal(
    await runSimulateCommand({ nodes: '40', topology: 'line', ttlSweep: '2-4', json: true }, machine.out),
    0,
  );
  const doc = machine.docs[0] as { ttlSweep: { ttl: number; coverage: { ours: number; flood: number } }[] };
  // On a line from node 0, ttl t reaches nodes 0..t+1.
  assert.deepEqual(
    doc.ttlSweep.map((r) => [r.ttl, r.coverage.ours, r.coverage.flood]),
    [
      [2, 4 / 40, 4 / 40],
      [3, 5 / 40, 5 / 40],
      [4, 6 / 40, 6 / 40],
    ],
  );
  const bad = capture(false);
  await assert.rejects(
    runSimulateCommand({ nodes: '40', ttlSweep: '9-3' }, bad.out),
    (e: unknown) => e instanceof DchatError && e.code === 'E_USAGE' && e.message.startsWith('--ttl-sweep:'),
  );
  assert.deepEqual(bad.lines, []);
});
