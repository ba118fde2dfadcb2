/**
 * `dchat testnet --scenario upgrade` (issue 13): the testnet drives a governance upgrade by itself
 * (src/testnet/upgrade.ts on an UpgradeNet with metrics) while the operator watches the dashboard
 * and metrics URLs it prints; then it keeps running until SIGINT/SIGTERM, which stops every
 * process it started. Records under --json: `started` (DIR/testnet.json's document), `upgrade`
 * (the dchat-test upgrade report), `stopped`.
 */
import { join, resolve } from 'node:path';
import { DchatError, toDchatError, UsageError } from '../../errors.ts';
import { compareVersions } from '../../model/version.ts';
import { driveUpgrade } from '../../testnet/upgrade.ts';
import { UpgradeNet } from '../../testnet/upgrade-net.ts';
import {
  startUpgradeDashboard,
  upgradeTestnetInfo,
  writeUpgradeTestnetFiles,
} from '../../testnet/upgrade-testnet.ts';
import { versionFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';
import { forkFlag } from './upgrade-impl.ts';

export interface UpgradeTestnetFlags {
  from: string;
  to: string;
  fork: string;
  buildsDir?: string;
}

export interface UpgradeTestnetShape {
  dir: string;
  validators: number;
  relays: number;
  users: number;
  basePort: number;
  dashboard: { host: string; port: number } | undefined;
  platform: string;
}

export async function runUpgradeTestnet(
  o: UpgradeTestnetFlags,
  env: CommandEnv,
  t: UpgradeTestnetShape,
): Promise<number> {
  const from = versionFlag(o.from, '--from');
  const to = versionFlag(o.to, '--to');
  if (compareVersions(to, from) <= 0) throw new UsageError('--to', `${to} is not above --from ${from}`);
  const fork = forkFlag(o.fork);
  const say = (s: string) => (env.out.json ? env.out.note(s) : env.out.line(s));
  const stop = new AbortController();
  const net = new UpgradeNet({
    dir: t.dir,
    buildsDir: o.buildsDir ? resolve(env.ctx.cwd, o.buildsDir) : join(t.dir, 'builds'),
    from,
    to,
    unhealthy: false,
    validators: t.validators,
    relays: t.relays,
    users: t.users,
    legacy: true,
    platform: t.platform,
    healthTimeoutS: 90,
    metrics: true,
    now: env.ctx.now,
    note: say,
    signal: stop.signal,
  });
  let dashboard: Awaited<ReturnType<typeof startUpgradeDashboard>> | undefined;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  env.ctx.onShutdown?.(async () => {
    say('🛑 Stopping the testnet');
    stop.abort(new DchatError('E_INTERRUPTED', 'the testnet was stopped'));
    await dashboard?.close();
    await net.stop();
    resolveDone();
  });
  const startedAt = env.ctx.now().toISOString();
  await net.start();
  dashboard = await startUpgradeDashboard(
    net,
    t.dashboard?.host ?? '127.0.0.1',
    t.dashboard?.port ?? (t.basePort ? t.basePort + 1 : 0),
  );
  await writeUpgradeTestnetFiles(net, startedAt, dashboard.url);
  say(`✅ dchat testnet: ${net.nodes.length} nodes on ${from} in ${t.dir}`);
  for (const n of net.nodes)
    say(`   ${n.id.padEnd(6)} ${n.role.padEnd(9)} ${n.proc.peerId}  metrics ${n.proc.metricsUrl ?? '-'}`);
  say(`📊 Dashboard: ${dashboard.url}`);
  say(`📈 Prometheus: prometheus --config.file=${t.dir}/prometheus.yml (targets in prometheus-targets.json)`);
  say(`📄 ${t.dir}/testnet.json   Stop with Ctrl-C`);
  env.out.record({
    event: 'started',
    scenario: 'upgrade',
    ...upgradeTestnetInfo(net, startedAt, dashboard.url),
  });
  // The upgrade runs by itself; the testnet stays up after it, for the operator to look around.
  driveUpgrade(net, {
    fork,
    votingS: 30,
    graceBlocks: 60,
    timeoutMs: 20 * 60_000,
    note: say,
    signal: stop.signal,
  })
    .then(async (report) => {
      say(
        report.ok
          ? `🎉 Every node switched to ${to} at height ${report.activation_height}; the legacy node shows the ${fork} fork rule. Still running: Ctrl-C to stop.`
          : `❌ The upgrade did not complete: ${report.error ?? 'see the dashboard and DIR/<node>/node.log'}`,
      );
      env.out.record({ event: 'upgrade', ...report });
      await writeUpgradeTestnetFiles(net, startedAt, dashboard?.url ?? null);
    })
    .catch((err) => {
      if (!stop.signal.aborted) say(`❌ The upgrade stopped: ${toDchatError(err).message}`);
    });
  await done;
  env.out.record({ event: 'stopped' });
  return 0;
}
