/**
 * The governance-driven upgrade on a real multi-process testnet (issue 11 "Harness": `dchat-test
 * upgrade`; issue 13: `dchat testnet --scenario upgrade`; the README's demo). On an UpgradeNet
 * (upgrade-net.ts) every node runs `from`; then, with the CLI commands an operator types:
 * a holder proposes `to` (`governance propose-upgrade`, activation height = now + voting + grace),
 * holders vote, validators approve; during the grace period every supervised node pre-downloads,
 * verifies and installs `to` (node status: ready) and at the activation height every supervisor
 * switches. The report (spec/CLI.md "Test harness") says, per node, the version it ends on,
 * whether that version re-verifies against the signed metadata, where it came from, its switch
 * height; and the fork rule the legacy node met: refused by upgraded peers after a hard fork,
 * still talking after a soft one. With an unhealthy `to`, every supervisor must roll back.
 * Late nodes (issue 11: "a node offline during the grace period that comes back after the height
 * catches up, installs and switches at once") are stopped before the proposal and started again
 * once every other node switched: the harness tells them nothing; they must learn the certificate
 * and the height from their peers (anti-entropy), download, verify, install and switch by
 * themselves, above the activation height and within `lateBoundS` of their restart.
 */
import { DchatError, toDchatError } from '../errors.ts';
import type { ProposalStatus } from '../model/governance-control.ts';
import { cliJson } from './cli-run.ts';
import type { KeyFile } from './governance-net.ts';
import { type UpgradeNet, type UpgradeNode, validatorStakes } from './upgrade-net.ts';
import {
  catchUp,
  catchUpReport,
  checkLegacy,
  mirrorReport,
  nodeReport,
  type Restart,
} from './upgrade-report.ts';
import {
  govStatus,
  journalOf,
  type NodeOutcome,
  type NodeView,
  nodeOutcome,
  nodeView,
  until,
} from './upgrade-watch.ts';

export interface UpgradeDrive {
  fork: 'hard' | 'soft';
  /** Voting period in seconds (blocks are 1 s). */
  votingS: number;
  /** Blocks between the end of voting and the activation height: the pre-download window. */
  graceBlocks: number;
  /** Give up on the whole run after this long. */
  timeoutMs: number;
  /** A late node must have switched within this many seconds of its restart (default 300). */
  lateBoundS?: number;
  note: (line: string) => void;
  /** Aborted: stop waiting (the testnet is being stopped). */
  signal?: AbortSignal;
}

export interface UpgradeNodeReport {
  id: string;
  role: string;
  version: string | null;
  verified: boolean;
  source: string | null;
  switch_height: number | null;
  ready_height: number | null;
  downtime_ms: number | null;
  rolled_back: boolean;
  rejected: number;
  /** Offline from before the proposal until every other node switched. */
  late: boolean;
  /** A late node: how it caught up after its restart (null for the others). */
  catch_up: CatchUp | null;
  /**
   * How the node pre-downloaded `to` (issue 14), as its status said before the switch: whether a
   * patch made it, the bytes fetched, the bytes saved against the full package. Null when unknown
   * (not seen before its switch; the legacy node and the mirror download nothing).
   */
  patch: { used: boolean; target: string | null; fetched_bytes: number; saved_bytes: number } | null;
  error?: string;
}

export interface CatchUp {
  /** The network's height when it was started again (above the activation height). */
  restart_height: number | null;
  /**
   * The network's height when the drive saw its switch (or rollback) journaled. Its own
   * switch_height is the height it had accepted when it asked for the switch: catching up, it may
   * lag the network's by a few blocks.
   */
  network_height_at_switch: number | null;
  /** Blocks (network heights) and seconds (journal time) from its restart to its switch. */
  blocks: number | null;
  seconds: number | null;
  /** It holds the approved certificate (learned from its peers: the harness gives it nothing). */
  certificate: boolean;
  /** Its switch came after the activation height and within the bound. */
  ok: boolean;
}

export interface UpgradeReport {
  ok: boolean;
  version: string;
  from: string;
  method: 'governance';
  fork: 'hard' | 'soft';
  unhealthy: boolean;
  duration_ms: number;
  activation_height: number | null;
  proposal: {
    id: string;
    yes: number;
    no: number;
    abstain: number;
    quorum_reached: boolean;
    approving_stake: number;
  } | null;
  /** Hard fork: upgraded peers refused the legacy node. Soft fork: false (it kept talking). */
  old_version_refused: boolean;
  /** Soft fork: the legacy node exchanged hellos with an upgraded peer after the height. */
  legacy_kept_talking: boolean | null;
  /** --unhealthy: every supervised node switched, failed the health bound and rolled back. */
  rolled_back_everywhere: boolean;
  nodes: UpgradeNodeReport[];
  injected: Record<string, number>;
  rejected: { forged_announcements: number; bad_chunks: number; refused_peers: number };
  run_dir: string;
  error?: string;
}

