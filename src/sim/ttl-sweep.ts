import type { SimOptions, SimProtocol } from './options.ts';
import { runSimulation } from './run.ts';

export interface TtlSweepRow {
  ttl: number;
  /** Final coverage of honest nodes, by protocol. */
  coverage: Partial<Record<SimProtocol, number>>;
  messagesPerNode: Partial<Record<SimProtocol, number>>;
}

/**
 * What the hop bound costs (issue 5 item 2): the same world run at each ttl with periodic
 * anti-entropy off, so that only the push, bounded by ttl, spreads the release. Our mesh has a
 * lower fan-out than flooding, so it needs a larger ttl for the same reach; anti-entropy (on by
 * default) then removes the bound's cost altogether.
 */
export function ttlSweep(options: Partial<SimOptions>, ttls: readonly number[]): TtlSweepRow[] {
  return ttls.map((ttl) => {
    const r = runSimulation({ ...options, ttl, antiEntropy: false });
    const row: TtlSweepRow = { ttl, coverage: {}, messagesPerNode: {} };
    for (const p of r.results) {
      row.coverage[p.protocol] = p.coverage;
      row.messagesPerNode[p.protocol] = p.messagesPerNode;
    }
    return row;
  });
}

export function formatTtlSweep(rows: readonly TtlSweepRow[]): string {
  const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(2)}%`);
  const lines = ['   ttl   ours coverage   flooding coverage   (periodic anti-entropy off)'];
  for (const r of rows)
    lines.push(
      `   ${String(r.ttl).padStart(3)}   ${pct(r.coverage.ours).padStart(13)}   ${pct(r.coverage.flood).padStart(17)}`,
    );
  return lines.join('\n');
}
