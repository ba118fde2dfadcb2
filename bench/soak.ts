/**
 * `npm run bench -- soak [--nodes 20] [--duration 10m] [--every 60s] [--package-size BYTES]`: a
 * `dchat testnet` of real node processes (src/testnet/local-net.ts: validators, relays, users; an
 * embedded HTTPS mirror) kept running for the duration with a new release published and announced
 * every interval. Each node's RSS, CPU, open file descriptors and gossip message counts are read
 * from /proc and its status at the start (after the first release has spread) and at the end, so a
 * leak shows as an end/start ratio; RSS is also set against the DESIGN.md idle target (the
 * reference of this run: ratio to 100 MB). Every node must end with the newest release verified.
 * The nodes run the built CLI (dist/cli/dchat.js, as installed), not src/ under Node's type
 * stripping, which alone added 10-60 MB per node here: the testnet is loaded from dist/.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/model/duration.ts';
import type { LocalTestnet } from '../src/testnet/local-net.ts';
import { builtTestnet, median } from './util.ts';

const TARGET_RSS_MB = 100;
const CPU_WINDOW_MS = 5000;

interface NodeSample {
  id: string;
  rssMb: number;
  cpuPct: number;
  fds: number;
  sent: number;
  received: number;
}

function ticks(pid: number): number {
  // Fields after the command name: utime is the 14th field of the line, stime the 15th.
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

function rssMb(pid: number): number {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(st)?.[1] ?? Number.NaN) / 1024;
}

async function sampleAll(net: LocalTestnet): Promise<NodeSample[]> {
  const pids = net.procs.map((p) => p.child.pid as number);
  const t0 = pids.map(ticks);
  await sleep(CPU_WINDOW_MS);
  const t1 = pids.map(ticks);
  const statuses = await net.statuses();
  return net.procs.map((p, i) => {
    const pid = pids[i] as number;
    const adapter = (
      statuses[i]?.stats as { adapter?: { sent_by_type?: Record<string, number>; received?: number } }
    )?.adapter;
    return {
      id: p.name,
      rssMb: rssMb(pid),
      // Clock ticks are 1/100 s on Linux: ticks per second over the window is percent of one core.
      cpuPct: ((t1[i] as number) - (t0[i] as number)) / (CPU_WINDOW_MS / 1000),
      fds: readdirSync(`/proc/${pid}/fd`).length,
      sent: Object.values(adapter?.sent_by_type ?? {}).reduce((a, b) => a + b, 0),
      received: adapter?.received ?? 0,
    };
  });
}

async function allHold(net: LocalTestnet, version: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const st = await net.statuses();
    const have = st.filter((s) => s?.releases.packages.some((p) => p.version === version)).length;
    if (have === net.procs.length || Date.now() - t0 > timeoutMs) return Date.now() - t0;
    await sleep(500);
  }
}

function summary(label: string, s: NodeSample[]): string {
  const f = (k: keyof Omit<NodeSample, 'id'>, d = 1) =>
    `${median(s.map((x) => x[k])).toFixed(d)} (max ${Math.max(...s.map((x) => x[k])).toFixed(d)})`;
  return `${label}: RSS MB ${f('rssMb')}, CPU % ${f('cpuPct')}, fds ${f('fds', 0)}, gossip sent ${f('sent', 0)}, received ${f('received', 0)}`;
}

export async function benchSoak(argv: string[]): Promise<boolean> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '20' },
      duration: { type: 'string', default: '10m' },
      every: { type: 'string', default: '60s' },
      'package-size': { type: 'string', default: String(1024 * 1024) },
    },
  });
  const nodes = Number(values.nodes);
  const durationMs = parseDuration(values.duration as string, '--duration') * 1000;
  const everyMs = parseDuration(values.every as string, '--every') * 1000;
  const validators = Math.max(1, Math.round(nodes / 5));
  const relays = Math.max(0, Math.round((nodes - validators) / 2));
  const users = nodes - validators - relays;
  const { LocalTestnet, hostPlatform } = await builtTestnet();
  const dir = await mkdtemp(join(tmpdir(), 'dchat-bench-soak-'));
  console.log(
    `soak: ${nodes} nodes (${validators} validators, ${relays} relays, ${users} users), ${values.duration}, a release every ${values.every}`,
  );
  const net = new LocalTestnet({
    dir,
    validators,
    relays,
    users,
    basePort: 0,
    platform: hostPlatform(process.platform, process.arch),
    packageBytes: Number(values['package-size']),
    chunkSize: 64 * 1024,
    firstVersion: '1.0.0',
    now: () => new Date(),
  });
  let ok = false;
  try {
    await net.start();
    const spread0 = await allHold(net, '1.0.0', 120_000);
    console.log(`first release on all ${nodes} nodes after ${spread0} ms`);
    const start = await sampleAll(net);
    const t0 = Date.now();
    let n = 1;
    const spreads: number[] = [];
    while (Date.now() - t0 + everyMs <= durationMs) {
      await sleep(Math.max(0, t0 + n * everyMs - Date.now()));
      const version = `1.0.${n++}`;
      const p0 = Date.now();
      await net.publish(version);
      const took = await allHold(net, version, everyMs - 1000);
      const reached = (await net.statuses()).filter((s) =>
        s?.releases.packages.some((p) => p.version === version),
      ).length;
      spreads.push(Date.now() - p0);
      console.log(`  ${version}: on ${reached}/${nodes} nodes after ${took} ms`);
    }
    // Every node must end on the newest release (a node that learned of two releases at once
    // fetches only the newer: prefetch takes the highest trusted one).
    const last = `1.0.${n - 1}`;
    const late = await allHold(net, last, 120_000);
    const final = await net.statuses();
    const onLast = final.filter((s) => s?.releases.packages.some((p) => p.version === last)).length;
    ok = onLast === nodes;
    console.log(
      `  newest release ${last} on ${onLast}/${nodes} nodes at the end (${late} ms after the last check)`,
    );
    if (Date.now() - t0 < durationMs) await sleep(durationMs - (Date.now() - t0));
    const end = await sampleAll(net);
    console.log(summary('start', start));
    console.log(summary('end  ', end));
    const ratio = (k: 'rssMb' | 'fds') => median(end.map((e) => e[k])) / median(start.map((s) => s[k]));
    console.log(`end/start: RSS x${ratio('rssMb').toFixed(2)}, fds x${ratio('fds').toFixed(2)}`);
    console.log(
      `RSS vs the ${TARGET_RSS_MB} MB idle target: start x${(median(start.map((s) => s.rssMb)) / TARGET_RSS_MB).toFixed(2)}, end x${(median(end.map((s) => s.rssMb)) / TARGET_RSS_MB).toFixed(2)}`,
    );
    const perNode = end.map((e, i) => ({
      id: e.id,
      rss: `${(start[i] as NodeSample).rssMb.toFixed(0)}->${e.rssMb.toFixed(0)}`,
      fds: `${(start[i] as NodeSample).fds}->${e.fds}`,
      msgs: `${(start[i] as NodeSample).sent}->${e.sent}`,
    }));
    console.log(
      `per node: ${perNode.map((p) => `${p.id} rss ${p.rss} fds ${p.fds} sent ${p.msgs}`).join('; ')}`,
    );
    if (spreads.length)
      console.log(`releases spread in median ${median(spreads)} ms (max ${Math.max(...spreads)})`);
  } finally {
    await net.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    ok ? 'soak: every node ended on the newest release' : 'soak: some node did not get the newest release',
  );
  return ok;
}
