/**
 * `dchat-test chaos-mirrors --fail-rate 0.5` as the acceptance check runs it: real node processes,
 * three HTTPS mirrors that fail, stall and corrupt half of the package requests; every honest node
 * ends verified on the release, the report (spec/CLI.md) says what was injected, and the broken
 * mirrors did deliver part of the bytes (so they were really in the path).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runBin } from '../helpers/cli.ts';
import { requireTool } from '../helpers/tools.ts';

test('chaos-mirrors at fail rate 0.5: every honest node verified', {
  skip: requireTool('openssl'),
  timeout: 240_000,
}, async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'dchat-chaos-mirrors-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  const r = await runBin(
    'dchat-test',
    ['--json', 'chaos-mirrors', '--fail-rate', '0.5', '--nodes', '5', '--seed', 'test-seed'],
    { env: { DCHAT_HOME: home }, timeoutMs: 200_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as {
    ok: boolean;
    nodes: { role: string; verified: boolean; version: string | null; source: string | null }[];
    injected: Record<string, number>;
  };
  assert.equal(report.ok, true);
  assert.equal(report.nodes.length, 5);
  for (const n of report.nodes) {
    assert.equal(n.verified, true);
    assert.equal(n.version, '1.0.0');
  }
  const inj = report.injected;
  assert.equal(inj.fail_rate, 0.5);
  assert.equal(inj.mirrors, 3);
  assert.ok((inj.mirror_requests ?? 0) > 0, 'the nodes asked the mirrors');
  const broken = (inj.mirror_failed ?? 0) + (inj.mirror_stalled ?? 0) + (inj.mirror_corrupted ?? 0);
  assert.ok(broken > 0, 'faults were injected');
  // At rate 0.5 about half the requests break (binomial, loose bounds).
  assert.ok(broken >= (inj.mirror_requests ?? 0) * 0.2, JSON.stringify(inj));
  assert.ok(
    report.nodes.some((n) => n.source === 'https'),
    'some node got most of its bytes from the broken mirrors',
  );
  const verify = await runBin('dchat-test', ['--json', 'verify-distribution', '--version', '1.0.0'], {
    env: { DCHAT_HOME: home },
  });
  assert.equal(verify.code, 0, verify.stderr);
});
