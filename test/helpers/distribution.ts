/**
 * `dchat-test distribute-update` as the acceptance checks run it, with what every method's test
 * checks of its report (spec/CLI.md): each node ended verified on 1.0.0, the origin holding it
 * from the mirror directory and every other node by the method asked alone, and
 * `verify-distribution` rechecking the run from the homes.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DistributionReport } from '../../src/testnet/harness.ts';
import { type CliResult as BinResult, runBin } from './cli.ts';

export type { DistributionReport };

/** Every field spec/CLI.md gives the report and each of its nodes. */
export function assertReportShape(r: DistributionReport): void {
  for (const k of ['ok', 'version', 'method', 'duration_ms', 'nodes', 'injected', 'rejected'])
    assert.ok(k in r, k);
  assert.deepEqual(Object.keys(r.rejected).sort(), ['bad_chunks', 'forged_announcements', 'refused_peers']);
  for (const n of r.nodes)
    for (const k of ['id', 'role', 'version', 'verified', 'source', 'switch_height', 'rejected'])
      assert.ok(k in n, k);
}

/** A DCHAT_HOME of its own for a test file's runs (removed by `close`), and `dchat-test` in it. */
export async function harnessHome(prefix: string, timeoutMs: number) {
  const home = await mkdtemp(join(tmpdir(), prefix));
  return {
    home,
    run: (args: string[], ms = timeoutMs): Promise<BinResult> =>
      runBin('dchat-test', args, { env: { DCHAT_HOME: home }, timeoutMs: ms }),
    close: () => rm(home, { recursive: true, force: true }),
  };
}

export interface DistributeOptions {
  method: DistributionReport['method'];
  nodes: number;
  packageSize: number;
  /** `--timeout` (generous: a loaded 2-core machine runs these processes slowly). */
  timeout?: string;
}

/** distribute-update of 1.0.0 by `o.method`, its report checked, then verify-distribution. */
export async function distributeChecked(
  run: (args: string[]) => Promise<BinResult>,
  o: DistributeOptions,
): Promise<{ rep: DistributionReport; stderr: string }> {
  const r = await run([
    ...['distribute-update', '--version', '1.0.0', '--method', o.method],
    ...['--nodes', String(o.nodes), '--package-size', String(o.packageSize)],
    ...(o.timeout ? ['--timeout', o.timeout] : []),
    '--json',
  ]);
  assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
  const rep = JSON.parse(r.stdout) as DistributionReport;
  assertReportShape(rep);
  assert.equal(rep.ok, true);
  assert.equal(rep.method, o.method);
  assert.equal(rep.nodes.length, o.nodes);
  for (const n of rep.nodes) {
    assert.equal(n.verified, true, JSON.stringify(n));
    assert.equal(n.version, '1.0.0');
  }
  // The origin had it from the mirror directory; every other node's bytes came by the method only.
  assert.equal(rep.nodes[0]?.source, 'cache');
  assert.deepEqual(
    rep.nodes.slice(1).map((n) => n.source),
    rep.nodes.slice(1).map(() => o.method),
  );
  assert.match(r.stderr, new RegExp(`distribute-update: 1\\.0\\.0 via ${o.method}`));
  const v = await run(['verify-distribution', '--version', '1.0.0', '--json']);
  assert.equal(v.code, 0, v.stderr);
  const again = JSON.parse(v.stdout) as DistributionReport;
  assert.equal(again.ok, true);
  assert.equal(again.method, o.method);
  assert.ok(again.nodes.every((n) => n.verified));
  return { rep, stderr: r.stderr };
}
