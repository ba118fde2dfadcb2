/**
 * `dchat testnet --scenario upgrade` (issue 13): an UpgradeNet with --metrics on every node, the
 * testnet dashboard (src/dashboard/) with an "Upgrade" panel (the proposal, its tally and approving
 * stake, the activation height and the blocks left, each node ready / switched / rolled back), and
 * DIR/testnet.json with the Prometheus files, while driveUpgrade runs the upgrade by itself.
 */
import type { Dashboard } from '../dashboard/server.ts';
import type { ExtraPanel, MirrorHealth } from '../dashboard/state.ts';
import type { GovernanceStatusResult } from '../model/governance-control.ts';
import { controlRequest } from '../node/control.ts';
import { homePaths } from '../store/home.ts';
import { type TestnetInfo, writeTestnetFiles } from './local-net.ts';
import type { UpgradeNet } from './upgrade-net.ts';

type NodeStatus = Awaited<ReturnType<typeof statusOf>>;

async function statusOf(home: string) {
  return controlRequest(homePaths(home), 'status', {}, 5000).catch(() => undefined);
}

interface Extra {
  activation?: { running_version?: string; ready?: boolean; rolled_back?: unknown[] };
  fork?: { fork_id?: { hash: string; next: number } | null } | null;
}

export function upgradeTestnetInfo(
  net: UpgradeNet,
  startedAt: string,
  dashboardUrl: string | null,
): TestnetInfo {
  return {
    format: 'dchat.testnet/1',
    dir: net.o.dir,
    started_at: startedAt,
    mirror: { url: net.mirror?.url ?? '', ca_cert: '' },
    dashboard_url: dashboardUrl,
    nodes: net.nodes.map((n) => ({
      id: n.id,
      role: n.role,
      peer_id: n.proc.peerId,
      pid: n.proc.child.pid,
      home: n.home,
      addresses: n.proc.addresses,
      metrics_url: n.proc.metricsUrl ?? null,
      dashboard_url: n.proc.dashboardUrl ?? null,
    })),
    releases: [net.o.from, net.o.to].map((version) => ({ version, published_at: startedAt })),
  };
}

export async function writeUpgradeTestnetFiles(net: UpgradeNet, startedAt: string, url: string | null) {
  await writeTestnetFiles(upgradeTestnetInfo(net, startedAt, url));
}

async function mirrorHealth(url: string): Promise<MirrorHealth> {
  const t0 = performance.now();
  try {
    const res = await fetch(`${url}/metadata/timestamp.json`, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
    return {
      url,
      ok: res.ok,
      latency_ms: Math.round(performance.now() - t0),
      ...(res.ok ? {} : { error: `HTTP ${res.status}` }),
    };
  } catch (err) {
    return { url, ok: false, latency_ms: null, error: (err as Error).message };
  }
}

function upgradePanel(
  net: UpgradeNet,
  gov: GovernanceStatusResult | undefined,
  sts: NodeStatus[],
): ExtraPanel {
  const rows: [string, string][] = [];
  const p = gov?.proposals.find((x) => x.version === net.o.to);
  const height = gov?.now.height ?? null;
  if (!p) rows.push(['Proposal', `not yet: every node runs ${net.o.from}`]);
  else {
    rows.push(['Proposal', `${p.id.slice(0, 12)}: dchat ${p.version}, ${p.fork} fork (${p.status})`]);
    rows.push([
      'Tally',
      `yes ${p.tally.yes}, no ${p.tally.no}, abstain ${p.tally.abstain}; quorum ${p.tally.quorum_reached ? 'reached' : 'not yet'}`,
    ]);
    rows.push(['Approving stake', `${p.approving_stake} of ${p.total_stake}`]);
    const left = height === null ? '?' : Math.max(0, p.activation_height - height);
    rows.push(['Activation', `height ${p.activation_height} (now ${height ?? '?'}, ${left} blocks left)`]);
  }
  net.nodes.forEach((n, i) => {
    const a = (sts[i] as Extra | undefined)?.activation;
    const state = !sts[i]
      ? 'not answering (switching?)'
      : n.role === 'legacy'
        ? `kept on ${net.o.from}`
        : a?.rolled_back?.length
          ? `rolled back to ${a.running_version}`
          : a?.running_version === net.o.to
            ? `switched to ${net.o.to}`
            : a?.ready
              ? `ready: ${net.o.to} installed`
              : `running ${a?.running_version ?? '?'}`;
    rows.push([n.id, state]);
  });
  return { id: 'upgrade', title: `Upgrade ${net.o.from} → ${net.o.to}`, rows };
}

/** The testnet dashboard for an upgrade run. */
export async function startUpgradeDashboard(net: UpgradeNet, host: string, port: number): Promise<Dashboard> {
  const { startDashboard } = await import('../dashboard/server.ts');
  let last: NodeStatus[] = [];
  return startDashboard(host, port, {
    title: `dchat testnet upgrade ${net.o.from} → ${net.o.to} (${net.nodes.length} nodes)`,
    nodes: async () => {
      last = await Promise.all(net.nodes.map((n) => statusOf(n.home)));
      return net.nodes.map((n, i) => {
        const st = last[i] as (NodeStatus & Extra) | undefined;
        const f = st?.fork?.fork_id;
        return {
          id: n.id,
          role: n.role,
          version: st?.activation?.running_version ?? net.o.from,
          metricsUrl: n.proc.metricsUrl ?? null,
          ...(f ? { forkId: `${f.hash}/${f.next}` } : {}),
          status: st,
        };
      });
    },
    mirrors: async () => (net.mirror ? [await mirrorHealth(net.mirror.url)] : []),
    releases: () => [net.o.from, net.o.to].map((version) => ({ version, published_at: '' })),
    panels: async () => {
      const first = net.supervised[0];
      const gov = first
        ? await controlRequest(homePaths(first.home), 'governance_status', {}, 5000).catch(() => undefined)
        : undefined;
      return [upgradePanel(net, gov, last)];
    },
    // The proposal, tally, stake ready, countdown, switches and rollbacks (dashboard/upgrade.ts).
    upgrade: async () =>
      (await import('../node/dashboard-upgrade.ts')).upgradeSourceFor(
        net.nodes.map((n) => ({ id: n.id, home: n.home })),
      ),
  });
}
