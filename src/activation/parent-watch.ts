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
