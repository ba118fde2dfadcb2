import type { SimReport } from './run.ts';

const W = 980;
const H = 470;
const PANEL_W = 420;
const PANEL_H = 300;
const TOP = 70;
const LEFTS = [70, 550];
const COLORS: Record<string, string> = { ours: '#1f6fd1', flood: '#d9480f' };

/**
 * Both coverage curves as a standalone SVG document: coverage of honest nodes against virtual
 * time since publication (left) and against gossip rounds, i.e. hops from the origin (right),
 * with the 99.9% target marked. Plain text building, no dependency.
 */
export function renderSvg(report: SimReport): string {
  const results = report.results;
  const horizon = Math.max(1, ...results.map((r) => r.curve.tMs[r.curve.tMs.length - 1] ?? 0));
  const maxHop = Math.max(1, ...results.map((r) => r.byHop.length - 1));
  const o = report.options;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    text(
      W / 2,
      24,
      `Announcement coverage: ${report.world.nodes} nodes, ttl ${o.ttl}, loss ${o.loss}, malicious ${o.malicious}, churn ${o.churn}, partition ${o.partition}, seed ${o.seed}`,
      'middle',
      14,
    ),
  );
  // Left: coverage vs time.
  parts.push(
    ...frame(LEFTS[0] as number, 'virtual time since publication (ms)', niceTicks(horizon), horizon),
  );
  for (const r of results) {
    const pts = r.curve.tMs.map(
      (t, k) => [x(LEFTS[0] as number, t, horizon), y(r.curve.coverage[k] ?? 0)] as const,
    );
    parts.push(polyline(pts, COLORS[r.protocol] ?? '#444'));
  }
  // Right: coverage vs hops (a step per round).
  parts.push(...frame(LEFTS[1] as number, 'gossip rounds (hops from the origin)', intTicks(maxHop), maxHop));
  for (const r of results) {
    const pts: (readonly [number, number])[] = [];
    r.byHop.forEach((c, h) => {
      pts.push([x(LEFTS[1] as number, h, maxHop), y(h === 0 ? 0 : (r.byHop[h - 1] ?? 0))]);
      pts.push([x(LEFTS[1] as number, h, maxHop), y(c)]);
    });
    const last = r.byHop[r.byHop.length - 1] ?? 0;
    pts.push([x(LEFTS[1] as number, maxHop, maxHop), y(last)]);
    parts.push(polyline(pts, COLORS[r.protocol] ?? '#444'));
  }
  // Legend: one row per protocol under the panels.
  results.forEach((r, k) => {
    const ly = TOP + PANEL_H + 66 + k * 18;
    const lx = LEFTS[0] as number;
    const at999 = r.msTo999 === null ? 'never' : `${Math.round(r.msTo999)} ms / ${r.hopsTo999} hops`;
    const summary = `${r.label}: ${(r.coverage * 100).toFixed(2)}% covered, 99.9% at ${at999}, ${r.messagesPerNode.toFixed(2)} msgs/node`;
    parts.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${COLORS[r.protocol] ?? '#444'}" stroke-width="3"/>`,
      text(lx + 30, ly, summary, 'start', 12),
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function frame(left: number, xLabel: string, ticks: number[], max: number): string[] {
  const out: string[] = [
    `<rect x="${left}" y="${TOP}" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#888"/>`,
  ];
  for (const c of [0, 0.25, 0.5, 0.75, 1]) {
    out.push(
      `<line x1="${left}" y1="${y(c)}" x2="${left + PANEL_W}" y2="${y(c)}" stroke="#e5e5e5"/>`,
      text(left - 6, y(c) + 4, `${Math.round(c * 100)}%`, 'end'),
    );
  }
  out.push(
    `<line x1="${left}" y1="${y(0.999)}" x2="${left + PANEL_W}" y2="${y(0.999)}" stroke="#2b8a3e" stroke-dasharray="5,4"/>`,
    text(left + PANEL_W - 4, y(0.999) - 4, '99.9%', 'end', 10),
  );
  for (const t of ticks) {
    const px = x(left, t, max);
    out.push(
      `<line x1="${px}" y1="${TOP + PANEL_H}" x2="${px}" y2="${TOP + PANEL_H + 5}" stroke="#888"/>`,
      text(px, TOP + PANEL_H + 18, String(t), 'middle'),
    );
  }
  out.push(text(left + PANEL_W / 2, TOP + PANEL_H + 36, xLabel, 'middle'));
  return out;
}

function x(left: number, v: number, max: number): number {
  return round1(left + (v / max) * PANEL_W);
}

function y(coverage: number): number {
  return round1(TOP + PANEL_H - coverage * PANEL_H);
}

function polyline(points: readonly (readonly [number, number])[], color: string): string {
  return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map(([a, b]) => `${a},${b}`).join(' ')}"/>`;
}

function text(px: number, py: number, s: string, anchor: 'start' | 'middle' | 'end', size = 12): string {
  return `<text x="${round1(px)}" y="${round1(py)}" text-anchor="${anchor}" font-size="${size}">${escapeXml(s)}</text>`;
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** About five round-numbered ticks from 0 to max. */
function niceTicks(max: number): number[] {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let t = 0; t <= max + 1e-9; t += step) out.push(Math.round(t));
  return out;
}

function intTicks(max: number): number[] {
  const step = Math.max(1, Math.ceil(max / 10));
  const out: number[] = [];
  for (let t = 0; t <= max; t += step) out.push(t);
  return out;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}
