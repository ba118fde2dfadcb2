/**
 * The upgrade harness's report (upgrade.ts drives the upgrade): per node what it runs, whether
 * that re-verifies, its switch, its patch; the mirror's copy; the fork rule the legacy node met;
 * and the late nodes' catch-up (started again once every other node switched, told nothing, they
 * must switch above the activation height within `lateBoundS` of their restart).
 */
import { join } from 'node:path';
import { toDchatError } from '../errors.ts';
import { packageName } from '../model/platform.ts';
import type { CatchUp, UpgradeDrive, UpgradeNodeReport, UpgradeReport } from './upgrade.ts';
import type { UpgradeNet, UpgradeNode } from './upgrade-net.ts';
import {
  govStatus,
  installedExe,
  journalOf,
  type NodeOutcome,
  type NodeView,
  networkHeight,
  nodeOutcome,
  nodeView,
  until,
  verifiedIn,
} from './upgrade-watch.ts';
export const DEFAULT_LATE_BOUND_S = 300;

/** Where a late node's restart happened, as the drive saw it. */
export interface Restart {
  at_ms: number;
  height: number | null;
  /** The network's height when its switch was seen. */
  switched_height?: number | null;
}

/**
 * A late node comes back: started again on its home (same port and bootstrap peers), told nothing.
 * Waits for its journal to settle (switch or rollback) and for it to run what the journal says.
 */
export async function catchUp(
  net: UpgradeNet,
  n: UpgradeNode,
  d: UpgradeDrive,
  outcomes: Map<string, NodeOutcome>,
  restarts: Map<string, Restart>,
  deadline: number,
): Promise<void> {
  const o = net.o;
  const at: Restart = { at_ms: Date.now(), height: await networkHeight(net) };
  restarts.set(n.id, at);
  d.note(`⏰ ${n.id} (${n.role}) started again at height ${at.height ?? '?'}: it must catch up by itself`);
  await net.restartNode(n.id);
  const limit = Math.min(deadline, at.at_ms + (d.lateBoundS ?? DEFAULT_LATE_BOUND_S) * 1000);
  const out = await until(
    `${n.id} to catch up and switch`,
    async () => {
      const x = nodeOutcome(await journalOf(n), o.from, o.to);
      return x.settled ? x : false;
    },
    limit,
    d.signal,
    1000,
  );
  outcomes.set(n.id, out);
  at.switched_height = await networkHeight(net);
  const secs = ((Date.now() - at.at_ms) / 1000).toFixed(0);
  d.note(
    out.rolledBack
      ? `↩️  ${n.id} (late): ${o.to} did not report healthy; rolled back to ${o.from}`
      : `🔀 ${n.id} (late) caught up and switched to ${o.to} at height ${out.switchEntry?.height} (~${secs} s after its restart)`,
  );
  await until(
    `${n.id} running what its journal says`,
    async () => (await nodeView(n, o.to)).running === (out.rolledBack ? o.from : o.to),
    limit + 60_000,
    d.signal,
    1000,
  );
}

/** What a late node's catch-up took, from its restart to its journaled switch. */
export async function catchUpReport(
  net: UpgradeNet,
  n: UpgradeNode,
  r: UpgradeNodeReport,
  at: Restart,
  activation: number | null,
  proposalId: string | null,
  d: UpgradeDrive,
): Promise<CatchUp> {
  // The journal's switch to `to` (or, for an unhealthy `to`, the rollback from it).
  const history = (await journalOf(n).catch(() => null))?.history ?? [];
  const entry = history.find((h) => h.to === net.o.to || (h.kind === 'rollback' && h.from === net.o.to));
  const switchedMs = entry ? Date.parse(entry.at) : Number.NaN;
  const seconds = Number.isFinite(switchedMs) ? Math.round((switchedMs - at.at_ms) / 100) / 10 : null;
  const seen = at.switched_height ?? null;
  const blocks = seen !== null && at.height !== null ? seen - at.height : null;
  const certificate = await govStatus(n)
    .then((g) => g.proposals.some((p) => p.id === proposalId && p.certificate))
    .catch(() => false);
  const bound = d.lateBoundS ?? DEFAULT_LATE_BOUND_S;
  return {
    restart_height: at.height,
    network_height_at_switch: seen,
    blocks,
    seconds,
    certificate,
    ok:
      certificate &&
      activation !== null &&
      r.switch_height !== null &&
      r.switch_height > activation &&
      seconds !== null &&
      seconds <= bound,
  };
}

/** Hard fork: an upgraded node refuses the legacy node. Soft fork: they still exchange hellos. */
export async function checkLegacy(
  net: UpgradeNet,
  d: UpgradeDrive,
  report: UpgradeReport,
  deadline: number,
): Promise<void> {
  const legacy = net.legacyNode as UpgradeNode;
  const upgraded = net.supervised.filter((n) => !n.late);
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

export async function nodeReport(
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
    late: n.late,
    catch_up: null,
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
export async function mirrorReport(net: UpgradeNet): Promise<UpgradeNodeReport> {
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
    late: false,
    catch_up: null,
    patch: null,
  };
}

/** The report's `patch` of a node from what it said before its switch. */
function patchReport(seen: NodeView | undefined): UpgradeNodeReport['patch'] {
  const f = seen?.fetched;
  if (!f) return null;
  return { used: f.patch !== null, target: f.patch, fetched_bytes: f.bytes, saved_bytes: f.saved_bytes };
}
