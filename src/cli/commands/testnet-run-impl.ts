/**
 * `dchat testnet` (spec/CLI.md "Node, governance, testnet"): starts src/testnet/local-net.ts, prints
 * every node and the dashboard and metrics URLs (with --json: one `{"event":"started",...}` record
 * holding DIR/testnet.json's document), optionally publishes a new release every --release-every,
 * and on SIGINT/SIGTERM stops every process it started.
 */
import { resolve } from 'node:path';
import { DchatError, UsageError } from '../../errors.ts';
import { parseDuration } from '../../model/duration.ts';
import { hostPlatform } from '../../model/platform.ts';
import { LocalTestnet } from '../../testnet/local-net.ts';
import { intFlag, platformFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';
import { VERSION } from '../version.ts';
import { parseHostPort } from './mirror-impl.ts';

export interface TestnetFlags {
  validators: string;
  relays: string;
  users: string;
  dir?: string;
  basePort?: string;
  dashboard?: string;
  releaseEvery?: string;
  platform?: string;
  packageSize: string;
  scenario?: string;
  from: string;
  to: string;
  fork: string;
  buildsDir?: string;
}

/** 1.0.0, 1.0.1, ... for the n-th release of the run. */
export function nthVersion(n: number): string {
  return `1.${Math.floor(n / 1000)}.${n % 1000}`;
}

export async function runTestnet(o: TestnetFlags, env: CommandEnv): Promise<number> {
  const validators = intFlag(o.validators, '--validators', 1, 32) as number;
  const relays = intFlag(o.relays, '--relays', 0, 64) as number;
  const users = intFlag(o.users, '--users', 0, 128) as number;
  const basePort =
    intFlag(o.basePort, '--base-port', 1024, 65535 - 12 - 2 * (validators + relays + users)) ?? 0;
  const dashboard = o.dashboard !== undefined ? parseHostPort(o.dashboard, '--dashboard') : undefined;
  const everyMs = o.releaseEvery !== undefined ? parseDuration(o.releaseEvery, '--release-every') * 1000 : 0;
  if (o.releaseEvery !== undefined && everyMs < 5000)
    throw new UsageError('--release-every', 'at least 5s (each release must have time to spread)');
  const packageBytes = intFlag(o.packageSize, '--package-size', 1, 256 * 1024 * 1024) as number;
  const platform = platformFlag(o.platform ?? hostPlatform(process.platform, process.arch));
  const dir = resolve(env.ctx.cwd, o.dir ?? `${env.paths.home}/testnet/local`);
  if (!env.ctx.onShutdown) throw new DchatError('E_INTERNAL', 'testnet needs a shutdown hook');
  if (o.scenario !== undefined) {
    if (o.scenario !== 'upgrade')
      throw new UsageError('--scenario', `'${o.scenario.slice(0, 40)}' is not a scenario (upgrade is)`);
    if (o.releaseEvery !== undefined)
      throw new UsageError('--release-every', 'not with --scenario upgrade (it publishes its own releases)');
    const { runUpgradeTestnet } = await import('./testnet-upgrade-impl.ts');
    return runUpgradeTestnet(o, env, { dir, validators, relays, users, basePort, dashboard, platform });
  }

  const say = (s: string) => (env.out.json ? env.out.note(s) : env.out.line(s));
  const net = new LocalTestnet({
    dir,
    validators,
    relays,
    users,
    basePort,
    platform,
    packageBytes,
    chunkSize: 64 * 1024,
    firstVersion: nthVersion(0),
    now: env.ctx.now,
    note: say,
  });
  let stopping = false;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  let timer: NodeJS.Timeout | undefined;
  env.ctx.onShutdown(async () => {
    stopping = true;
    if (timer) clearInterval(timer);
    say('🛑 Stopping the testnet');
    await net.stop();
    resolveDone();
  });
  await net.start();
  // The testnet dashboard (src/dashboard/) comes up beside the nodes.
  await net.startDashboard(
    dashboard?.host ?? '127.0.0.1',
    dashboard?.port ?? (basePort ? basePort + 1 : 0),
    VERSION,
  );
  await net.writeInfo();
  const info = net.info();
  say(`✅ dchat testnet: ${info.nodes.length} nodes in ${dir}`);
  for (const n of info.nodes) say(`   ${n.id} ${n.role.padEnd(9)} ${n.peer_id}  metrics ${n.metrics_url}`);
  say(`📊 Dashboard: ${info.dashboard_url}`);
  say(`📈 Prometheus: prometheus --config.file=${dir}/prometheus.yml (targets in prometheus-targets.json)`);
  say(`📄 ${dir}/testnet.json   Stop with Ctrl-C`);
  env.out.record({ event: 'started', ...info });
  if (everyMs) {
    let n = 1;
    let busy = false;
    timer = setInterval(() => {
      if (busy || stopping) return;
      busy = true;
      const version = nthVersion(n++);
      net
        .publish(version)
        .then(() => env.out.record({ event: 'published', version }))
        .catch((err: Error) => say(`⚠️  publishing ${version} failed: ${err.message}`))
        .finally(() => {
          busy = false;
        });
    }, everyMs);
  }
  await done;
  env.out.record({ event: 'stopped' });
  return 0;
}
