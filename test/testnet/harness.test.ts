/**
 * `dchat-test distribute-update`, `verify-distribution` and `chaos-byzantine` end to end, as the
 * acceptance checks run them: real node processes on loopback, the JSON report of spec/CLI.md.
 */
import assert from 'node:assert/strict';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runBin } from '../helpers/cli.ts';
import { assertReportShape, type DistributionReport, distributeChecked } from '../helpers/distribution.ts';

type Report = DistributionReport;

describe('dchat-test harness', () => {
  let home: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'dchat-harness-'));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });
  const run = (args: string[], timeoutMs = 100_000) =>
    runBin('dchat-test', args, { env: { DCHAT_HOME: home }, timeoutMs });

  test('verify-distribution with no run kept: exit 1', async () => {
    const r = await run(['verify-distribution', '--version', '1.0.0', '--json']);
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).error.code, 'E_NOT_FOUND');
  });

  test('distribute-update --method peer: every node ends verified; verify-distribution rechecks it', async () => {
    const { rep } = await distributeChecked(run, { method: 'peer', nodes: 3, packageSize: 300_000 });

    const never = await run(['verify-distribution', '--version', '2.0.0']);
    assert.equal(never.code, 1);
    assert.match(never.stderr, /never distributed/);

    // A byte flipped on one node's disk: the recheck fails closed (exit 3), naming that node.
    const victim = rep.nodes[1] as Report['nodes'][number];
    const fh = await open(
      join(victim.home, 'packages', `dchat-1.0.0-${process.platform}-${process.arch}`),
      'r+',
    );
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 1000);
    b[0] = (b[0] ?? 0) ^ 0xff;
    await fh.write(b, 0, 1, 1000);
    await fh.close();
    const bad = await run(['verify-distribution', '--version', '1.0.0', '--json']);
    assert.equal(bad.code, 3);
    const badRep = JSON.parse(bad.stdout) as Report;
    assert.equal(badRep.ok, false);
    assert.equal(badRep.nodes.find((n) => n.id === victim.id)?.verified, false);
  });

  test('chaos-byzantine: honest nodes end verified; forgeries and bad chunks are rejected', async () => {
    const r = await run([
      'chaos-byzantine',
      '--malicious-nodes',
      '1',
      '--nodes',
      '3',
      '--package-size',
      '400000',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    assertReportShape(rep);
    assert.equal(rep.ok, true);
    const honest = rep.nodes.filter((n) => n.role !== 'malicious');
    assert.equal(honest.length, 3);
    assert.ok(honest.every((n) => n.verified && n.version === '1.0.0'));
    assert.equal(rep.nodes.filter((n) => n.role === 'malicious').length, 1);
    assert.ok((rep.injected.forged_announcements ?? 0) > 0);
    assert.ok((rep.injected.untrusted_announcements ?? 0) > 0);
    assert.ok((rep.injected.replayed_announcements ?? 0) > 0);
    assert.ok(rep.rejected.forged_announcements > 0, 'forged and untrusted announcements were rejected');
    assert.ok(rep.rejected.bad_chunks > 0, 'corrupted chunks were caught');
    assert.ok(rep.rejected.refused_peers > 0, 'the liar was disconnected');
  });
});
