/**
 * What the dashboard shows, built from node statuses (the control protocol's `status`), and the
 * propagation history behind its chart: at each sample, how many nodes trust and how many hold
 * the verified package of each version. Pure: statuses and time in, documents out.
 */
import type { StatusResult } from '../model/control.ts';
import { compareVersions } from '../model/version.ts';
import { type ActivationEvent, activationOf, type UpgradePanel } from './upgrade.ts';

export interface DashboardNode {
  id: string;
  role: string;
  peer_id: string;
  /** The dchat version the node runs (its supervisor's current one once it switched). */
  version: string;
  /** The activation pump's next step (predownload, install, switch, wait...; null: none). */
  next_action: string | null;
  /** The approved release is installed (or downloaded, unsupervised): ready for the switch. */
  upgrade_ready: boolean;
  /** Highest verified package it holds (what it would switch to). */
  ready_version: string | null;
  highest_trusted: string | null;
  update_pending: boolean;
  connected_peers: number;
  banned_peers: number;
  fork_id: string;
  up: boolean;
  metrics_url: string | null;
  downloads: { target: string; state: string; error?: string }[];
}

export interface MirrorHealth {
  url: string;
  ok: boolean;
  latency_ms: number | null;
  error?: string;
}

/** A panel a later part plugs in (governance proposal and tally, activation countdown...). */
export interface ExtraPanel {
  id: string;
  title: string;
  rows: [string, string][];
}

export interface DashboardState {
  format: 'dchat.dashboard/1';
  title: string;
  now: string;
  nodes: DashboardNode[];
  mirrors: MirrorHealth[];
  channels: { name: string; latest: string | null }[];
  releases: { version: string; published_at: string }[];
  update_notice: { version: string; nodes_pending: number; nodes_ready: number } | null;
  history: { versions: string[]; t: number[]; trusted: number[][]; verified: number[][] };
  panels: ExtraPanel[];
  /** Governance: proposals with tally, stake approving and ready, countdown; rollback notes. */
  upgrade: UpgradePanel | null;
  /** Switches and rollbacks of the nodes, from their supervisors' journals. */
  events: ActivationEvent[];
}

export interface NodeInput {
  id: string;
  role: string;
  version: string;
  metricsUrl?: string | null;
  forkId?: string;
  status: StatusResult | undefined;
}

export function dashboardNode(n: NodeInput): DashboardNode {
  const s = n.status;
  const held = (s?.releases.packages ?? []).map((p) => p.version).sort(compareVersions);
  const trusted = s?.releases.highest_trusted ?? null;
  const a = activationOf(s);
  const version = a?.running_version ?? n.version;
  return {
    id: n.id,
    role: n.role,
    peer_id: s?.peer_id ?? '',
    version,
    next_action: a?.next_action && a.next_action !== 'none' ? a.next_action : null,
    upgrade_ready: a?.ready ?? false,
    ready_version: held[held.length - 1] ?? null,
    highest_trusted: trusted,
    update_pending: Boolean(trusted && compareVersions(trusted, version) > 0),
    connected_peers: s?.connected_peers.length ?? 0,
    banned_peers: s?.banned_peers.length ?? 0,
    fork_id: n.forkId ?? forkIdOf(s) ?? 'none',
    up: Boolean(s),
    metrics_url: n.metricsUrl ?? null,
    downloads: (s?.releases.downloads ?? []).map((d) => ({
      target: d.target,
      state: d.state,
      ...(d.error ? { error: d.error } : {}),
    })),
  };
}

/** The fork id a node's status reports (node/heights.ts), as hash/next. */
function forkIdOf(s: StatusResult | undefined): string | undefined {
  const f = (s as { fork?: { fork_id?: { hash: string; next: number } | null } | null } | undefined)?.fork
    ?.fork_id;
  return f ? `${f.hash}/${f.next}` : undefined;
}

/** The newest version any node trusts, with how many nodes have it pending and ready. */
export function updateNotice(nodes: readonly DashboardNode[]): DashboardState['update_notice'] {
  const newest = nodes
    .map((n) => n.highest_trusted)
    .filter((v): v is string => Boolean(v))
    .sort(compareVersions)
    .pop();
  if (!newest) return null;
  return {
    version: newest,
    nodes_pending: nodes.filter((n) => n.update_pending).length,
    nodes_ready: nodes.filter((n) => n.ready_version === newest).length,
  };
}

/** Samples kept for the chart: an hour at one per second. */
const MAX_SAMPLES = 3600;
const MAX_VERSIONS = 32;

/** Propagation over time: per version, nodes trusting it and nodes holding it verified. */
export class PropagationHistory {
  readonly versions: string[] = [];
  readonly t: number[] = [];
  readonly trusted: number[][] = [];
  readonly verified: number[][] = [];

  sample(nowMs: number, statuses: readonly (StatusResult | undefined)[]): void {
    for (const s of statuses) {
      for (const v of [s?.releases.highest_trusted, ...(s?.releases.packages ?? []).map((p) => p.version)])
        if (v && !this.versions.includes(v) && this.versions.length < MAX_VERSIONS) {
          this.versions.push(v);
          this.versions.sort(compareVersions);
          this.trusted.splice(
            this.versions.indexOf(v),
            0,
            this.t.map(() => 0),
          );
          this.verified.splice(
            this.versions.indexOf(v),
            0,
            this.t.map(() => 0),
          );
        }
    }
    this.t.push(Math.round(nowMs / 1000));
    for (const [i, v] of this.versions.entries()) {
      // A node trusts v once its highest trusted release is v or newer.
      (this.trusted[i] as number[]).push(
        statuses.filter(
          (s) => s?.releases.highest_trusted && compareVersions(s.releases.highest_trusted, v) >= 0,
        ).length,
      );
      (this.verified[i] as number[]).push(
        statuses.filter((s) => s?.releases.packages.some((p) => p.version === v)).length,
      );
    }
    if (this.t.length > MAX_SAMPLES) {
      this.t.shift();
      for (const row of [...this.trusted, ...this.verified]) row.shift();
    }
  }

  toJSON(): DashboardState['history'] {
    return { versions: this.versions, t: this.t, trusted: this.trusted, verified: this.verified };
  }
}
