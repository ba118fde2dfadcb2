/**
 * The supervisor (DESIGN.md `activation/`, in the spirit of Cosmovisor and Android A/B updates):
 * `dchat node start` on a home with installed versions runs the `current` version's node as a
 * child and switches it when told (the activation pump at the height, `update rollback`, SIGHUP):
 *   pre-upgrade check (the new executable runs and reports its version) -> backup ->
 *   upgrade-info.json -> journal: trial -> old child stops gracefully -> `current` renamed ->
 *   new child starts and must report healthy within the bound -> mark-successful;
 *   otherwise the rollback is journaled first, then `current` goes back, the previous child
 *   starts, and the rollback is announced (an event; the node status and the journal keep it).
 * recover.ts makes a kill -9 at any of these instants come back to a consistent version.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { DchatError } from '../errors.ts';
import type { PackageTarget } from '../model/package.ts';
import type { HomePaths } from '../store/home.ts';
import { acquire } from '../store/lock.ts';
import { ChildNode, type StartedRecord } from './child.ts';
import { SUPERVISED_ENV } from './parent-watch.ts';
import { recover, withSwitchLock } from './recover.ts';
import {
  backupBeforeSwitch,
  historyEntry,
  listInstalled,
  readCurrent,
  readJournal,
  setCurrent,
  takeSwitchRequest,
  type VersionPaths,
  verifyInstalled,
  versionPaths,
  writeJournal,
  writeUpgradeInfo,
} from './versions.ts';

const run = promisify(execFile);

export const DEFAULT_HEALTH_BOUND_MS = 30_000;
/** How long a pre-started next version may take to load before the switch starts it cold instead. */
const STANDBY_BOUND_MS = 20_000;

export type SupervisorEvent =
  | { event: 'started'; version: string; child: StartedRecord; repairs: string[] }
  | {
      event: 'switched';
      from: string | null;
      to: string;
      height: number | null;
      downtime_ms: number;
      /** Where the time went (ms); downtime_ms = stop_ms + start_ms. */
      phases?: SwitchPhases;
    }
  | { event: 'rolled_back'; from: string; to: string; reason: string; height: number | null }
  | { event: 'child_exited'; version: string; code: number | null };

export interface SupervisorInit {
  paths: HomePaths;
  /** `node start` flags passed on to every child (without --json, which the supervisor adds). */
  childArgs: string[];
  env: NodeJS.ProcessEnv;
  log: Logger;
  now: () => Date;
  healthBoundMs?: number;
  onEvent: (e: SupervisorEvent) => void;
}

export interface SwitchPhases {
  /** Before the downtime, while the old node serves: standby start, backup, journal. */
  prepare_ms: number;
  /** The old node's graceful stop. */
  stop_ms: number;
  /** `current` switched, the new node told to go (or started cold) until it reports healthy. */
  start_ms: number;
  /** Whether the new version was pre-started in standby. */
  standby: boolean;
}

export interface SwitchContext {
  /** The network height when the switch was asked for (null: not an activation). */
  height: number | null;
  /** The plan's activation height (the fork's, for the rollback barrier); default `height`. */
  activationHeight?: number | null;
  fork: 'hard' | 'soft' | null;
  reason: string;
}

export class Supervisor {
  readonly vp: VersionPaths;
  private readonly init: SupervisorInit;
  private child: ChildNode | undefined;
  private releaseLock: (() => Promise<void>) | undefined;
  /** One switch at a time: a SIGHUP during a switch waits for it. */
  private busy: Promise<unknown> = Promise.resolve();
  private stopping = false;
  /** Aborted by stop(): a pre-upgrade probe still running is killed with the supervisor. */
  private readonly halt = new AbortController();
  private preparing: Promise<void> = Promise.resolve();
  /** Pre-upgrade checks done (or under way) in this session, by version. */
  private readonly prechecked = new Map<string, Promise<PackageTarget>>();
  private prepareTimer: NodeJS.Timeout | undefined;
  private readonly bound: number;

