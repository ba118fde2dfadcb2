/**
 * One supervised node process: `versions/<v>/bin/dchat node start ... --json` with the same home.
 * Healthy means it printed its `{"event":"started"}` record (the node listens, its control socket
 * answers): Android's mark-successful comes from the new system itself, not from the updater.
 * A standby child (`--standby`, parent-watch.ts) is started while the old node still serves: it
 * loads its code, prints `{"event":"standby"}` and waits for `go()` before it touches the home, so
 * the switch's downtime is the old node's stop plus the new one's start proper, not its loading.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { tunedEnv } from './malloc-tuning.ts';
import { SUPERVISED_ENV } from './parent-watch.ts';

/** A started record line longer than this is not one (an untrusted child's output is capped). */
const MAX_LINE = 64 * 1024;
/** How much of its last stderr line an exited child's report quotes. */
const LAST_LINE = 400;

export interface StartedRecord {
  event: 'started';
  peer_id?: string;
  addresses?: string[];
  role?: string;
  pid?: number;
  [k: string]: unknown;
}

export class ChildNode {
  readonly version: string;
  private readonly proc: ChildProcess;
  private started: StartedRecord | null = null;
  private standing = false;
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  /** Its last stderr line (capped): why it exited, when it exits before reporting healthy. */
  private lastLine = '';

  constructor(
    version: string,
    exe: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    onStderr: (line: string) => void,
    o: { standby?: boolean } = {},
  ) {
    this.version = version;
    this.proc = spawn(exe, ['node', 'start', ...args, '--json', ...(o.standby ? ['--standby'] : [])], {
      // Started with the malloc tuning already set (./malloc-tuning.ts): no restart in place needed,
      // and a single executable, whose entry does not restart itself, gets it too.
      env: { ...(tunedEnv(env, process.platform) ?? env), [SUPERVISED_ENV]: '1' },
      // A standby child waits for "go" on stdin, and exits if it closes first (supervisor gone).
      stdio: [o.standby ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    // A child that exits before it reads "go" must not crash the supervisor with EPIPE.
    this.proc.stdin?.on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.proc.once('error', () => {
        this.exitCode = null;
        this.wake();
        resolve(null);
      });
      this.proc.once('exit', (code) => {
        this.exitCode = code;
        this.wake();
        resolve(code);
      });
    });
    if (this.proc.stdout)
      createInterface({ input: this.proc.stdout }).on('line', (line) => {
        if (this.started || line.length > MAX_LINE) return;
        try {
          const doc = JSON.parse(line) as { event?: unknown };
          if (doc && doc.event === 'started') {
            this.started = doc as StartedRecord;
            this.wake();
          } else if (doc && doc.event === 'standby') {
            this.standing = true;
            this.wake();
          }
        } catch {
          // Not a record: ignored.
        }
      });
    if (this.proc.stderr)
      createInterface({ input: this.proc.stderr }).on('line', (l) => {
        if (l.trim()) this.lastLine = l.slice(0, LAST_LINE);
        onStderr(l.slice(0, MAX_LINE));
      });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /**
   * Why it is not running, for an operator's error: "" while it runs, else its exit code and last
   * stderr line (a node that could not bind its port says so there).
   */
  exitReport(): string {
    if (this.exitCode === undefined) return '';
    const code = this.exitCode === null ? 'it could not be started' : `it exited with code ${this.exitCode}`;
    return this.lastLine ? `${code}: ${this.lastLine}` : code;
  }

  private wake(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  /** Its started record once it reports healthy, or null if it exits or `timeoutMs` passes first. */
  healthy(timeoutMs: number): Promise<StartedRecord | null> {
    return this.until(() => this.started, timeoutMs);
  }

  /**
   * A standby child: true once it has loaded and waits for `go()`; false if it exits first (e.g.
   * a version without standby refuses the flag) or `timeoutMs` passes.
   */
  async standby(timeoutMs: number): Promise<boolean> {
    return (await this.until(() => (this.standing ? true : null), timeoutMs)) ?? false;
  }

  /** Lets a standby child start for real (then wait for `healthy`). */
  go(): void {
    this.proc.stdin?.end('go\n');
  }

  private until<T>(value: () => T | null, timeoutMs: number): Promise<T | null> {
    return new Promise((resolve) => {
      const check = () => {
        const v = value();
        if (v !== null) return finish(v);
        if (this.exitCode !== undefined) return finish(null);
        this.waiters.add(check);
      };
      const timer = setTimeout(() => finish(null), timeoutMs);
      const finish = (r: T | null) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(r);
      };
      check();
    });
  }

  /** SIGTERM (the node stops gracefully), SIGKILL after `graceMs`. */
  /** Set when the supervisor stopped it (its exit is then expected). */
  stopRequested = false;

  async stop(graceMs = 10_000): Promise<void> {
    this.stopRequested = true;
    if (!this.running) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
