/**
 * `dchat-test simulate --governance`: governance objects in the simulator (src/sim/governance.ts):
 * how long an upgrade certificate takes to reach 99.9% of the honest nodes, for each malicious
 * share given (`--malicious 10%,30%`; default 0, 10% and 30%), at `--nodes` nodes (default 10000).
 */
import { UsageError } from '../../errors.ts';
import { formatGovernanceSim, type GovernanceSimReport, runGovernanceSim } from '../../sim/governance.ts';
import type { SimulateFlags, SimulateOutput } from './simulate.ts';

export const MAX_GOVERNANCE_SIM_NODES = 100_000;

export async function runGovernanceCommand(opts: SimulateFlags, out: SimulateOutput): Promise<number> {
  const nodes = count(opts.nodes, '--nodes', 10, MAX_GOVERNANCE_SIM_NODES) ?? 10_000;
  const seed = count(opts.seed, '--seed', 0, 2 ** 32 - 1) ?? 1;
  const shares = opts.malicious === undefined ? [0, 0.1, 0.3] : fractions(opts.malicious);
  const reports: GovernanceSimReport[] = [];
  for (const malicious of shares) {
    const started = performance.now();
    const r = runGovernanceSim({ nodes, seed, malicious });
    reports.push(r);
    out.line(formatGovernanceSim(r));
    out.line(`   (${Math.round(performance.now() - started)} ms wall)`);
  }
  out.result({ ok: reports.every((r) => r.stop_reason === 'complete'), runs: reports });
  return reports.every((r) => r.stop_reason === 'complete') ? 0 : 1;
}

function count(v: string | boolean | undefined, flag: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
  if (!(n >= min && n <= max)) throw new UsageError(flag, `must be an integer ${min}..${max}`);
  return n;
}

/** "0.1,0.3" or "10%,30%". */
function fractions(v: string | boolean): number[] {
  if (typeof v !== 'string') throw new UsageError('--malicious', 'needs a value');
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.length > 8) throw new UsageError('--malicious', 'give 1 to 8 shares');
  return parts.map((s) => {
    const m = /^(\d+(?:\.\d+)?|\.\d+)(%?)$/.exec(s);
    const n = m ? Number(m[1]) / (m[2] ? 100 : 1) : Number.NaN;
    if (!(n >= 0 && n <= 0.9))
      throw new UsageError('--malicious', `'${s.slice(0, 20)}' is not a share 0..0.9 (e.g. 0.1 or 10%)`);
    return n;
  });
}
