/**
 * The two things an unsupervised `node start` needs to know about supervision, kept apart from the
 * supervisor so that an idle node loads nothing more: whether this home may have installed
 * versions, and (in a supervised child) stopping when the supervisor is gone.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Set in the child's environment: it runs the node in-process instead of supervising again. */
export const SUPERVISED_ENV = 'DCHAT_SUPERVISED';

export function mayHaveVersions(home: string, env: NodeJS.ProcessEnv): boolean {
  return !env[SUPERVISED_ENV] && existsSync(join(home, 'versions'));
}

/**
 * In a supervised child: stop when the supervisor is gone, as Linux's PR_SET_PDEATHSIG would, so a
 * kill -9 of the supervisor leaves no orphan node holding the home.
 */
export function watchSupervisor(env: NodeJS.ProcessEnv, stop: () => Promise<void>): void {
  if (!env[SUPERVISED_ENV]) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    void stop().finally(() => process.exit(0));
  }, 250);
  timer.unref();
}

/**
 * A standby child (`node start --standby`, activation/child.ts): its code is loaded; it waits for
 * the supervisor's "go" line on stdin before it touches the home. True on "go"; false when stdin
 * closes first (the switch was called off, or the supervisor is gone: nothing to clean up).
 */
export function awaitGo(stdin: NodeJS.ReadableStream): Promise<boolean> {
  return new Promise((resolve) => {
    let seen = '';
    const done = (go: boolean) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', onEnd);
      // Nothing more is read: stdin must not keep the process alive once the node runs.
      (stdin as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      resolve(go);
    };
    const onData = (b: Buffer | string) => {
      seen = (seen + b.toString()).slice(-16);
      if (/(^|\n)go\n/.test(seen)) done(true);
    };
    const onEnd = () => done(false);
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.once('error', onEnd);
  });
}
