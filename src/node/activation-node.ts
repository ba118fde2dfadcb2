/**
 * The node's half of activation and auto-update (DESIGN.md "Activate"): a pump that asks the pure
 * cores what to do and does it with the node's parts.
 *  - Governance: the highest approved plan above the running version and the network height go
 *    through the activation schedule: pre-download (mirrors and peers together) and verify during
 *    the grace period, install into versions/, and at the activation height ask the supervisor to
 *    switch (activation/request.json + SIGHUP to the parent). Readiness is in `node status`.
 *  - Auto-update (no governance): every saved setting through the auto-update policy: check every
 *    check_interval_hours (refresh through the mirrors), notify (log line, status), download in
 *    the background, install and restart when auto_restart says so; staged releases by bucket.
 * Without a supervisor (no installed versions), switching is left to the operator: the node says so.
 */

import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { SUPERVISED_ENV } from '../activation/parent-watch.ts';
import { dueHeight } from '../activation/schedule/due-height.ts';
import { type Candidate, decideAutoUpdate, type PolicyDecision } from '../activation/schedule/policy.ts';
import { type Action, type ActivationPlan, scheduleActions } from '../activation/schedule/schedule.ts';
import {
  listInstalled,
  readCurrent,
  readJournal,
  versionPaths,
  writeSwitchRequest,
} from '../activation/versions.ts';
import { toDchatError } from '../errors.ts';
import { compareVersions } from '../model/version.ts';
import { loadAutoUpdateConfig } from '../store/auto-update-config.ts';
import type { HomePaths } from '../store/home.ts';
import type { UpdateService } from '../update/service.ts';
import type { GovernanceService } from './governance-service.ts';
import type { NodeConfig } from './node-config.ts';

/** How often the activation schedule is asked (a height moves every few seconds). */
const TICK_MS = 500;
export const HEALTH_BOUND_MS = 30_000;
/** The saved auto-update settings are read again this often (a change applies without a restart). */
const CONFIG_READ_MS = 5_000;

export interface NodeActivationInit {
  paths: HomePaths;
  log: Logger;
  platform: string;
  /** The version this process runs. */
  version: string;
  env: NodeJS.ProcessEnv;
  clock: () => Date;
  nodeId: () => string;
  plans: () => ActivationPlan[];
  height: () => { height: number; time_ms: number } | null;
  /** Download and verify `version` (mirrors and peers together). */
  download: (version: string) => Promise<void>;
  updates: () => Promise<UpdateService>;
}

export interface ActivationStatus {
  running_version: string;
  supervised: boolean;
  plan: { version: string; activation_height: number; fork: string } | null;
  height: number | null;
  ready: boolean;
  next_action: string;
  error: string | null;
  rolled_back: { version: string; to: string; at: string; reason: string }[];
  auto_update: {
    enabled: boolean;
    last_check: string | null;
    next_check: string | null;
    available: string | null;
    reason: string;
  };
}

export class NodeActivation {
  private readonly init: NodeActivationInit;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private lastError: string | null = null;
  private next: Action | null = null;
  private plan: ActivationPlan | null = null;
  private installed: string[] = [];
  private rolledBack: ActivationStatus['rolled_back'] = [];
  private requested: string | null = null;
  private lastCheckMs: number | null = null;
  private decision: PolicyDecision | null = null;
  private autoEnabled = false;
  private notified = new Set<string>();
  private lastConfigRead: number | null = null;

  constructor(init: NodeActivationInit) {
    this.init = init;
  }

