/**
 * A node's observability endpoints: `--metrics HOST:PORT` (Prometheus text at /metrics, a JSON
 * health document at /health) prom-client is loaded only when asked for, so a node without the flags stays as small as before.
 */
import type { HttpEndpoint } from '../metrics/http.ts';
import type { GaugeSpec, NodeMetrics } from '../metrics/registry.ts';
import type { StatusResult } from '../model/control.ts';
import { compareVersions } from '../model/version.ts';
import type { DchatNode } from './daemon.ts';
import { forkIdLabel, heightGauges } from './heights.ts';

export interface ObservabilityOptions {
  metrics?: { host: string; port: number };
  version: string;
}

export interface Observability {
  metricsUrl?: string;
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
  const { startHttpEndpoint } = await import('../metrics/http.ts');
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
      const status = () => node.status();
      metrics = new NodeMetrics({
        status,
        version: o.version,
        platform,
        forkId: () => forkIdLabel(status),
      }).install();
      for (const g of heightGauges(status)) metrics.addGauge(g);
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
  } catch (err) {
    await out.close();
    throw err;
  }
  return out;
}
