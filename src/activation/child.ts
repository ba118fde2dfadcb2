/**
 * One supervised node process: `versions/<v>/bin/dchat node start ... --json` with the same home.
 * Healthy means it printed its `{"event":"started"}` record (the node listens, its control socket
 * answers): Android's mark-successful comes from the new system itself, not from the updater.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { SUPERVISED_ENV } from './parent-watch.ts';

/** A started record line longer than this is not one (an untrusted child's output is capped). */
const MAX_LINE = 64 * 1024;

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
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  constructor(
    version: string,
    exe: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    onStderr: (line: string) => void,
  ) {
    this.version = version;
    this.proc = spawn(exe, ['node', 'start', ...args, '--json'], {
      env: { ...env, [SUPERVISED_ENV]: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
          }
        } catch {
          // Not a record: ignored.
        }
      });
    if (this.proc.stderr)
      createInterface({ input: this.proc.stderr }).on('line', (l) => onStderr(l.slice(0, MAX_LINE)));
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  private wake(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  /** Its started record once it reports healthy, or null if it exits or `timeoutMs` passes first. */
  healthy(timeoutMs: number): Promise<StartedRecord | null> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.started) return finish(this.started);
        if (this.exitCode !== undefined) return finish(null);
        this.waiters.add(check);
      };
      const timer = setTimeout(() => finish(null), timeoutMs);
      const finish = (r: StartedRecord | null) => {
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
