/**
 * The activation schedule (DESIGN.md "Activate"): from an approved upgrade plan, the chain height
 * and what this node holds, the actions still to do, in order. Pure: the supervisor (the pump)
 * runs the first action, updates its state and asks again. Modelled on Cosmovisor (switch at the
 * plan's height, binaries prepared ahead) and Android A/B updates (a switched-to version is on
 * trial until it is marked successful; one that does not come up healthy is reverted).
 */
import { compareVersions } from '../../model/version.ts';

export type ForkKind = 'hard' | 'soft';

/** What an approved-upgrade certificate fixes (governance/), the inputs the schedule needs. */
export interface ActivationPlan {
  version: string;
  /** SHA-256 of the package the certificate approved. */
  target_sha256: string;
  activation_height: number;
  fork: ForkKind;
  min_compatible_version: string | null;
}

/** A height reading (governance/height-source.ts `HeightSource.current()`). */
export interface ChainPoint {
  height: number;
  time_ms: number;
}

/** A version switched to and not yet marked successful (Android's "unbooted" slot). */
export interface Trial {
  version: string;
  /** What to go back to if it does not come up healthy (null: nothing installed before). */
  previous: string | null;
  started_ms: number;
  /** The new child reported healthy (mark-successful is then due). */
  healthy: boolean;
}

/** What this node holds: the supervisor's view of $DCHAT_HOME/versions and packages. */
export interface LocalState {
  /** The version `current` points at, or null when none is installed. */
  current: string | null;
  /** Versions under versions/<v>/ whose executable matched its signed hash. */
  installed: readonly string[];
  /** Versions verified in packages/ (downloaded, not yet installed). */
  downloaded: readonly string[];
  trial: Trial | null;
  /** Versions rolled back here: never switched to again automatically. */
  rolled_back: readonly string[];
}

export interface ScheduleInput {
  plan: ActivationPlan | null;
  at: ChainPoint | null;
  state: LocalState;
  now_ms: number;
  /** How long a switched-to version has to report healthy. */
  health_bound_ms: number;
}

export type Action =
  | { kind: 'predownload'; version: string }
  | { kind: 'install'; version: string }
  | { kind: 'switch'; from: string | null; to: string; height: number }
  | { kind: 'health-check'; version: string; deadline_ms: number }
  | { kind: 'mark-successful'; version: string }
  | { kind: 'rollback'; from: string; to: string; reason: 'health-timeout' }
  | { kind: 'wait'; reason: string };

/** The actions still to do, first one first (never empty: `wait` says why nothing is due). */
export function scheduleActions(input: ScheduleInput): Action[] {
  const { plan, at, state } = input;
  const trial = state.trial;
  if (trial) {
    if (trial.healthy) return [{ kind: 'mark-successful', version: trial.version }];
    const deadline = trial.started_ms + input.health_bound_ms;
    if (input.now_ms < deadline)
      return [{ kind: 'health-check', version: trial.version, deadline_ms: deadline }];
    if (trial.previous === null)
      return [{ kind: 'wait', reason: `${trial.version} unhealthy and no earlier version installed` }];
    return [{ kind: 'rollback', from: trial.version, to: trial.previous, reason: 'health-timeout' }];
  }
  if (!plan) return [{ kind: 'wait', reason: 'no approved upgrade' }];
  const v = plan.version;
  if (state.current !== null && compareVersions(v, state.current) <= 0)
    return [{ kind: 'wait', reason: `running ${state.current}, at or above ${v}` }];
  if (state.rolled_back.includes(v)) return [{ kind: 'wait', reason: `${v} was rolled back here` }];
  const out: Action[] = [];
  const installed = state.installed.includes(v);
  if (!installed) {
    if (!state.downloaded.includes(v)) out.push({ kind: 'predownload', version: v });
    out.push({ kind: 'install', version: v });
  }
  if (at !== null && at.height >= plan.activation_height) {
    out.push({ kind: 'switch', from: state.current, to: v, height: plan.activation_height });
    return out;
  }
  if (out.length) return out;
  return [
    {
      kind: 'wait',
      reason:
        at === null ? 'no height reading yet' : `until height ${plan.activation_height} (now ${at.height})`,
    },
  ];
}

/** A hard fork activated on this network: no version below it may run after its height. */
export interface ActivatedFork {
  version: string;
  activation_height: number;
  fork: ForkKind;
}

/**
 * Whether `to` may be switched back to at `height`: refused when a hard fork at or below the
 * height activated a version above `to` (the node would leave the network's fork). Returns the
 * fork that forbids it, or null.
 */
export function rollbackBarrier(
  to: string,
  forks: readonly ActivatedFork[],
  height: number | null,
): ActivatedFork | null {
  let worst: ActivatedFork | null = null;
  for (const f of forks) {
    if (f.fork !== 'hard') continue;
    // Without a height reading, a known hard fork counts as activated (refusing is the safe side).
    if (height !== null && height < f.activation_height) continue;
    if (compareVersions(to, f.version) >= 0) continue;
    if (!worst || compareVersions(f.version, worst.version) > 0) worst = f;
  }
  return worst;
}

/** Keep-N pruning: installed versions to delete (never the current, previous or pending ones). */
export function versionsToPrune(
  installed: readonly string[],
  keep: readonly (string | null)[],
  keepN: number,
): string[] {
  const protect = new Set(keep.filter((v): v is string => v !== null));
  const newestFirst = [...installed].sort((a, b) => compareVersions(b, a));
  const out: string[] = [];
  let kept = newestFirst.filter((v) => protect.has(v)).length;
  for (const v of newestFirst) {
    if (protect.has(v)) continue;
    if (kept < keepN) kept++;
    else out.push(v);
  }
  return out;
}
