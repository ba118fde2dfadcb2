import type { Writable } from 'node:stream';

/**
 * What a command may touch of the outside world. Commands never reach for process.*: tests run
 * them in-process with PassThrough streams, and the bins pass the real ones (yarn's pattern).
 */
export interface CliContext {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Wall clock, injectable so tests can pin expiry decisions. */
  now: () => Date;
  /** Set by commands that end by a signal (node start, testnet) to stop on SIGINT/SIGTERM. */
  onShutdown?: (fn: () => Promise<void>) => void;
}

export function processContext(): CliContext {
  // `dchat ... | head` closes our stdout early: that is the reader's choice, not our failure.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  const handlers: (() => Promise<void>)[] = [];
  let installed = false;
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    now: () => (process.env.DCHAT_FAKE_NOW ? new Date(process.env.DCHAT_FAKE_NOW) : new Date()),
    onShutdown: (fn) => {
      handlers.push(fn);
      if (installed) return;
      installed = true;
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) process.exit(130);
        stopping = true;
        Promise.allSettled(handlers.map((h) => h())).then(() => process.exit(signal === 'SIGINT' ? 130 : 0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
  };
}