  get supervised(): boolean {
    return Boolean(this.init.env[SUPERVISED_ENV]);
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
    void this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.activationStep();
      await this.autoUpdateStep();
      this.lastError = null;
    } catch (err) {
      const e = toDchatError(err);
      const msg = `${e.code}: ${e.message}`;
      if (msg !== this.lastError) this.init.log.warn({ error: msg }, 'activation step failed; retrying');
      this.lastError = msg;
    } finally {
      this.busy = false;
    }
  }

  private async localState() {
    const vp = versionPaths(this.init.paths);
    const [installed, journal, current] = await Promise.all([
      listInstalled(vp),
      readJournal(vp),
      readCurrent(vp),
    ]);
    this.installed = installed;
    this.rolledBack = journal.rolled_back.slice(-10);
    return { vp, installed, journal, current: current ?? this.init.version };
  }

  private async activationStep(): Promise<void> {
    const plans = this.init.plans().sort((a, b) => compareVersions(b.version, a.version));
    const { installed, journal, current } = await this.localState();
    const plan = plans.find((p) => compareVersions(p.version, current) > 0) ?? null;
    this.plan = plan;
    if (!plan) {
      this.next = null;
      return;
    }
    const v = plan.version;
    const downloaded = existsSync(this.init.paths.packageFile(v, this.init.platform)) ? [v] : [];
    const [action] = scheduleActions({
      plan,
      at: this.init.height(),
      state: {
        current,
        installed,
        downloaded,
        trial: null,
        rolled_back: journal.rolled_back.map((r) => r.version),
      },
      now_ms: this.init.clock().getTime(),
      health_bound_ms: HEALTH_BOUND_MS,
    });
    this.next = action ?? null;
    if (!action) return;
    switch (action.kind) {
      case 'predownload':
        this.init.log.info(
          { version: v, activation_height: plan.activation_height },
          'activation: pre-downloading the approved release',
        );
        await this.init.download(v);
        return;
      case 'install':
        if (!this.supervised) return; // Nothing to install into without a supervisor: downloaded is ready.
        await this.install(v);
        this.init.log.info({ version: v }, 'activation: approved release installed; ready for the switch');
        return;
      case 'switch':
        await this.requestSwitch(v, this.init.height()?.height ?? null, plan.fork, action.height);
        return;
      default:
        return;
    }
  }

  private async install(v: string): Promise<void> {
    const { config } = await loadAutoUpdateConfig(this.init.paths);
    // Loaded when first needed: an idle node never verifies or installs (idle footprint).
    const { installRelease } = await import('../update/install.ts');
    await installRelease(this.init.paths, {
      version: v,
      platform: this.init.platform,
      now: this.init.clock(),
      keep: config.keep_versions,
    });
  }

  /** Asks the supervisor (our parent) to switch: the request file, then SIGHUP. */
  private async requestSwitch(
    v: string,
    height: number | null,
    fork: 'hard' | 'soft' | null,
    activationHeight: number | null = null,
  ): Promise<void> {
    if (!this.supervised) {
      if (!this.notified.has(`switch-${v}`))
        this.init.log.warn(
          { version: v, height },
          `activation: height reached; restart this node on dchat ${v} (no supervisor: no version installed under versions/)`,
        );
      this.notified.add(`switch-${v}`);
      return;
    }
    if (this.requested === v) return;
    await writeSwitchRequest(versionPaths(this.init.paths), {
      version: v,
      height,
      activation_height: activationHeight,
      fork,
    });
    this.requested = v;
    this.init.log.info({ version: v, height }, 'activation: switch requested from the supervisor');
    process.kill(process.ppid, 'SIGHUP');
  }

  private async autoUpdateStep(): Promise<void> {
    const at = this.init.clock().getTime();
    if (this.lastConfigRead !== null && at - this.lastConfigRead < CONFIG_READ_MS) return;
    this.lastConfigRead = at;
    const { config } = await loadAutoUpdateConfig(this.init.paths);
    this.autoEnabled = config.enabled;
    const now = this.init.clock().getTime();
    const pre = decideAutoUpdate({
      config,
      current: this.init.version,
      node_id: this.init.nodeId(),
      now_ms: now,
      last_check_ms: this.lastCheckMs,
      candidates: [],
    });
    if (!pre.check_due) {
      this.decision = this.decision ? { ...this.decision, next_check_ms: pre.next_check_ms } : pre;
      return;
    }
    const svc = await this.init.updates();
    // A failed check is retried at the next config read (the error is in `node status`).
    const checked = await svc.check();
    this.lastCheckMs = now;
    const candidates: Candidate[] = checked.packages
      .filter((p) => p.custom.platform === this.init.platform)
      .map((p) => ({
        version: p.custom.version,
        channel: p.custom.channel,
        security: p.custom.security,
        rollout_percentage: p.custom.rollout_percentage,
      }));
    const d = decideAutoUpdate({
      config,
      current: this.init.version,
      node_id: this.init.nodeId(),
      now_ms: now,
      last_check_ms: now,
      candidates,
    });
    this.decision = d;
    if (d.target === null) return;
    // The update notification: one log line per release (and `node status`).
    if (!this.notified.has(d.target))
      this.init.log.warn({ version: d.target, reason: d.reason }, `update available: dchat ${d.target}`);
    this.notified.add(d.target);
    if (!d.download && !d.restart) return;
    await this.init.download(d.target);
    if (!d.restart || !this.supervised) return;
    await this.install(d.target);
    await this.requestSwitch(d.target, null, null);
  }

  status(): ActivationStatus {
    const d = this.decision;
    return {
      running_version: this.init.version,
      supervised: this.supervised,
      plan: this.plan
        ? { version: this.plan.version, activation_height: this.plan.activation_height, fork: this.plan.fork }
        : null,
      height: this.init.height()?.height ?? null,
      ready:
        this.plan !== null &&
        (this.installed.includes(this.plan.version) ||
          (!this.supervised &&
            existsSync(this.init.paths.packageFile(this.plan.version, this.init.platform)))),
      next_action: this.next ? this.next.kind : 'none',
      error: this.lastError,
      rolled_back: this.rolledBack,
      auto_update: {
        enabled: this.autoEnabled,
        last_check: this.lastCheckMs === null ? null : new Date(this.lastCheckMs).toISOString(),
        next_check: d && this.autoEnabled ? new Date(d.next_check_ms).toISOString() : null,
        available: d?.target ?? null,
        reason: d?.reason ?? 'not checked yet',
      },
    };
  }
}