  constructor(init: SupervisorInit) {
    this.init = init;
    this.vp = versionPaths(init.paths);
    this.bound = init.healthBoundMs ?? DEFAULT_HEALTH_BOUND_MS;
  }

  get running(): { version: string; pid: number | undefined } | null {
    return this.child ? { version: this.child.version, pid: this.child.pid } : null;
  }

  /** Recovers the home, starts the current version and settles an open trial. */
  async start(): Promise<{ version: string; child: StartedRecord }> {
    this.releaseLock = await acquire(this.vp.supervisorLock, 0).catch((cause) => {
      throw new DchatError('E_BUSY', `a supervisor already runs on ${this.init.paths.home}`, { cause });
    });
    try {
      const rec = await withSwitchLock(this.vp, () => recover(this.vp, this.init.now().getTime()));
      for (const r of rec.repairs) this.init.log.warn({ repair: r }, 'activation: home repaired at start');
      if (rec.current === null)
        throw new DchatError('E_NOT_FOUND', `no installed version under ${this.vp.versionsDir}`);
      const trial = rec.journal.trial;
      let started = await this.launch(rec.current);
      if (trial && trial.version === rec.current) {
        if (started) await this.markSuccessful(trial.version, trial.previous, null, null);
        else if (trial.previous !== null) {
          await this.rollback(trial.version, trial.previous, 'did not report healthy after a restart', null);
          started = this.child ? await this.child.healthy(this.bound) : null;
        }
      }
      if (!started || !this.child) {
        const why = this.child?.exitReport();
        throw new DchatError(
          'E_UNHEALTHY',
          `dchat ${rec.current} did not report healthy within ${this.bound} ms${why ? ` (${why})` : ''}`,
        );
      }
      this.init.onEvent({
        event: 'started',
        version: this.child.version,
        child: started,
        repairs: rec.repairs,
      });
      this.watch(this.child);
      this.prepareTimer = setInterval(() => {
        this.preparing = this.prepareInstalled();
      }, 2_000);
      this.prepareTimer.unref();
      return { version: this.child.version, child: started };
    } catch (err) {
      await this.child?.stop();
      await this.releaseLock?.();
      throw err;
    }
  }

  /** Starts versions/<v> and waits for it to report healthy (null: it did not). */
  private async launch(v: string): Promise<StartedRecord | null> {
    const child = this.spawnChild(v, false);
    this.child = child;
    return child.healthy(this.bound);
  }

  private spawnChild(v: string, standby: boolean): ChildNode {
    const log = this.init.log;
    return new ChildNode(
      v,
      this.vp.exe(v),
      this.init.childArgs,
      { ...this.init.env, DCHAT_HOME: this.init.paths.home },
      (line) =>
        this.init.env.DCHAT_CHILD_LOG
          ? process.stderr.write(`${line}\n`)
          : log.debug({ child: v, line }, 'child'),
      { standby },
    );
  }

  /**
   * Pre-starts versions/<v> in standby while the old node still serves (child.ts): null if it does
   * not come to standby in time (a version without standby, a broken one): the switch then starts
   * it cold, as before, and its health check decides.
   */
  private async standby(v: string): Promise<ChildNode | null> {
    const child = this.spawnChild(v, true);
    if (await child.standby(STANDBY_BOUND_MS)) return child;
    this.init.log.info({ version: v }, 'activation: no standby start; the switch starts it cold');
    await child.stop(1_000);
    return null;
  }

  private watch(child: ChildNode): void {
    void child.exited.then((code) => {
      if (this.child !== child || this.stopping || child.stopRequested) return;
      this.init.log.error({ version: child.version, code }, 'activation: the node exited on its own');
      this.init.onEvent({ event: 'child_exited', version: child.version, code });
    });
  }

  /** The pre-upgrade check (Cosmovisor's pre-upgrade hook): the new executable runs and is `v`. */
  private preUpgrade(v: string): Promise<PackageTarget> {
    let p = this.prechecked.get(v);
    if (!p) {
      p = this.runPreUpgrade(v);
      this.prechecked.set(v, p);
      p.catch(() => this.prechecked.delete(v));
    }
    return p;
  }

