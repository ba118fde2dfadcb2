/**
 * `dchat-test chaos-partition --duration 60s` as the acceptance check runs it: six real nodes split
 * in two by their connection gaters for 60 s while the release appears in the first half. The split
 * held (no connection across it, nothing reached the second half), the first half converged while
 * split, and after the heal every honest node ends verified on the release.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runBin } from '../helpers/cli.ts';

test('chaos-partition for 60 s: both halves converge after the heal', { timeout: 280_000 }, async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'dchat-chaos-partition-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  const r = await runBin('dchat-test', ['--json', 'chaos-partition', '--duration', '60s', '--nodes', '6'], {
    env: { DCHAT_HOME: home },
    timeoutMs: 250_000,
  });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as {
    ok: boolean;
    nodes: { verified: boolean; version: string | null }[];
    injected: Record<string, number>;
  };
  assert.equal(report.ok, true);
  assert.equal(report.nodes.length, 6);
  for (const n of report.nodes) assert.deepEqual([n.verified, n.version], [true, '1.0.0']);
  const inj = report.injected;
  assert.equal(inj.partition_ms, 60_000);
  assert.equal(inj.half_a, 3);
  assert.equal(inj.half_b, 3);
  assert.equal(inj.cross_connections_while_split, 0, 'the gaters held the split');
  assert.equal(inj.b_verified_while_split, 0, 'nothing crossed the split');
  assert.equal(inj.a_verified_while_split, 3, 'the first half converged while split');
  assert.ok((inj.converged_after_heal_ms ?? -1) >= 0);

  const usage = await runBin('dchat-test', ['chaos-partition', '--duration', 'soon'], {
    env: { DCHAT_HOME: home },
  });
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--duration/);
});
