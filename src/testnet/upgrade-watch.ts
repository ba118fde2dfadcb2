/**
 * What the upgrade harness reads from a running node and its home: `node status` over the control
 * socket (running version, readiness, the fork guard's refusals and the hellos it heard) and the
 * supervisor's journal (activation/journal.json: switch, rollback, mark-successful), and a fresh
 * re-verification of a file against the node's own trusted metadata.
 */
import { type HistoryEntry, type Journal, readJournal, versionPaths } from '../activation/versions.ts';
import { trustOffline } from '../download/trust-session.ts';
import { verifyFile } from '../download/verify-file.ts';
import { DchatError, toDchatError } from '../errors.ts';
import type { StatusResult } from '../model/control.ts';
import type { GovernanceStatusResult } from '../model/governance-control.ts';
import { controlRequest } from '../node/control.ts';
import { homePaths } from '../store/home.ts';
import { sleep } from '../util/sleep.ts';
import type { UpgradeNet, UpgradeNode } from './upgrade-net.ts';

export type PackageFetched = NonNullable<StatusResult['releases']['packages'][number]['fetched']>;

export interface NodeView {
  running: string | null;
  ready: boolean;
  /** Running `to` already. */
  switched: boolean;
  height: number | null;
  /** Where the node's copy of `to` came from (https, peer, ipfs...), if it holds one. */
  source: string | null;
  /** How the node's copy of `to` was fetched (status `fetched`: bytes, the patch used), if it said. */
  fetched: PackageFetched | null;
  refused: number;
  refusedPeer: string | null;
  /** Peer id -> the version its hello said. */
  helloFrom: Map<string, string>;
  /** The height at which the harness first saw the node ready (-1: seen already switched). */
  readyHeight?: number | undefined;
}

interface StatusParts {
  activation?: { running_version?: string; ready?: boolean; height?: number | null };
  height?: { height?: number | null } | null;
  fork?: {
    refused_peers?: number;
    last_refusal?: { peer?: string } | null;
    peers?: Record<string, { version?: string }>;
  } | null;
}

/** One look at a running node (throws when it does not answer). */
export async function nodeView(n: UpgradeNode, to: string): Promise<NodeView> {
  const st = (await controlRequest(homePaths(n.home), 'status', {}, 10_000)) as StatusResult & StatusParts;
  const running = st.activation?.running_version ?? null;
  const hello = new Map<string, string>();
  for (const [peer, h] of Object.entries(st.fork?.peers ?? {})) if (h.version) hello.set(peer, h.version);
  return {
    running,
    ready: st.activation?.ready === true,
    switched: running === to,
    height: st.activation?.height ?? st.height?.height ?? null,
    source: st.releases.packages.find((p) => p.version === to)?.source ?? null,
    fetched: st.releases.packages.find((p) => p.version === to)?.fetched ?? null,
    refused: st.fork?.refused_peers ?? 0,
    refusedPeer: st.fork?.last_refusal?.peer ?? null,
    helloFrom: hello,
  };
}

export function journalOf(n: UpgradeNode): Promise<Journal> {
  return readJournal(versionPaths(homePaths(n.home)));
}

export interface NodeOutcome {
  /** The journal's switch from `from` to `to` (kept only once `to` proved healthy). */
  switchEntry: HistoryEntry | undefined;
  /** The supervisor went back from `to` to `from` (`to` did not report healthy in time). */
  rolledBack: boolean;
  /** The switch is over, one way or the other. */
  settled: boolean;
}

export function nodeOutcome(j: Journal, from: string, to: string): NodeOutcome {
  const switchEntry = j.history.find((h) => h.kind === 'switch' && h.to === to);
  const rolledBack = j.history.some((h) => h.kind === 'rollback' && h.from === to && h.to === from);
  return { switchEntry, rolledBack, settled: switchEntry !== undefined || rolledBack };
}

/** Rechecks `file` as `version` against the trusted metadata held in `home` (offline). */
export async function verifiedIn(
  home: string,
  file: string,
  version: string,
  platform: string,
): Promise<boolean> {
  try {
    const trusted = await trustOffline(homePaths(home), new Date());
    return (await verifyFile(trusted, file, version, platform)).verdict.ok;
  } catch {
    return false;
  }
}

/** The executable of an installed version in a node's home. */
export function installedExe(home: string, version: string): string {
  return versionPaths(homePaths(home)).exe(version);
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

/** `governance status` of a node over its control socket. */
export async function govStatus(n: UpgradeNode): Promise<GovernanceStatusResult> {
  return controlRequest(homePaths(n.home), 'governance_status', {}, 10_000);
}

/** The highest height the nodes that were online report now (null: none answers). */
export async function networkHeight(net: UpgradeNet): Promise<number | null> {
  const online = net.supervised.filter((x) => !x.late);
  const heights = await Promise.all(
    online.map((x) =>
      govStatus(x)
        .then((g) => g.now.height)
        .catch(() => null),
    ),
  );
  const known = heights.filter((h): h is number => typeof h === 'number');
  return known.length ? Math.max(...known) : null;
}