  private async runPreUpgrade(v: string): Promise<PackageTarget> {
    const target = await verifyInstalled(this.vp, v);
    let out: string;
    try {
      out = (
        await run(this.vp.exe(v), ['--version'], {
          timeout: 15_000,
          killSignal: 'SIGKILL',
          signal: this.halt.signal,
          env: { ...this.init.env, DCHAT_HOME: this.init.paths.home, [SUPERVISED_ENV]: '1' },
        })
      ).stdout;
    } catch (cause) {
      throw new DchatError('E_UNHEALTHY', `pre-upgrade check: ${this.vp.exe(v)} --version failed`, { cause });
    }
    if (!out.split(/\s+/).includes(v))
      throw new DchatError(
        'E_VERSION_MISMATCH',
        `pre-upgrade check: ${this.vp.exe(v)} reports '${out.trim().slice(0, 80)}', not ${v}`,
      );
    return target;
  }

  /**
   * Runs the pre-upgrade check of newly installed versions ahead of time (the node installs them in
   * the grace period), so that at the height the switch starts at once.
   */
  private async prepareInstalled(): Promise<void> {
    for (const v of await listInstalled(this.vp).catch(() => [] as string[])) {
      if (this.stopping) return;
      if (v !== this.child?.version && !this.prechecked.has(v)) await this.preUpgrade(v).catch(() => {});
    }
  }

  /**
   * Switches to installed version `to` (activation at a height, or an operator's choice). Resolves
   * once `to` is healthy (true) or rolled back (false).
   */
  switchTo(to: string, ctx: SwitchContext): Promise<boolean> {
    const next = this.busy.then(() => this.doSwitch(to, ctx));
    this.busy = next.catch(() => {});
    return next;
  }

  private async doSwitch(to: string, ctx: SwitchContext): Promise<boolean> {
    const from = this.child?.version ?? (await readCurrent(this.vp));
    if (from === to) return true;
    const target = await this.preUpgrade(to);
    // Its digest stamp (store/digest-stamps.ts), if the pre-upgrade hash could not leave one (the
    // file had just been installed): the new node then finds its package verified without hashing.
    await verifyInstalled(this.vp, to, { reuseStamp: true });
    const now = this.init.now();
    // Everything that does not need the old node gone happens while it still serves: the next
    // version loads in standby, the backup and the journal are written. Downtime starts at its stop.
    const p0 = performance.now();
    const next = await this.standby(to);
    let t0 = 0;
    let stopped = 0;
    try {
      await withSwitchLock(this.vp, async () => {
        await backupBeforeSwitch(
          this.init.paths,
          this.vp,
          `${now.toISOString().replace(/[:.]/g, '')}-${from ?? 'none'}-to-${to}`,
        );
        await writeUpgradeInfo(this.vp, {
          name: to,
          height: ctx.height,
          from,
          sha256: target.sha256,
          fork: ctx.fork,
        });
        const j = await readJournal(this.vp);
        j.trial = { version: to, previous: from, started_ms: now.getTime(), healthy: false };
        // Activated on the network at this height whatever happens here: a hard fork bars rollbacks below it.
        const at = ctx.activationHeight ?? ctx.height;
        if (at !== null && (ctx.fork === 'hard' || ctx.fork === 'soft'))
          j.forks.push({ version: to, activation_height: at, fork: ctx.fork });
        await writeJournal(this.vp, j);
        t0 = performance.now();
        await this.child?.stop();
        stopped = performance.now();
        await setCurrent(this.vp, to);
      });
    } catch (err) {
      await next?.stop(1_000);
      throw err;
    }
    let started: StartedRecord | null;
    if (next) {
      this.child = next;
      next.go();
      started = await next.healthy(this.bound);
    } else started = await this.launch(to);
    const end = performance.now();
    const downtime = end - t0;
    const phases: SwitchPhases = {
      prepare_ms: Math.round(t0 - p0),
      stop_ms: Math.round(stopped - t0),
      start_ms: Math.round(end - stopped),
      standby: next !== null,
    };
    if (started && this.child) {
      await this.markSuccessful(to, from, ctx.height, downtime);
      this.init.log.info(
        { from, to, height: ctx.height, downtime_ms: Math.round(downtime), phases },
        `activation: switched to ${to}`,
      );
      this.init.onEvent({
        event: 'switched',
        from,
        to,
        height: ctx.height,
        downtime_ms: Math.round(downtime),
        phases,
      });
      this.watch(this.child);
      return true;
    }
    if (from === null)
      throw new DchatError('E_UNHEALTHY', `dchat ${to} did not report healthy and nothing to go back to`);
    await this.rollback(to, from, `did not report healthy within ${this.bound} ms`, ctx.height);
    return false;
  }

