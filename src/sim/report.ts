import type { ProtocolReport } from './metrics.ts';
import type { SimReport } from './run.ts';

/** The report as text for a terminal: the scenario, then one column per protocol. */
export function formatReport(report: SimReport): string {
  const o = report.options;
  const w = report.world;
  const t = report.topology;
  const lines: string[] = [];
  lines.push(`🛰️  Gossip simulation: ${w.nodes} nodes, seed ${o.seed}`);
  lines.push(
    `   topology ${t.kind}: ${t.edges} links, degree ${t.min}..${t.max} (mean ${t.mean.toFixed(1)})` +
      `; ttl ${o.ttl}; loss ${pct(o.loss)}; uplink ${o.link.uplinkMbps} Mbit/s; announcement ${o.announcementBytes} B`,
  );
  const scenario: string[] = [];
  if (w.malicious > 0) scenario.push(`${w.malicious} malicious (${o.maliciousMode})`);
  if (o.churn > 0)
    scenario.push(`${w.lateJoiners} late joiners + ${w.leavers} leavers within ${o.churnWindowMs} ms`);
  if (w.partitioned > 0) scenario.push(`${w.partitioned} nodes partitioned for ${o.partitionMs} ms`);
  lines.push(`   scenario: ${scenario.length ? scenario.join('; ') : 'no faults'}`);
  lines.push('');
  const rows: [string, (r: ProtocolReport) => string][] = [
    ['final coverage', (r) => `${pct(r.coverage, 2)} (${r.covered}/${r.honestNodes})`],
    ['time to 50%', (r) => ms(r.msTo50)],
    ['time to 99%', (r) => ms(r.msTo99)],
    ['time to 99.9%', (r) => ms(r.msTo999)],
    ['rounds (hops) to 99%', (r) => num(r.hopsTo99)],
    ['rounds (hops) to 99.9%', (r) => num(r.hopsTo999)],
    ['max hops', (r) => String(r.maxHop)],
    ['messages / node', (r) => r.messagesPerNode.toFixed(2)],
    ['  full announcements', (r) => r.payloadPerNode.toFixed(2)],
    ['  ihave/iwant/want', (r) => r.controlPerNode.toFixed(2)],
    ['maintenance msgs / node', (r) => r.maintenancePerNode.toFixed(2)],
    ['bytes / node', (r) => kib(r.bytesPerNode)],
    ['duplicates received', (r) => String(r.duplicates)],
    ['lost in transit', (r) => String(r.lostMessages)],
    ['forged dropped', (r) => String(r.rejected.invalid)],
    ['replays ignored', (r) => String(r.rejected.replaysIgnored)],
    ['rate-limited / too large', (r) => `${r.rejected.rateLimited} / ${r.rejected.tooLarge}`],
    ['broken promises', (r) => String(r.rejected.brokenPromises)],
    ['peers disconnected', (r) => String(r.rejected.disconnects)],
    ['stopped', (r) => `${r.stopReason} at ${ms(r.endedAtMs)}`],
  ];
  const cols = report.results;
  const head = ['', ...cols.map((r) => (r.protocol === 'ours' ? 'ours' : 'TTL flooding'))];
  const table = [head, ...rows.map(([name, f]) => [name, ...cols.map(f)])];
  const widths = head.map((_, c) => Math.max(...table.map((row) => (row[c] ?? '').length)));
  for (const row of table)
    lines.push(
      `   ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('   ')}`,
    );
  if (report.wallMs !== undefined) lines.push('', `   wall time ${(report.wallMs / 1000).toFixed(2)} s`);
  return lines.join('\n');
}

function pct(x: number, digits = 1): string {
  return `${(x * 100).toFixed(digits)}%`;
}

function ms(x: number | null): string {
  if (x === null) return 'never';
  return x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`;
}

function num(x: number | null): string {
  return x === null ? 'never' : String(x);
}

function kib(bytes: number): string {
  return bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${Math.round(bytes)} B`;
}
