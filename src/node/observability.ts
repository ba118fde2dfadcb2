/**
 * A node's observability endpoints: `--metrics HOST:PORT` (Prometheus text at /metrics, a JSON
 * health document at /health) and `--dashboard HOST:PORT` (src/dashboard/: the node's status, its
 * mirrors and the propagation chart). prom-client and the dashboard are loaded only when asked for, so a node without the flags stays as small as before.
 */
import type { HttpEndpoint } from '../metrics/http.ts';
import type { GaugeSpec, NodeMetrics } from '../metrics/registry.ts';
import type { StatusResult } from '../model/control.ts';
import { compareVersions } from '../model/version.ts';
import { notesGauges } from './activation-notes.ts';
import type { DchatNode } from './daemon.ts';
import { forkIdLabel, heightGauges } from './heights.ts';

export interface ObservabilityOptions {
  metrics?: { host: string; port: number };
  dashboard?: { host: string; port: number };
  version: string;
}

export interface Observability {
  metricsUrl?: string;
  dashboardUrl?: string;
  /** Present with --metrics: where governance/activation add their gauges. */
  metrics?: NodeMetrics;
  addGauge(spec: GaugeSpec): void;
  close(): Promise<void>;
}

/** What /health answers: the node is up, and what an operator checks first. */
export function healthOf(st: StatusResult, version: string, platform: string) {
  const highest = st.releases.highest_trusted;
  return {
    status: 'ok' as const,
    peer_id: st.peer_id,
    role: st.role,
    version,
    started_at: st.started_at,
    connected_peers: st.connected_peers.length,
    highest_trusted: highest,
    update_pending: Boolean(highest && compareVersions(highest, version) > 0),
    ready: st.releases.packages.some((p) => p.version === highest && p.platform === platform),
  };
}

export async function startObservability(node: DchatNode, o: ObservabilityOptions): Promise<Observability> {
  const endpoints: HttpEndpoint[] = [];
  let metrics: NodeMetrics | undefined;
  const onAccepted = (r: { via: string; announcement: { version: string } }) => {
    if (r.via !== 'local') metrics?.versionDiscovered(r.announcement.version);
  };
  const out: Observability = {
    addGauge: (spec) => metrics?.addGauge(spec),
    close: async () => {
      node.off('release:accepted', onAccepted);
      await Promise.all(endpoints.map((e) => e.close()));
      metrics?.close();
    },
  };
  try {
    const platform = node.config.platform;
    if (o.metrics) {
      const { NodeMetrics } = await import('../metrics/registry.ts');
      const { startHttpEndpoint } = await import('../metrics/http.ts');
      const status = () => node.status();
      metrics = new NodeMetrics({
        status,
        version: o.version,
        platform,
        forkId: () => forkIdLabel(status),
      }).install();
      for (const g of [...heightGauges(status), ...notesGauges(status)]) metrics.addGauge(g);
      out.metrics = metrics;
      node.on('release:accepted', onAccepted);
      const m = metrics;
      const ep = await startHttpEndpoint(
        o.metrics.host,
        o.metrics.port,
        {
          '/metrics': async () => ({ type: m.contentType, body: await m.text() }),
          '/health': () => ({
            type: 'application/json',
            body: `${JSON.stringify(healthOf(node.status(), o.version, platform))}\n`,
          }),
        },
        '--metrics',
      );
      endpoints.push(ep);
      out.metricsUrl = `${ep.url}/metrics`;
    }
    if (o.dashboard) {
      const { startDashboard } = await import('../dashboard/server.ts');
      const { loadMirrors } = await import('../store/mirrors.ts');
      const { upgradeSourceFor } = await import('./dashboard-upgrade.ts');
      const d = await startDashboard(o.dashboard.host, o.dashboard.port, {
        title: `dchat node (${node.config.role})`,
        nodes: async () => [
          {
            id: 'this node',
            role: node.config.role,
            version: o.version,
            metricsUrl: out.metricsUrl ?? null,
            status: node.status(),
          },
        ],
        // Health as the node's downloads recorded it (mirrors.toml failure counts), not probed.
        mirrors: async () =>
          (await loadMirrors(node.paths)).mirrors.map((m) => ({
            url: m.uri,
            ok: m.failure_count === 0,
            latency_ms: m.latency_ms ?? null,
            ...(m.failure_count ? { error: `${m.failure_count} failure(s) in a row` } : {}),
          })),
        upgrade: () =>
          upgradeSourceFor([{ id: 'this node', home: node.paths.home }], () => node.governanceStatus()),
      });
      endpoints.push({ url: d.url, port: 0, close: d.close });
      out.dashboardUrl = d.url;
    }
  } catch (err) {
    await out.close();
    throw err;
  }
  return out;
}
