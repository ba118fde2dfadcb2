/**
 * The swarm run as a standalone SVG document, drawn like the gossip coverage curves (svg.ts):
 * the fraction of nodes holding the verified file against virtual time, with the Kumar-Ross
 * lower bound marked. Plain text building, no dependency.
 */
import { escapeXml } from './svg.ts';
import type { SwarmReport } from './swarm.ts';

const W = 640;
const H = 430;
const LEFT = 70;
const TOP = 60;
const PW = 520;
const PH = 300;

export function renderSwarmSvg(r: SwarmReport): string {
  const o = r.options;
  const last = r.doneMs.at(-1) ?? r.boundMs;
  const horizon = Math.max(last, r.boundMs) * 1.05;
  const x = (ms: number) => round1(LEFT + (ms / horizon) * PW);
  const y = (frac: number) => round1(TOP + PH - frac * PH);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    text(
      W / 2,
      24,
      `Swarm: ${(o.fileBytes / 2 ** 20).toFixed(0)} MiB to ${o.nodes} nodes, ratio ${r.ratio.toFixed(3)}x the Kumar-Ross bound`,
      'middle',
      14,
    ),
    `<rect x="${LEFT}" y="${TOP}" width="${PW}" height="${PH}" fill="none" stroke="#888"/>`,
  ];
  for (const c of [0, 0.25, 0.5, 0.75, 1])
    parts.push(
      `<line x1="${LEFT}" y1="${y(c)}" x2="${LEFT + PW}" y2="${y(c)}" stroke="#e5e5e5"/>`,
      text(LEFT - 6, y(c) + 4, `${Math.round(c * 100)}%`, 'end'),
    );
  const step = niceStep(horizon / 1000);
  for (let s = 0; s * 1000 <= horizon; s += step)
    parts.push(
      `<line x1="${x(s * 1000)}" y1="${TOP + PH}" x2="${x(s * 1000)}" y2="${TOP + PH + 5}" stroke="#888"/>`,
      text(x(s * 1000), TOP + PH + 18, String(Math.round(s * 10) / 10), 'middle'),
    );
  parts.push(text(LEFT + PW / 2, TOP + PH + 36, 'virtual time (s)', 'middle'));
  parts.push(
    `<line x1="${x(r.boundMs)}" y1="${TOP}" x2="${x(r.boundMs)}" y2="${TOP + PH}" stroke="#2b8a3e" stroke-dasharray="5,4"/>`,
    text(x(r.boundMs) - 4, TOP + 14, `bound ${(r.boundMs / 1000).toFixed(2)} s`, 'end', 10),
  );
  const pts: string[] = [`${x(0)},${y(0)}`];
  r.doneMs.forEach((t, k) => {
    pts.push(`${x(t)},${y(k / o.nodes)}`, `${x(t)},${y((k + 1) / o.nodes)}`);
  });
  parts.push(`<polyline fill="none" stroke="#1f6fd1" stroke-width="2" points="${pts.join(' ')}"/>`);
  parts.push(
    text(
      LEFT,
      TOP + PH + 60,
      `all verified at ${(last / 1000).toFixed(2)} s; seed sent ${r.seedCopies.toFixed(2)} copies; ${r.binding} term binds`,
      'start',
    ),
  );
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function niceStep(max: number): number {
  const raw = max / 6;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
}

function text(px: number, py: number, s: string, anchor: 'start' | 'middle' | 'end', size = 12): string {
  return `<text x="${round1(px)}" y="${round1(py)}" text-anchor="${anchor}" font-size="${size}">${escapeXml(s)}</text>`;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}