const holderVotes = ['yes', 'yes', 'yes', 'no'] as const;

/** Proposes, votes, approves, waits for every switch (or rollback) and the fork rule; the report. */
export async function driveUpgrade(net: UpgradeNet, d: UpgradeDrive): Promise<UpgradeReport> {
  const t0 = Date.now();
  const deadline = t0 + d.timeoutMs;
  const o = net.o;
  const gov = net.gov;
  if (!gov) throw new DchatError('E_INTERNAL', 'the upgrade testnet is not started');
  const report: UpgradeReport = {
    ok: false,
    version: o.to,
    from: o.from,
    method: 'governance',
    fork: d.fork,
    unhealthy: o.unhealthy,
    duration_ms: 0,
    activation_height: null,
    proposal: null,
    old_version_refused: false,
    legacy_kept_talking: null,
    rolled_back_everywhere: false,
    nodes: [],
    injected: {},
    rejected: { forged_announcements: 0, bad_chunks: 0, refused_peers: 0 },
    run_dir: o.dir,
  };
  const views = new Map<string, NodeView>();
  const restarts = new Map<string, Restart>();
  let proposalId: string | null = null;
  const late = net.supervised.filter((n) => n.late);
  try {
    // Everything up to the switch goes through the nodes that are online; the late ones follow.
    const supervised = net.supervised.filter((n) => !n.late);
    const first = supervised[0] as UpgradeNode;
    const h0 = await until(
      'a height on every node',
      async () => {
        const hs = await Promise.all(net.nodes.map(async (n) => (await govStatus(n)).now.height));
        return hs.every((x) => typeof x === 'number') ? Math.max(...(hs as number[])) : false;
      },
      deadline,
      d.signal,
    );
    const activation = h0 + d.votingS + d.graceBlocks;
    report.activation_height = activation;
    for (const n of late) {
      await net.stopNode(n.id);
      d.note(
        `💤 ${n.id} (${n.role}) stopped before the proposal: down through the grace period and height ${activation}`,
      );
    }
    const cid = net.cids.get(o.to) ?? '';
    const dchat = <T>(n: UpgradeNode, args: string[]) =>
      cliJson<T>('dchat', ['--home', n.home, ...args], { timeoutMs: 60_000 });
    const proposed = await dchat<{ id: string }>(first, [
      'governance',
      'propose-upgrade',
      '--version',
      o.to,
      '--ipfs-cid',
      cid,
      '--mirrors',
      (net.mirror as { url: string }).url,
      '--activation-height',
      String(activation),
      '--fork',
      d.fork,
      ...(d.fork === 'soft' ? ['--min-compatible-version', o.from] : []),
      '--voting-period',
      `${d.votingS}s`,
      '--title',
      `dchat ${o.to}`,
      '--key',
      (gov.holders[0] as KeyFile).file,
    ]);
    proposalId = proposed.id;
    d.note(
      `🗳️  Proposal ${proposed.id.slice(0, 12)}: ${o.to}, ${d.fork} fork at height ${activation} (now ${h0}), voting ${d.votingS}s`,
    );
    for (const n of supervised)
      await until(
        `the proposal on ${n.id}`,
        async () => (await govStatus(n)).proposals.some((p) => p.id === proposed.id),
        deadline,
        d.signal,
      );
    // Votes and approvals go through different nodes, as holders and validators each use their
    // own; all at once (each is a CLI process, and the voting period is short).
    const stakes = validatorStakes(gov.validators.length);
    const total = stakes.reduce((a, b) => a + b, 0);
    let approving = 0;
    const approvers: { n: UpgradeNode; file: string }[] = [];
    for (const [i, v] of gov.validators.entries()) {
      if (approving * 100 >= total * 67) break;
      approvers.push({ n: net.node(`v${i}`), file: v.file });
      approving += stakes[i] as number;
    }
    await Promise.all([
      ...holderVotes.map((option, i) => {
        const n = supervised[i % supervised.length] as UpgradeNode;
        const key = (gov.holders[i] as KeyFile).file;
        return dchat(n, ['governance', 'vote', '--proposal', proposed.id, '--option', option, '--key', key]);
      }),
      ...approvers.map((a) =>
        dchat(a.n, ['governance', 'approve', '--proposal', proposed.id, '--key', a.file]),
      ),
    ]);
    d.note(
      `✍️  ${holderVotes.length} holders voted, validators holding ${approving} of ${total} stake approved`,
    );
    const approved = await until(
      'the certificate on every node',
      async () => {
        const ps = await Promise.all(
          supervised.map(async (n) => (await govStatus(n)).proposals.find((p) => p.id === proposed.id)),
        );
        return ps.every((p) => p?.certificate) ? (ps[0] as ProposalStatus) : false;
      },
      deadline,
      d.signal,
    );
    report.proposal = {
      id: approved.id,
      yes: approved.tally.yes,
      no: approved.tally.no,
      abstain: approved.tally.abstain,
      quorum_reached: approved.tally.quorum_reached,
      approving_stake: approved.approving_stake,
    };
    d.note(
      `✅ Approved: yes ${approved.tally.yes}, no ${approved.tally.no}, abstain ${approved.tally.abstain}; certificate on every node; grace period until height ${activation}`,
    );
    // The grace period: each node is seen ready (with the height then), or already switched.
    await until(
      'every node ready',
      async () => {
        await Promise.all(
          supervised.map(async (n) => {
            const prev = views.get(n.id);
            if (prev?.readyHeight !== undefined) return;
            const v = await nodeView(n, o.to);
            views.set(n.id, { ...v, readyHeight: v.ready ? (v.height ?? -1) : v.switched ? -1 : undefined });
          }),
        );
        return supervised.every((n) => views.get(n.id)?.readyHeight !== undefined);
      },
      deadline,
      d.signal,
      1000,
    );
    d.note(`📥 Every node pre-downloaded, verified and installed ${o.to}; waiting for height ${activation}`);
    // The switch (and, for an unhealthy build, the rollback) in every supervisor's journal.
    const outcomes = new Map<string, NodeOutcome>();
    await until(
      'the switch (or the rollback) on every node',
      async () => {
        for (const n of supervised) {
          if (outcomes.has(n.id)) continue;
          const out = nodeOutcome(await journalOf(n), o.from, o.to);
          if (!out.settled) continue;
          outcomes.set(n.id, out);
          d.note(
            out.rolledBack
              ? `↩️  ${n.id}: ${o.to} did not report healthy at height ${activation}; rolled back to ${o.from}`
              : `🔀 ${n.id} switched to ${o.to} at height ${out.switchEntry?.height} (${out.switchEntry?.downtime_ms} ms down)`,
          );
        }
        return outcomes.size === supervised.length;
      },
      deadline,
      d.signal,
      1000,
    );
    // Each node runs what its journal says (the new child healthy, or the old one back).
    await until(
      'every node running what its journal says',
      async () => {
        const vs = await Promise.all(supervised.map((n) => nodeView(n, o.to)));
        return vs.every(
          (v, i) => v.running === (outcomes.get(supervised[i]?.id ?? '')?.rolledBack ? o.from : o.to),
        );
      },
      deadline,
      d.signal,
      1000,
    );
    // The fork rule and the late nodes' catch-up side by side (each waits on the network).
    const settled = await Promise.allSettled([
      net.legacyNode && !o.unhealthy ? checkLegacy(net, d, report, deadline) : undefined,
      ...late.map((n) => catchUp(net, n, d, outcomes, restarts, deadline)),
    ]);
    for (const x of settled) if (x.status === 'rejected') throw x.reason;
    report.rolled_back_everywhere = o.unhealthy && [...outcomes.values()].every((x) => x.rolledBack);
  } catch (err) {
    if (d.signal?.aborted) throw err;
    report.error = toDchatError(err).message;
  }
  report.nodes = await Promise.all(net.nodes.map((n) => nodeReport(net, n, views.get(n.id))));
  for (const n of report.nodes) {
    const r = restarts.get(n.id);
    if (n.late && r)
      n.catch_up = await catchUpReport(net, net.node(n.id), n, r, report.activation_height, proposalId, d);
  }
  report.nodes.push(await mirrorReport(net));
  report.rejected.refused_peers = report.nodes.reduce((a, n) => a + n.rejected, 0);
  const honest = report.nodes.filter((n) => n.role !== 'legacy' && n.role !== 'mirror');
  // The nodes that were online switch at the height; a late node by its own rule (catch_up.ok).
  const allNew = honest.every(
    (n) =>
      n.version === o.to &&
      n.verified &&
      (n.late ? n.catch_up?.ok === true : n.switch_height === report.activation_height),
  );
  const forkRule =
    !net.legacyNode || (d.fork === 'hard' ? report.old_version_refused : report.legacy_kept_talking === true);
  // An unhealthy release never makes a run succeed: the nodes end on the old version (exit 1).
  report.ok = !o.unhealthy && report.error === undefined && allNew && forkRule;
  report.duration_ms = Date.now() - t0;
  return report;
}