/** The daemon's hook: activation and auto-update over its parts (daemon.ts stays small). */
export function startNodeActivation(
  governance: GovernanceService,
  node: {
    paths: HomePaths;
    config: NodeConfig;
    log: Logger;
    peerId: string;
    clock: () => Date;
    download: (version: string) => Promise<unknown>;
    updates: () => Promise<UpdateService>;
  },
): NodeActivation {
  const a = new NodeActivation({
    paths: node.paths,
    log: node.log,
    platform: node.config.platform,
    version: node.config.version ?? '0.0.0',
    env: node.config.env ?? {},
    clock: node.clock,
    nodeId: () => node.peerId,
    plans: () =>
      governance.approvedPlans().map((p) => ({
        version: p.version,
        target_sha256: p.release_sha256,
        activation_height: p.activation_height,
        fork: p.fork,
        min_compatible_version: p.min_compatible_version,
      })),
    // The height governance goes by (beacons or a chain; node/heights.ts).
    height: () => {
      const n = governance.now();
      if (n.height === null) return null;
      // Beacon heights keep a fixed schedule (dueHeight); a chain's or an injected source's do not.
      const beacons = !node.config.heightSource && (node.config.height?.spec.kind ?? 'beacon') === 'beacon';
      const interval = beacons ? governance.genesis?.body.params.block_interval_ms : undefined;
      return dueHeight({ height: n.height, time_ms: n.time_ms }, interval, node.clock().getTime());
    },
    download: async (v) => {
      await node.download(v);
    },
    updates: node.updates,
  });
  a.start();
  return a;
}
