/**
 * Swarm mode of the simulator (src/sim/swarm.ts): the Kumar-Ross bound itself, runs of the real
 * download machine on small swarms (everyone ends verified, never faster than the bound, close to
 * it), and the `dchat-test simulate --swarm` command with its plot.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runSimulateCommand } from '../../src/cli/commands/simulate.ts';
import { DchatError } from '../../src/errors.ts';
import { DEFAULT_SWARM, drawRates, kumarRoss, runSwarm } from '../../src/sim/swarm.ts';

const MB = 1e6;

test('Kumar-Ross: the largest of seed, slowest download and total upload', () => {
  // 100 MB: seed 10 MB/s -> 10 s; slowest download 5 MB/s -> 20 s; 4 nodes, upload 10+4*5 -> 13.3 s.
  assert.deepEqual(
    kumarRoss(100 * MB, 10 * MB, [5 * MB, 5 * MB, 5 * MB, 5 * MB], [50 * MB, 5 * MB, 50 * MB, 50 * MB]),
    {
      ms: 20_000,
      binding: 'download',
    },
  );
  const up = kumarRoss(100 * MB, 10 * MB, Array(9).fill(1 * MB), Array(9).fill(100 * MB));
  assert.equal(up.binding, 'upload');
  assert.ok(Math.abs(up.ms - (9 * 100 * 1000) / 19) < 1e-6);
  assert.equal(kumarRoss(100 * MB, 1 * MB, [100 * MB], [100 * MB]).binding, 'seed');
});

test('small swarms: every node ends verified, never faster than the bound, and close to it', () => {
  for (const nodes of [1, 5, 30]) {
    const r = runSwarm({ nodes, fileBytes: 16 * 1024 * 1024, chunkBytes: 256 * 1024, seed: 7 });
    assert.equal(r.completed, nodes, `${nodes} nodes`);
    assert.ok(r.ratio >= 1, `ratio ${r.ratio} below the lower bound`);
    assert.ok(r.ratio < 1.6, `${nodes} nodes: ratio ${r.ratio.toFixed(3)}`);
    assert.ok(r.seedCopies >= 1 - 1e-9, 'the seed sent the file at least once');
    assert.equal(r.doneMs.length, nodes);
  }
  // Nodes serve each other: with 30 nodes the seed sent far fewer than 30 copies.
  assert.ok(runSwarm({ nodes: 30, fileBytes: 16 * 1024 * 1024, chunkBytes: 256 * 1024 }).seedCopies < 15);
});

test('the network model is physically honest and the bound uses the same capacities', () => {
  const opts = { nodes: 40, fileBytes: 8 * 1024 * 1024, chunkBytes: 256 * 1024, seed: 3 };
  const r = runSwarm(opts);
  assert.equal(r.completed, 40);
  // No node (nor the seed) ever moved more than its capacity allows in any step...
  assert.ok(r.peakUploadUse <= 1 + 1e-9, `upload used ${r.peakUploadUse} of capacity`);
  assert.ok(r.peakDownloadUse <= 1 + 1e-9, `download used ${r.peakDownloadUse} of capacity`);
  // ...and some did use all of it (the model is not just slow).
  assert.ok(r.peakUploadUse > 0.99, `upload peak ${r.peakUploadUse}`);
  // The bound is Kumar-Ross over exactly the rates the run drew.
  const o = { ...DEFAULT_SWARM, ...opts };
  const { up, down } = drawRates(o);
  assert.equal(up.length, 40);
  for (const u of up) assert.ok(u >= o.uploadBps[0] && u <= o.uploadBps[1]);
  for (const d of down) assert.ok(d >= o.downloadBps[0] && d <= o.downloadBps[1]);
  assert.equal(r.boundMs, kumarRoss(o.fileBytes, o.seedUploadBps, up, down).ms);
  // Total bytes delivered can never beat the total upload: the completion time respects the bound.
  assert.ok(r.ratio >= 1);
});

test('dchat-test simulate --swarm: report, sweep and SVG plot; bad counts are usage errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dchat-swarm-'));
  try {
    const lines: string[] = [];
    const docs: unknown[] = [];
    const code = await runSimulateCommand(
      { swarm: true, nodes: '20', swarmSweep: '5,20', out: 'swarm.svg' },
      { line: (s) => lines.push(s), result: (d) => docs.push(d), json: false },
      { cwd: dir },
    );
    assert.equal(code, 0);
    const text = lines.join('\n');
    assert.match(text, /Swarm simulation: 64 MiB to 20 nodes/);
    assert.match(text, /Kumar-Ross bound +\d+\.\d+ s/);
    assert.match(text, /^ +5 +\d+\.\d+ +\d+\.\d+ +\d\.\d{3}x$/m);
    const doc = docs[0] as { ratio: number; sweep: { nodes: number; ratio: number }[] };
    assert.ok(doc.ratio >= 1);
    assert.deepEqual(
      doc.sweep.map((s) => s.nodes),
      [5, 20],
    );
    const svg = await readFile(join(dir, 'swarm.svg'), 'utf8');
    assert.match(svg, /^<svg [^>]*>/);
    assert.match(svg, /<polyline /);
    assert.match(svg, /bound \d+\.\d+ s/);
    for (const bad of [{ nodes: '0' }, { nodes: '20000' }, { swarmSweep: '10,x' }]) {
      await assert.rejects(
        runSimulateCommand({ swarm: true, ...bad }, { line: () => {}, result: () => {}, json: false }),
        (e: unknown) => e instanceof DchatError && e.code === 'E_USAGE',
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
