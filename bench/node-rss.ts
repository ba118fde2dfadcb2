/**
 * `npm run bench -- node-rss [--runs N] [--idle-ms N]`: resident memory of an idle `dchat node
 * start` (a real process on loopback, no peers) against the same Node idling in
 * `setInterval(() => {}, 1000)` (the runtime's own floor), runs interleaved in the same session.
 * Target <= 100 MB (DESIGN.md, performance targets); the ratio to the floor says how much of it is
 * ours. RSS is read from /proc/PID/status (VmRSS, VmHWM) several times once the node answers
 * `dchat node status` and has idled; the median read counts.
 *
 * `--releases N` (N >= 1) measures instead a node that holds releases, as nodes of a testnet do: a
 * testnet of built nodes (dist/testnet/local-net.js: one validator where releases enter, one user)
 * publishes N releases of `--package-size` bytes (each with its IPFS CID and BitTorrent info hash),
 * the user fetches, verifies and provides every one (Helia, the download machinery loaded), then
 * idles; its RSS is set against 120 MB (the bound for a node holding releases; DESIGN.md's 100 MB
 * is an empty idle node's) and against the
 * publishing validator's, which received them from the maintainer's side without a download.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { builtTestnet, median } from './util.ts';

const TARGET_MB = 100;
const HOLDING_TARGET_MB = 120;
const READS = 5;

interface Sample {
  rssMb: number;
  hwmMb: number;
}

function readStatus(pid: number): Sample {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(st)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

async function idleSample(child: ChildProcess, idleMs: number): Promise<Sample> {
  const pid = child.pid as number;
  await sleep(idleMs);
  const reads: Sample[] = [];
  for (let i = 0; i < READS; i++) {
    reads.push(readStatus(pid));
    await sleep(200);
  }
  return { rssMb: median(reads.map((r) => r.rssMb)), hwmMb: Math.max(...reads.map((r) => r.hwmMb)) };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

async function measureNode(cli: string, idleMs: number): Promise<Sample> {
  const home = mkdtempSync(join(tmpdir(), 'dchat-bench-rss-'));
  const child = spawn(
    process.execPath,
    [cli, '--home', home, 'node', 'start', '--listen', '/ip4/127.0.0.1/tcp/0'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  try {
    // Ready when the control socket answers, as an operator would check.
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`node start exited ${child.exitCode}: ${stderr}`);
      const r = spawnSync(process.execPath, [cli, '--home', home, 'node', 'status', '--json'], {
        encoding: 'utf8',
      });
      if (r.status === 0) break;
      if (Date.now() > deadline) throw new Error(`node status never answered: ${r.stderr}`);
      await sleep(200);
    }
    return await idleSample(child, idleMs);
  } finally {
    await stop(child);
    rmSync(home, { recursive: true, force: true });
  }
}

async function measureFloor(idleMs: number): Promise<Sample> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await sleep(500);
    return await idleSample(child, idleMs);
  } finally {
    await stop(child);
  }
}

export async function benchNodeRss(argv: string[]): Promise<boolean> {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '3' },
      'idle-ms': { type: 'string', default: '5000' },
      releases: { type: 'string', default: '0' },
      'package-size': { type: 'string', default: String(1024 * 1024) },
    },
  });
  if (Number(values.releases) > 0)
    return benchHolding(Number(values.releases), Number(values['package-size']), Number(values['idle-ms']));
  const runs = Number(values.runs);
  const idleMs = Number(values['idle-ms']);
  const cli = resolve(import.meta.dirname, '..', 'dist', 'cli', 'dchat.js');
  if (!existsSync(cli)) throw new Error(`${cli} missing: run \`npm run build\` first`);
  console.log(`node-rss: ${process.execPath} (Node ${process.version}), ${runs} interleaved runs`);
  const ours: Sample[] = [];
  const floor: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    ours.push(await measureNode(cli, idleMs));
    floor.push(await measureFloor(idleMs));
  }
  const rss = median(ours.map((s) => s.rssMb));
  const hwm = median(ours.map((s) => s.hwmMb));
  const ref = median(floor.map((s) => s.rssMb));
  const f = (x: number) => x.toFixed(1);
  console.log(`node-rss: idle node VmRSS median ${f(rss)} MB (VmHWM ${f(hwm)} MB), Node floor ${f(ref)} MB`);
  console.log(
    `node-rss: ${f(rss)} MB vs target ${TARGET_MB} MB ${rss <= TARGET_MB ? 'MET' : 'NOT MET'}; ` +
      `ratio to the floor ${(rss / ref).toFixed(2)}x (ours above it: ${f(rss - ref)} MB)`,
  );
  console.log(
    `node-rss: runs ours=[${ours.map((s) => f(s.rssMb)).join(', ')}] floor=[${floor.map((s) => f(s.rssMb)).join(', ')}]`,
  );
  return rss <= TARGET_MB;
}

function rssOf(pid: number): number {
  return readStatus(pid).rssMb;
}

async function benchHolding(releases: number, packageBytes: number, idleMs: number): Promise<boolean> {
  const { LocalTestnet, hostPlatform } = await builtTestnet();
  const dir = mkdtempSync(join(tmpdir(), 'dchat-bench-rss-net-'));
  const net = new LocalTestnet({
    dir,
    validators: 1,
    relays: 0,
    users: 1,
    basePort: 0,
    platform: hostPlatform(process.platform, process.arch),
    packageBytes,
    chunkSize: 64 * 1024,
    firstVersion: '1.0.0',
    now: () => new Date(),
  });
  const holdAll = async (version: string) => {
    for (const t0 = Date.now(); Date.now() - t0 < 300_000; await sleep(500)) {
      const st = await net.statuses();
      if (st.every((s) => s?.releases.packages.some((p) => p.version === version))) return;
    }
    throw new Error(`${version} did not reach every node`);
  };
  console.log(
    `node-rss: a node holding ${releases} release(s) of ${(packageBytes / 1048576).toFixed(1)} MiB, ${process.execPath} (Node ${process.version})`,
  );
  try {
    await net.start();
    await holdAll('1.0.0');
    for (let i = 1; i < releases; i++) {
      await net.publish(`1.0.${i}`);
      await holdAll(`1.0.${i}`);
    }
    const [validator, user] = net.procs;
    if (!validator || !user) throw new Error('the testnet has no nodes');
    // It serves what it holds: its log says which packages it provides over IPFS and seeds. Idle
    // means after the IPFS import of each (a 135 MiB package takes a while on a busy machine).
    const said = (msg: string) =>
      readFileSync(join(user.home, 'node.log'), 'utf8')
        .split('\n')
        .filter((l) => l.includes(msg)).length;
    for (const t0 = Date.now(); Date.now() - t0 < 600_000; await sleep(1000))
      if (said('package provided over IPFS') + said('IPFS provide failed') >= releases) break;
    const u = await idleSample(user.child, idleMs);
    const v = rssOf(validator.child.pid as number);
    const f = (x: number) => x.toFixed(1);
    console.log(
      `node-rss: user node holding ${releases} release(s), idle VmRSS median ${f(u.rssMb)} MB (VmHWM ${f(u.hwmMb)} MB); ` +
        `provided over IPFS ${said('package provided over IPFS')}, seeded ${said('seeding over BitTorrent')}; publishing validator ${f(v)} MB`,
    );
    console.log(
      `node-rss: ${f(u.rssMb)} MB vs target ${HOLDING_TARGET_MB} MB ${u.rssMb <= HOLDING_TARGET_MB ? 'MET' : 'NOT MET'}; ` +
        `ratio to the publishing validator ${(u.rssMb / v).toFixed(2)}x`,
    );
    return u.rssMb <= HOLDING_TARGET_MB;
  } finally {
    await net.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
