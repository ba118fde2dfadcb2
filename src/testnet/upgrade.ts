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
 */
import { join } from 'node:path';
import { DchatError, toDchatError } from '../errors.ts';
import type { GovernanceStatusResult, ProposalStatus } from '../model/governance-control.ts';
import { packageName } from '../model/platform.ts';
import { controlRequest } from '../node/control.ts';
import { homePaths } from '../store/home.ts';
import { sleep } from '../util/sleep.ts';
import { cliJson } from './cli-run.ts';
import type { KeyFile } from './governance-net.ts';
import { type UpgradeNet, type UpgradeNode, validatorStakes } from './upgrade-net.ts';
import {
  installedExe,
  journalOf,
  type NodeOutcome,
  type NodeView,
  nodeOutcome,
  nodeView,
  verifiedIn,
} from './upgrade-watch.ts';

export interface UpgradeDrive {
  fork: 'hard' | 'soft';
  /** Voting period in seconds (blocks are 1 s). */
  votingS: number;
  /** Blocks between the end of voting and the activation height: the pre-download window. */
  graceBlocks: number;
  /** Give up on the whole run after this long. */
  timeoutMs: number;
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
  /**
   * How the node pre-downloaded `to` (issue 14), as its status said before the switch: whether a
   * patch made it, the bytes fetched, the bytes saved against the full package. Null when unknown
   * (not seen before its switch; the legacy node and the mirror download nothing).
   */
  patch: { used: boolean; target: string | null; fetched_bytes: number; saved_bytes: number } | null;
  error?: string;
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

/** Polls `check` every `stepMs` until it returns a value (not false/undefined) or the deadline. */
export async function until<T>(
  what: string,
  check: () => Promise<T | false | undefined>,
  deadline: number,
  signal?: AbortSignal,
  stepMs = 500,
): Promise<T> {
  for (;;) {
    let last: unknown;
    try {
      const v = await check();
      if (v !== false && v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new DchatError(
        'E_TIMEOUT',
        `timed out waiting for ${what}${last ? ` (${toDchatError(last).message})` : ''}`,
      );
    await sleep(stepMs, signal);
  }
}

async function govStatus(n: UpgradeNode): Promise<GovernanceStatusResult> {
  return controlRequest(homePaths(n.home), 'governance_status', {}, 10_000);
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
  try {
    const supervised = net.supervised;
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
    if (net.legacyNode && !o.unhealthy) await checkLegacy(net, d, report, deadline);
    report.rolled_back_everywhere = o.unhealthy && [...outcomes.values()].every((x) => x.rolledBack);
  } catch (err) {
    if (d.signal?.aborted) throw err;
    report.error = toDchatError(err).message;
  }
  report.nodes = await Promise.all(net.nodes.map((n) => nodeReport(net, n, views.get(n.id))));
  report.nodes.push(await mirrorReport(net));
  report.rejected.refused_peers = report.nodes.reduce((a, n) => a + n.rejected, 0);
  const honest = report.nodes.filter((n) => n.role !== 'legacy' && n.role !== 'mirror');
  const allNew = honest.every(
    (n) => n.version === o.to && n.verified && n.switch_height === report.activation_height,
  );
  const forkRule =
    !net.legacyNode || (d.fork === 'hard' ? report.old_version_refused : report.legacy_kept_talking === true);
  // An unhealthy release never makes a run succeed: the nodes end on the old version (exit 1).
  report.ok = !o.unhealthy && report.error === undefined && allNew && forkRule;
  report.duration_ms = Date.now() - t0;
  return report;
}

/** Hard fork: an upgraded node refuses the legacy node. Soft fork: they still exchange hellos. */
async function checkLegacy(
  net: UpgradeNet,
  d: UpgradeDrive,
  report: UpgradeReport,
  deadline: number,
): Promise<void> {
  const legacy = net.legacyNode as UpgradeNode;
  const upgraded = net.supervised;
  const limit = Math.min(deadline, Date.now() + 60_000);
  if (d.fork === 'hard') {
    report.old_version_refused = await until(
      'an upgraded node refusing the legacy node',
      async () => {
        const vs = await Promise.all(upgraded.map((n) => nodeView(n, net.o.to)));
        return vs.some((v) => v.refusedPeer === legacy.proc.peerId);
      },
      limit,
      d.signal,
      1000,
    ).catch(() => false);
    d.note(
      report.old_version_refused
        ? `🚫 The legacy node (${net.o.from}) is refused by upgraded peers (fork id, /dchat/hello/1)`
        : `❌ No upgraded node refused the legacy node (${net.o.from}) after the hard fork`,
    );
    return;
  }
  report.legacy_kept_talking = await until(
    'the legacy node talking to an upgraded node',
    async () => {
      const vs = await Promise.all(upgraded.map((n) => nodeView(n, net.o.to)));
      const heard = vs.some((v) => v.helloFrom.get(legacy.proc.peerId) === net.o.from);
      const refused = vs.some((v) => v.refusedPeer === legacy.proc.peerId);
      return heard && !refused;
    },
    limit,
    d.signal,
    1000,
  ).catch(() => false);
  d.note(
    report.legacy_kept_talking
      ? `🤝 The legacy node (${net.o.from}) keeps talking to upgraded peers (soft fork, min_compatible_version ${net.o.from})`
      : `❌ The legacy node (${net.o.from}) lost its upgraded peers after the soft fork`,
  );
}

async function nodeReport(
  net: UpgradeNet,
  n: UpgradeNode,
  seen: NodeView | undefined,
): Promise<UpgradeNodeReport> {
  const base: UpgradeNodeReport = {
    id: n.id,
    role: n.role,
    version: null,
    verified: false,
    source: null,
    switch_height: null,
    ready_height: seen?.readyHeight !== undefined && seen.readyHeight >= 0 ? seen.readyHeight : null,
    downtime_ms: null,
    rolled_back: false,
    rejected: 0,
    patch: patchReport(seen),
  };
  try {
    const v = await nodeView(n, net.o.to);
    base.version = v.running;
    // Where the package came from, as the node said before the switch (a restarted node lists
    // what it holds as 'cache').
    base.source = seen?.source ?? v.source;
    base.rejected = v.refused;
    if (n.role === 'legacy') {
      base.verified =
        v.running === net.o.from &&
        (await verifiedIn(n.home, net.builds?.from as string, net.o.from, net.o.platform));
      return base;
    }
    const out = nodeOutcome(await journalOf(n), net.o.from, net.o.to);
    base.switch_height = out.switchEntry?.height ?? null;
    base.downtime_ms = out.switchEntry?.downtime_ms ?? null;
    base.rolled_back = out.rolledBack;
    base.verified =
      v.running !== null &&
      (await verifiedIn(n.home, installedExe(n.home, v.running), v.running, net.o.platform));
  } catch (err) {
    base.error = toDchatError(err).message;
  }
  return base;
}

/** The mirror's copy of `to`, rechecked against the first node's trusted metadata. */
async function mirrorReport(net: UpgradeNet): Promise<UpgradeNodeReport> {
  const first = net.supervised[0];
  const file = join(net.repoDir, 'packages', packageName(net.o.to, net.o.platform));
  return {
    id: 'mirror',
    role: 'mirror',
    version: net.o.to,
    verified: first ? await verifiedIn(first.home, file, net.o.to, net.o.platform) : false,
    source: null,
    switch_height: null,
    ready_height: null,
    downtime_ms: null,
    rolled_back: false,
    rejected: 0,
    patch: null,
  };
}

/** The report's `patch` of a node from what it said before its switch. */
function patchReport(seen: NodeView | undefined): UpgradeNodeReport['patch'] {
  const f = seen?.fetched;
  if (!f) return null;
  return { used: f.patch !== null, target: f.patch, fetched_bytes: f.bytes, saved_bytes: f.saved_bytes };
}
