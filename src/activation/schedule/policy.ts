/**
 * The auto-update policy (seed AutoUpdateConfig, Chrome Omaha's channels, pinning and staged
 * rollout): from the saved settings, the trusted releases and this node's id, whether a check is
 * due and which release (if any) to fetch, install and restart into. Pure: the auto-update service
 * (update/auto-update.ts) supplies the time, the releases and the last check, and acts.
 * Releases that go through governance are not chosen here (the activation schedule switches them
 * at their height); this covers the updates that need none (e.g. a security release for users).
 */
import type { AutoUpdateConfig } from '../../model/auto-update.ts';
import type { Channel } from '../../model/package.ts';
import { compareVersions } from '../../model/version.ts';
import { inRollout } from './rollout.ts';

/** A trusted release as the signed metadata describes it. */
export interface Candidate {
  version: string;
  channel: Channel;
  /** Flagged as a security release in the signed metadata. */
  security: boolean;
  /** Signed share of nodes in the current stage (0-100); absent means everyone. */
  rollout_percentage?: number | undefined;
}

export interface PolicyInput {
  config: AutoUpdateConfig;
  /** The version running here (null: none installed). */
  current: string | null;
  node_id: string;
  now_ms: number;
  /** When the last check finished (null: never). */
  last_check_ms: number | null;
  candidates: readonly Candidate[];
}

export type SkipReason = 'channel' | 'not-security' | 'outside-stage' | 'not-newer' | 'pinned';

export interface PolicyDecision {
  /** A check (metadata refresh) is due now. */
  check_due: boolean;
  /** When the next check is due. */
  next_check_ms: number;
  /** The release to move to, or null. */
  target: string | null;
  /** Fetch it now, ahead of any restart (background_download). */
  download: boolean;
  /** Install it and restart into it without asking (auto_restart). */
  restart: boolean;
  /** One line for the log and `node status`. */
  reason: string;
  /** Every newer release not taken, and why. */
  skipped: { version: string; reason: SkipReason }[];
}

/** stable sees stable; beta sees stable and beta; nightly sees all (Omaha's channel order). */
const CHANNEL_RANK: Record<Channel, number> = { stable: 0, beta: 1, nightly: 2 };

export function channelAdmits(subscribed: Channel, release: Channel): boolean {
  return CHANNEL_RANK[release] <= CHANNEL_RANK[subscribed];
}

export function decideAutoUpdate(input: PolicyInput): PolicyDecision {
  const { config } = input;
  const interval = config.check_interval_hours * 3_600_000;
  const next_check_ms = input.last_check_ms === null ? input.now_ms : input.last_check_ms + interval;
  const base = { check_due: config.enabled && input.now_ms >= next_check_ms, next_check_ms };
  const none = (reason: string, skipped: PolicyDecision['skipped'] = []): PolicyDecision => ({
    ...base,
    target: null,
    download: false,
    restart: false,
    reason,
    skipped,
  });
  if (!config.enabled) return { ...none('auto-update disabled'), check_due: false };

  const newer = input.candidates.filter(
    (c) => input.current === null || compareVersions(c.version, input.current) > 0,
  );
  const skipped: PolicyDecision['skipped'] = [];
  if (config.pin !== null) {
    const pin = config.pin;
    for (const c of newer) if (c.version !== pin) skipped.push({ version: c.version, reason: 'pinned' });
    if (input.current === pin) return none(`pinned to ${pin} (running it)`, skipped);
    if (!input.candidates.some((c) => c.version === pin))
      return none(`pinned to ${pin}, which is not a trusted release`, skipped);
    if (input.current !== null && compareVersions(pin, input.current) < 0)
      return none(`pinned to ${pin}, below the running ${input.current} (use update rollback)`, skipped);
    // A pin is the operator's explicit choice: channel, security-only and stages do not apply.
    return decided(pin, `pinned to ${pin}`);
  }
  let best: Candidate | null = null;
  for (const c of newer) {
    if (!channelAdmits(config.channel, c.channel)) skipped.push({ version: c.version, reason: 'channel' });
    else if (config.security_only && !c.security)
      skipped.push({ version: c.version, reason: 'not-security' });
    else if (!inRollout(input.node_id, c.version, c.rollout_percentage))
      skipped.push({ version: c.version, reason: 'outside-stage' });
    else if (!best || compareVersions(c.version, best.version) > 0) best = c;
  }
  if (!best) return none(newer.length ? 'no eligible newer release' : 'up to date', skipped);
  return decided(
    best.version,
    `update ${input.current ?? 'none'} -> ${best.version} (${best.channel}${best.security ? ', security' : ''})`,
  );

  function decided(target: string, reason: string): PolicyDecision {
    return {
      ...base,
      target,
      download: config.background_download,
      restart: config.auto_restart,
      reason,
      skipped,
    };
  }
}

/**
 * `--pin` checked against the trusted releases (Omaha's TargetVersionPrefix must name a release
 * that exists). `null` is `--pin none`.
 */
export function checkPin(pin: string | null, trusted: readonly string[]): 'ok' | 'untrusted' {
  if (pin === null) return 'ok';
  return trusted.includes(pin) ? 'ok' : 'untrusted';
}
