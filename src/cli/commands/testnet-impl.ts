/**
 * `dchat-test distribute-update | verify-distribution | chaos-byzantine | chaos-mirrors |
 * chaos-partition` (and the internal
 * `_malicious-node`). Reports follow spec/CLI.md "Test harness"; the human summary goes to stderr
 * under --json. Exit 0 only if every honest node ends with the verified version; 3 if a recheck
 * found a security failure; 1 otherwise.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DchatError, EXIT_OPERATIONAL, EXIT_SECURITY, UsageError } from '../../errors.ts';
import { parseDuration } from '../../model/duration.ts';
import { hostPlatform } from '../../model/platform.ts';
import { parseWith } from '../../model/schema-util.ts';
import {
  type DistributionReport,
  METHODS,
  type Method,
  verifyDistribution as recheckLast,
  runScenario,
  type ScenarioOptions,
} from '../../testnet/harness.ts';
import { AttackPlanSchema, startMaliciousNode } from '../../testnet/malicious.ts';
import { intFlag, platformFlag, versionFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';

interface ScenarioFlags {
  version: string;
  method: string;
  nodes: string;
  platform?: string;
  packageSize: string;
  chunkSize: string;
  timeout: string;
}

function methodFlag(m: string): Method {
  if ((METHODS as readonly string[]).includes(m)) return m as Method;
  throw new UsageError('--method', `'${m.slice(0, 40)}' is not one of ${METHODS.join(', ')}`);
}

function chunkSizeFlag(v: string): number {
  const n = intFlag(v, '--chunk-size', 16 * 1024, 16 * 1024 * 1024) as number;
  if ((n & (n - 1)) !== 0) throw new UsageError('--chunk-size', `${n} is not a power of two`);
  return n;
}

function summarize(env: CommandEnv, r: DistributionReport, title: string): void {
  const say = (s: string) => (env.out.json ? env.out.note(s) : env.out.line(s));
  say(`${r.ok ? '✅' : '❌'} ${title}: ${r.version} via ${r.method} in ${r.duration_ms} ms`);
  for (const n of r.nodes) {
    if (n.role === 'malicious') {
      say(`   😈 ${n.id} malicious`);
      continue;
    }
    const mark = n.verified ? '✅' : '❌';
    const from = n.source ? ` from ${n.source}` : '';
    const peers = n.peers_served_from ? ` (${n.peers_served_from} peer(s))` : '';
    say(
      `   ${mark} ${n.id} ${n.role}: ${n.version ?? 'no verified package'}${from}${peers}${n.error ? ` (${n.error})` : ''}`,
    );
  }
  const inj = Object.entries(r.injected).filter(([, v]) => v > 0);
  if (inj.length) say(`   Injected: ${inj.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  say(
    `   Rejected: forged_announcements=${r.rejected.forged_announcements}, bad_chunks=${r.rejected.bad_chunks}, refused_peers=${r.rejected.refused_peers}`,
  );
  say(`   Run kept in ${r.run_dir}`);
}

async function scenario(
  o: ScenarioFlags,
  env: CommandEnv,
  malicious: number,
  title: string,
  extra: Partial<ScenarioOptions> = {},
): Promise<number> {
  const version = versionFlag(o.version);
  const method = methodFlag(o.method);
  const nodes = intFlag(o.nodes, '--nodes', 1, 64) as number;
  const platform = platformFlag(o.platform ?? hostPlatform(process.platform, process.arch));
  const packageBytes = intFlag(o.packageSize, '--package-size', 1, 256 * 1024 * 1024) as number;
  const chunkSize = chunkSizeFlag(o.chunkSize);
  const timeoutMs = parseDuration(o.timeout, '--timeout') * 1000;
  if (version === '0.0.1' && malicious > 0)
    throw new UsageError(
      '--version',
      '0.0.1 is the old release chaos-byzantine replays; pick a later version',
    );
  const report = await runScenario({
    home: env.paths.home,
    version,
    method,
    nodes,
    malicious,
    platform,
    packageBytes,
    chunkSize,
    timeoutMs,
    now: env.ctx.now(),
    note: (s) => env.out.note(s),
    ...extra,
  });
  summarize(env, report, title);
  env.out.result(report);
  return report.ok ? 0 : EXIT_OPERATIONAL;
}

export function distribute(o: ScenarioFlags, env: CommandEnv): Promise<number> {
  return scenario(o, env, 0, 'distribute-update');
}

export function chaosByzantine(
  o: ScenarioFlags & { maliciousNodes: string },
  env: CommandEnv,
): Promise<number> {
  const k = intFlag(o.maliciousNodes, '--malicious-nodes', 0, 32) as number;
  return scenario(o, env, k, 'chaos-byzantine');
}

export function chaosMirrors(
  o: ScenarioFlags & { failRate: string; mirrors: string; seed?: string },
  env: CommandEnv,
): Promise<number> {
  const failRate = Number(o.failRate);
  if (!/^\d*\.?\d+$/.test(o.failRate.trim()) || !(failRate >= 0 && failRate <= 1))
    throw new UsageError('--fail-rate', `'${o.failRate.slice(0, 40)}' is not a number from 0 to 1`);
  const count = intFlag(o.mirrors, '--mirrors', 1, 16) as number;
  const seed = (o.seed ?? randomBytes(6).toString('hex')).slice(0, 64);
  return scenario(o, env, 0, 'chaos-mirrors', { chaosMirrors: { count, failRate, seed } });
}

export function chaosPartition(o: ScenarioFlags & { duration: string }, env: CommandEnv): Promise<number> {
  const seconds = parseDuration(o.duration, '--duration');
  if (seconds < 2 || seconds > 3600)
    throw new UsageError('--duration', `${o.duration.slice(0, 40)}: between 2s and 1h`);
  if (Number(o.nodes) < 2) throw new UsageError('--nodes', 'a partition needs at least 2 nodes');
  if (o.method !== 'gossip')
    throw new UsageError(
      '--method',
      'chaos-partition spreads the release over gossip (the half that has it announces)',
    );
  return scenario(o, env, 0, 'chaos-partition', { partitionMs: seconds * 1000 });
}

export async function verifyDistribution(o: { version: string }, env: CommandEnv): Promise<number> {
  const version = versionFlag(o.version);
  const report = await recheckLast(env.paths.home, version, env.ctx.now());
  summarize(env, report, 'verify-distribution');
  env.out.result(report);
  if (report.ok) return 0;
  const security = report.nodes.some(
    (n) =>
      n.error &&
      /^E_(HASH|SIZE|TOO_LARGE|SIGNATURE|UNTRUSTED|THRESHOLD|EXPIRED|ROLLBACK|WRONG|CHUNK)/.test(n.error),
  );
  return security ? EXIT_SECURITY : EXIT_OPERATIONAL;
}

/** Internal: runs one malicious node until SIGTERM (spawned by chaos-byzantine). */
export async function maliciousNode(
  o: { plan: string; bootstrap: string[] },
  env: CommandEnv,
): Promise<number> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(resolve(env.ctx.cwd, o.plan), 'utf8'));
  } catch (cause) {
    throw new UsageError('--plan', `cannot read ${o.plan}`, { cause });
  }
  const plan = parseWith(AttackPlanSchema, raw, 'attack plan');
  const node = await startMaliciousNode(env.paths, plan, o.bootstrap);
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  if (!env.ctx.onShutdown) {
    await node.stop();
    throw new DchatError('E_INTERNAL', 'a malicious node needs a shutdown hook');
  }
  env.ctx.onShutdown(async () => {
    await node.stop();
    resolveDone();
  });
  env.out.record({ event: 'started', peer_id: node.peerId, addresses: node.addresses, role: 'malicious' });
  await done;
  return 0;
}
