/**
 * Governance objects in the simulator: with 10% and 30% malicious nodes (forged votes, replayed
 * votes, a foreign certificate, withheld approvals, swallowing) the certificate is built with the
 * true tally (no forgery counted, each holder's latest vote) and reaches every honest node; with
 * too many validators withholding, no certificate is built. `dchat-test simulate --governance`
 * reports it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSimulateCommand } from '../../src/cli/commands/simulate.ts';
import { runGovernanceSim } from '../../src/sim/governance.ts';

for (const malicious of [0.1, 0.3]) {
  test(`governance sim, ${malicious * 100}% malicious: true tally, certificate everywhere`, () => {
    const r = runGovernanceSim({ nodes: 400, malicious, seed: 7 });
    assert.equal(r.stop_reason, 'complete');
    assert.equal(r.coverage, 1);
    assert.ok(r.tally);
    assert.deepEqual(r.tally, r.genuine_tally);
    assert.equal(r.tally.voters, r.options.holders);
    assert.ok(r.rejected_invalid > 0, 'the forgeries reached honest nodes and were refused');
    // Withheld approvals: only the honest validators' stake approved.
    const honestValidators = r.options.validators - Math.round(malicious * r.options.validators);
    assert.equal(r.approving_stake, honestValidators * 100);
    assert.ok(r.reach_ms.p999 !== null && r.reach_ms.p999 > 0 && r.reach_ms.p999 < 10_000);
  });
}

test('governance sim: when withheld approvals leave less than 67% of stake, no certificate', () => {
  const r = runGovernanceSim({ nodes: 200, malicious: 0.45, seed: 3 });
  assert.equal(r.stop_reason, 'no-certificate');
  assert.equal(r.tally, null);
  assert.equal(r.coverage, 0);
});

test('dchat-test simulate --governance prints and reports each malicious share', async () => {
  const lines: string[] = [];
  let doc: unknown;
  const code = await runSimulateCommand(
    { governance: true, nodes: '300', malicious: '10%,30%' },
    { line: (s) => lines.push(s), result: (d) => (doc = d), json: true },
  );
  assert.equal(code, 0);
  const runs = (doc as { runs: { options: { malicious: number }; reach_ms: { p999: number | null } }[] })
    .runs;
  assert.deepEqual(
    runs.map((r) => r.options.malicious),
    [0.1, 0.3],
  );
  assert.ok(runs.every((r) => r.reach_ms.p999 !== null));
  assert.match(lines.join('\n'), /99\.9%: \d+ ms/);
  await assert.rejects(
    runSimulateCommand(
      { governance: true, malicious: 'lots' },
      { line: () => {}, result: () => {}, json: true },
    ),
    { code: 'E_USAGE' },
  );
});
