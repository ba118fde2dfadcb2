/**
 * The dashboard's upgrade panels (issue 13): the proposal with its tally, the stake approving and
 * ready, a countdown to the activation height; and every node's switch and rollback as its
 * supervisor's journal records them. Pure: statuses and journals in, documents out.
 */
import type { StatusResult } from '../model/control.ts';
import type { GovernanceStatusResult } from '../model/governance-control.ts';

export interface UpgradeProposal {
  id: string;
  title: string;
  version: string;
  fork: string;
  status: string;
  yes: number;
  no: number;
  abstain: number;
  voters: number;
  /** Share of all token weight that voted, against the quorum. */
  turnout: number;
  quorum: string;
  quorum_reached: boolean;
  passed: boolean;
  approving_stake: number;
  total_stake: number;
  approval_threshold: string;
  approval_reached: boolean;
  ready_stake: number;
  ready_share: string;
  ready_validators: string[];
  activation_height: number;
  /** Blocks until the activation height (0 once reached; null: no height known). */
  blocks_left: number | null;
  /** Estimated seconds until then, at the network's block interval (null: unknown). */
  eta_s: number | null;
  /** Voting time left (s). */
  voting_left_s: number;
}

export interface UpgradeRollback {
  who: string;
  stake: number;
  version: string;
  to: string;
  height: number | null;
  reason: string;
  at: string;
}

export interface UpgradePanel {
  network_id: string;
  height: number | null;
  proposals: UpgradeProposal[];
  rollbacks: UpgradeRollback[];
}

/** Proposals shown (newest first). */
const MAX_PANEL_PROPOSALS = 4;

export function upgradePanel(st: GovernanceStatusResult, blockIntervalMs: number | null): UpgradePanel {
  const height = st.now.height;
  return {
    network_id: st.network_id,
    height,
    proposals: st.proposals.slice(0, MAX_PANEL_PROPOSALS).map((p) => {
      const left = height === null ? null : Math.max(0, p.activation_height - height);
      return {
        id: p.id,
        title: p.title,
        version: p.version,
        fork: p.fork,
        status: p.status,
        yes: p.tally.yes,
        no: p.tally.no,
        abstain: p.tally.abstain,
        voters: p.tally.voters,
        turnout: p.tally.total_weight > 0 ? p.tally.voted / p.tally.total_weight : 0,
        quorum: p.tally.quorum,
        quorum_reached: p.tally.quorum_reached,
        passed: p.tally.passed,
        approving_stake: p.approving_stake,
        total_stake: p.total_stake,
        approval_threshold: p.approval_threshold,
        approval_reached: p.approval_reached,
        ready_stake: p.ready_stake,
        ready_share: p.ready_share,
        ready_validators: p.ready_validators.map((v) => v.key_id),
        activation_height: p.activation_height,
        blocks_left: left,
        eta_s: left === null || blockIntervalMs === null ? null : Math.round((left * blockIntervalMs) / 1000),
        voting_left_s: Math.ceil(p.time_left_ms / 1000),
      };
    }),
    rollbacks: st.rollbacks.map((r) => ({
      who: r.key_id ?? `node ${r.signer.slice(0, 12)}`,
      stake: r.stake,
      version: r.version,
      to: r.to,
      height: r.height,
      reason: r.reason,
      at: new Date(r.time_ms).toISOString(),
    })),
  };
}

/** A switch or rollback as a supervisor's journal records it (activation/versions.ts history). */
export interface JournalEntry {
  kind: 'switch' | 'rollback' | 'mark-successful';
  from: string | null;
  to: string;
  at: string;
  height: number | null;
  downtime_ms: number | null;
}

export interface ActivationEvent {
  /** Unix ms of the switch or rollback. */
  t: number;
  node: string;
  kind: 'switch' | 'rollback';
  from: string | null;
  to: string;
  height: number | null;
  downtime_ms: number | null;
}

/** Events shown (newest last). */
const MAX_EVENTS = 50;

/**
 * The switches and rollbacks of every node, from their supervisors' journals (which survive the
 * restart of the node that serves the dashboard), in time order, the newest MAX_EVENTS.
 */
export function activationEvents(
  journals: readonly { id: string; history: readonly JournalEntry[] }[],
): ActivationEvent[] {
  const out: ActivationEvent[] = [];
  for (const j of journals)
    for (const e of j.history) {
      if (e.kind === 'mark-successful') continue;
      const t = Date.parse(e.at);
      if (!Number.isFinite(t)) continue;
      out.push({
        t,
        node: j.id,
        kind: e.kind,
        from: e.from,
        to: e.to,
        height: e.height,
        downtime_ms: e.downtime_ms,
      });
    }
  return out.sort((a, b) => a.t - b.t || (a.node < b.node ? -1 : 1)).slice(-MAX_EVENTS);
}

/** What a node's status says of activation (node/activation-node.ts ActivationStatus). */
export interface ActivationView {
  running_version?: string;
  next_action?: string;
  ready?: boolean;
  plan?: { version: string; activation_height: number } | null;
  rolled_back?: { version: string; to: string; at: string; reason: string }[];
}

export function activationOf(s: StatusResult | undefined): ActivationView | undefined {
  return (s as { activation?: ActivationView } | undefined)?.activation;
}
