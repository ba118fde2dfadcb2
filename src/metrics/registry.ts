/**
 * The node's Prometheus metrics (prom-client): the seed's ten (UPDATE_DISTRIBUTION.md "Metrics",
 * names and labels exactly as there), then gossip, peer, readiness and fork metrics, and the
 * process's own (RSS, CPU, open fds: what a soak compares). Event counters are fed through the
 * sink (src/metrics/sink.ts); what the node already counts (gossip, peers, chunks) is read from its
 * status at scrape time, so nothing is counted twice. Later parts of the node (governance,
 * activation) add their gauges with `addGauge` without touching this file.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { StatusResult } from '../model/control.ts';
import { compareVersions } from '../model/version.ts';
import { type MetricsSink, setMetricsSink } from './sink.ts';

/** What the metrics read from the node at each scrape. */
export interface NodeView {
  status(): StatusResult;
  /** The dchat version this process runs. */
  version: string;
  platform: string;
  /** The fork this node follows (EIP-2124 style id from the activation schedule), if known. */
  forkId?: () => string | undefined;
}

export interface GaugeSpec {
  name: string;
  help: string;
  labelNames?: string[];
  read: () => { labels?: Record<string, string>; value: number }[];
}

/** Download durations: from a cached hit to a slow 1 GiB over a throttled mirror. */
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

type Stats = {
  gossip?: Record<string, number>;
  adapter?: { sent_by_type?: Record<string, number>; received?: number; send_dropped?: number };
  bad_chunks?: number;
  chunks_served?: number;
  chunk_requests_refused?: number;
};

/** A counter that mirrors a running total the node keeps (it only ever moves up by the difference). */
function followTotal(c: Counter<string>, last: Map<string, number>, key: string, total: number, labels = {}) {
  const before = last.get(key) ?? 0;
  if (total > before) c.inc(labels, total - before);
  else if (total === before && !last.has(key)) c.inc(labels, 0);
  last.set(key, Math.max(before, total));
}

export class NodeMetrics implements MetricsSink {
  readonly registry = new Registry();
  private readonly view: NodeView;
  private readonly seen = new Map<string, number>();
  private readonly discovered: Counter<string>;
  private readonly downloads: Counter<'source_type'>;
  private readonly duration: Histogram<'source_type'>;
  private readonly failures: Counter<'source_type'>;
  private readonly verifications: Counter<'result'>;
  private readonly autoChecks: Counter<string>;
  private readonly autoDownloads: Counter<string>;
  private readonly autoInstalls: Counter<string>;
  private readonly deltaBytes: Counter<'algorithm'>;
  private readonly deltaFallbacks: Counter<'cause'>;
  private cached: { at: number; status: StatusResult } | undefined;