  /** Android's mark-successful: the trial ends, the switch goes into the history. */
  private async markSuccessful(
    v: string,
    from: string | null,
    height: number | null,
    downtime: number | null,
  ): Promise<void> {
    await withSwitchLock(this.vp, async () => {
      const j = await readJournal(this.vp);
      j.trial = null;
      j.history.push(
        historyEntry('switch', from, v, this.init.now(), {
          height,
          downtime_ms: downtime === null ? null : Math.round(downtime),
        }),
      );
      await writeJournal(this.vp, j);
    });
  }

  /** Automatic revert: journaled first, so a crash in the middle finishes it at the next start. */
  private async rollback(from: string, to: string, reason: string, height: number | null): Promise<void> {
    this.init.log.error({ from, to, reason }, `activation: ${from} ${reason}; rolling back to ${to}`);
    await withSwitchLock(this.vp, async () => {
      const j = await readJournal(this.vp);
      j.rolled_back.push({ version: from, to, at: this.init.now().toISOString(), reason });
      await writeJournal(this.vp, j);
      await this.child?.stop(2_000);
      await setCurrent(this.vp, to);
      j.trial = null;
      j.history.push(historyEntry('rollback', from, to, this.init.now(), { height }));
      await writeJournal(this.vp, j);
    });
    const started = await this.launch(to);
    this.init.onEvent({ event: 'rolled_back', from, to, reason, height });
    if (started && this.child) this.watch(this.child);
    else
      this.init.log.error(
        { version: to },
        'activation: the version rolled back to did not report healthy either',
      );
  }

  /**
   * SIGHUP: the node's switch request (activation/request.json) if there is one; else `current`
   * changed under us (`update rollback`): restart on what it names now. The operator chose a known
   * version, so that is not put on trial; it must still report healthy.
   */
  reload(): Promise<boolean> {
    const next = this.busy.then(async () => {
      // The node asked for a switch (activation height, auto-update): a full switch with its trial.
      const req = await takeSwitchRequest(this.vp);
      if (req && req.version !== this.child?.version)
        return this.doSwitch(req.version, {
          height: req.height,
          activationHeight: req.activation_height,
          fork: req.fork,
          reason: 'requested by the node',
        });
      const cur = await readCurrent(this.vp);
      if (cur === null || cur === this.child?.version) return true;
      const from = this.child?.version ?? null;
      const next = await this.standby(cur);
      const t0 = performance.now();
      await this.child?.stop();
      let started: StartedRecord | null;
      if (next) {
        this.child = next;
        next.go();
        started = await next.healthy(this.bound);
      } else started = await this.launch(cur);
      if (started && this.child) {
        this.init.onEvent({
          event: 'switched',
          from,
          to: cur,
          height: null,
          downtime_ms: Math.round(performance.now() - t0),
        });
        this.watch(this.child);
        return true;
      }
      return false;
    });
    this.busy = next.catch(() => {});
    return next;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.prepareTimer) clearInterval(this.prepareTimer);
    // A version probe of an installed build must not outlive the supervisor (a clean-clone e2e
    // run found `versions/1.0.0/bin/dchat --version` still running after SIGTERM).
    this.halt.abort();
    await this.preparing;
    await this.busy;
    await this.child?.stop();
    await this.releaseLock?.();
    this.releaseLock = undefined;
  }
}