  constructor(view: NodeView) {
    this.view = view;
    const registers = [this.registry];
    const status = () => this.status();
    const stats = () => (status().stats ?? {}) as Stats;
    const seen = this.seen;

    // ---- the seed's ten -------------------------------------------------------------------------
    this.discovered = new Counter({
      name: 'dchat_update_versions_discovered_total',
      help: 'Versions this node came to trust that it did not trust before (gossip or mirror refresh)',
      registers,
    });
    new Counter({
      name: 'dchat_update_announcements_received_total',
      help: 'Version announcements received from peers (accepted, duplicate, replayed or invalid)',
      registers,
      collect() {
        const g = stats().gossip ?? {};
        const n = (g.accepted ?? 0) + (g.duplicates ?? 0) + (g.replays_ignored ?? 0) + (g.invalid ?? 0);
        followTotal(this, seen, 'received', n);
      },
    });
    new Counter({
      name: 'dchat_update_announcements_propagated_total',
      help: 'Version announcements this node sent to peers (its own and relayed)',
      registers,
      collect() {
        followTotal(this, seen, 'propagated', stats().adapter?.sent_by_type?.announce ?? 0);
      },
    });
    this.downloads = new Counter({
      name: 'dchat_update_downloads_total',
      help: 'Completed package downloads, per kind of source that delivered verified bytes',
      labelNames: ['source_type'],
      registers,
    });
    this.duration = new Histogram({
      name: 'dchat_update_download_duration_seconds',
      help: 'Duration of completed package downloads, per kind of source that took part',
      labelNames: ['source_type'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.failures = new Counter({
      name: 'dchat_update_download_failures_total',
      help: 'Source failures during package downloads (errors, stalls, bad data), per kind of source',
      labelNames: ['source_type'],
      registers,
    });
    this.verifications = new Counter({
      name: 'dchat_update_verifications_total',
      help: 'Whole-package checks against signed metadata, by result',
      labelNames: ['result'],
      registers,
    });
    for (const r of ['success', 'hash_fail', 'signature_fail']) this.verifications.inc({ result: r }, 0);
    for (const t of ['https', 'ipfs', 'bittorrent', 'peer']) {
      this.downloads.inc({ source_type: t }, 0);
      this.failures.inc({ source_type: t }, 0);
    }
    this.autoChecks = new Counter({
      name: 'dchat_update_auto_checks_total',
      help: 'Times the node looked on its own for a trusted release it lacks',
      registers,
    });
    this.autoDownloads = new Counter({
      name: 'dchat_update_auto_downloads_total',
      help: 'Releases the node downloaded and verified on its own',
      registers,
    });
    this.autoInstalls = new Counter({
      name: 'dchat_update_auto_installs_total',
      help: 'Releases the node switched to on its own',
      registers,
    });
    // ---- delta updates (issue 14) ---------------------------------------------------------------
    this.deltaBytes = new Counter({
      name: 'dchat_update_delta_bytes_saved_total',
      help: 'Bytes not fetched because a patch or compressed copy made the package, by algorithm',
      labelNames: ['algorithm'],
      registers,
    });
    this.deltaFallbacks = new Counter({
      name: 'dchat_update_delta_fallbacks_total',
      help: 'Patches or compressed copies that failed (the full package was fetched), by error code',
      labelNames: ['cause'],
      registers,
    });

    // ---- gossip ---------------------------------------------------------------------------------
    new Counter({
      name: 'dchat_gossip_messages_sent_total',
      help: 'Gossip messages sent, by message type',
      labelNames: ['type'],
      registers,
      collect() {
        for (const [type, n] of Object.entries(stats().adapter?.sent_by_type ?? {}))
          followTotal(this, seen, `sent:${type}`, n, { type });
      },
    });
    new Counter({
      name: 'dchat_gossip_frames_received_total',
      help: 'Gossip frames received from peers',
      registers,
      collect() {
        followTotal(this, seen, 'frames', stats().adapter?.received ?? 0);
      },
    });
    new Counter({
      name: 'dchat_gossip_dropped_total',
      help: 'Gossip messages dropped, by reason (invalid, malformed, rate limited, graylisted...)',
      labelNames: ['reason'],
      registers,
      collect() {
        const g = stats().gossip ?? {};
        for (const reason of [
          'invalid',
          'malformed',
          'too_large',
          'rate_limited',
          'graylisted',
          'validate_rate_limited',
          'broken_promises',
          'duplicates',
          'replays_ignored',
        ])
          followTotal(this, seen, `drop:${reason}`, g[reason] ?? 0, { reason });
      },
    });
    new Counter({
      name: 'dchat_peer_chunks_served_total',
      help: 'Package chunks served to peers',
      registers,
      collect() {
        followTotal(this, seen, 'served', stats().chunks_served ?? 0);
      },
    });
    new Counter({
      name: 'dchat_peer_bad_chunks_total',
      help: 'Chunks from peers that did not match the signed chunk table',
      registers,
      collect() {
        followTotal(this, seen, 'bad', stats().bad_chunks ?? 0);
      },
    });

    // ---- peers, readiness, fork -----------------------------------------------------------------
    new Gauge({
      name: 'dchat_peers_connected',
      help: 'Peers connected now',
      registers,
      collect() {
        this.set(status().connected_peers.length);
      },
    });
    new Gauge({
      name: 'dchat_peers_banned',
      help: 'Peers banned now (misbehaviour)',
      registers,
      collect() {
        this.set(status().banned_peers.length);
      },
    });
    new Gauge({
      name: 'dchat_gossip_mesh_peers',
      help: 'Peers in the gossip mesh now',
      registers,
      collect() {
        const mesh = (status() as { mesh_peers?: unknown }).mesh_peers;
        this.set(Array.isArray(mesh) ? mesh.length : 0);
      },
    });
    const v = this.view;
    new Gauge({
      name: 'dchat_node_info',
      help: 'This node: its version, role, platform, peer id and fork id (value 1)',
      labelNames: ['version', 'role', 'platform', 'peer_id', 'fork_id'],
      registers,
      collect() {
        const s = status();
        this.reset();
        this.set(
          {
            version: v.version,
            role: s.role,
            platform: v.platform,
            peer_id: s.peer_id,
            fork_id: v.forkId?.() ?? 'none',
          },
          1,
        );
      },
    });
    new Gauge({
      name: 'dchat_update_highest_trusted_info',
      help: 'The highest release version this node trusts (value 1; no series when none)',
      labelNames: ['version'],
      registers,
      collect() {
        this.reset();
        const h = status().releases.highest_trusted;
        if (h) this.set({ version: h }, 1);
      },
    });
    new Gauge({
      name: 'dchat_update_pending',
      help: '1 when a trusted release newer than the running version exists (update notification)',
      registers,
      collect() {
        const h = status().releases.highest_trusted;
        this.set(h && compareVersions(h, v.version) > 0 ? 1 : 0);
      },
    });
    new Gauge({
      name: 'dchat_update_ready',
      help: '1 when the verified package of the highest trusted release for this platform is held',
      registers,
      collect() {
        const r = status().releases;
        const ready = r.packages.some(
          (p) => p.version === r.highest_trusted && p.platform === v.platform && p.verified,
        );
        this.set(ready ? 1 : 0);
      },
    });
    new Gauge({
      name: 'dchat_update_packages_verified',
      help: 'Verified packages this node holds and serves',
      registers,
      collect() {
        this.set(status().releases.packages.length);
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'dchat_' });
    // Gauges named like counters (promtool rejects them); the same counts stay in the un-suffixed ones.
    for (const n of ['active_handles_total', 'active_requests_total', 'active_resources_total'])
      this.registry.removeSingleMetric(`dchat_nodejs_${n}`);
  }

  /** One status per scrape: every collector of the same scrape reads the same snapshot. */
  private status(): StatusResult {
    const now = performance.now();
    if (!this.cached || now - this.cached.at > 200) this.cached = { at: now, status: this.view.status() };
    return this.cached.status;
  }

  /** A gauge read at each scrape (governance tallies, activation countdown...). */
  addGauge(spec: GaugeSpec): void {
    new Gauge({
      name: spec.name,
      help: spec.help,
      labelNames: spec.labelNames ?? [],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of spec.read()) {
          if (s.labels) this.set(s.labels, s.value);
          else this.set(s.value);
        }
      },
    });
  }

  /** Makes this the process-wide sink of the update paths (until `close`). */
  install(): this {
    setMetricsSink(this);
    return this;
  }

  close(): void {
    setMetricsSink(undefined);
    this.registry.clear();
  }

  async text(): Promise<string> {
    this.cached = undefined;
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  // ---- MetricsSink ------------------------------------------------------------------------------

  versionDiscovered(_version: string): void {
    this.discovered.inc();
  }
  downloaded(sourceType: string, seconds: number): void {
    this.downloads.inc({ source_type: sourceType });
    this.duration.observe({ source_type: sourceType }, seconds);
  }
  downloadFailed(sourceType: string): void {
    this.failures.inc({ source_type: sourceType });
  }
  verified(result: 'success' | 'hash_fail' | 'signature_fail'): void {
    this.verifications.inc({ result });
  }
  autoCheck(): void {
    this.autoChecks.inc();
  }
  autoDownload(): void {
    this.autoDownloads.inc();
  }
  autoInstall(): void {
    this.autoInstalls.inc();
  }
  deltaSaved(algorithm: string, bytes: number): void {
    this.deltaBytes.inc({ algorithm }, bytes);
  }
  deltaFallback(cause: string): void {
    this.deltaFallbacks.inc({ cause });
  }
}
