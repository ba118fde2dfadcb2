import type { Writable } from 'node:stream';
import { DchatError, InterruptedError } from '../errors.ts';

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
  /**
   * For commands a signal interrupts (a download): a signal aborted with an InterruptedError on
   * SIGINT/SIGTERM. The command then winds down and ends with that error (exit 130/143); the
   * process does not exit under it. A second signal exits at once.
   */
  interrupt?: () => AbortSignal;
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
  let interrupter: AbortController | undefined;
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    now: () => fakeNow(process.env.DCHAT_FAKE_NOW) ?? new Date(),
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
    interrupt: () => {
      if (interrupter) return interrupter.signal;
      const ctl = new AbortController();
      interrupter = ctl;
      const on = (signal: 'SIGINT' | 'SIGTERM') => {
        if (ctl.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143);
        ctl.abort(
          new InterruptedError(
            signal,
            `interrupted by ${signal}; the verified part is kept and the same command resumes it`,
          ),
        );
      };
      process.on('SIGINT', on);
      process.on('SIGTERM', on);
      return ctl.signal;
    },
  };
}

/**
 * DCHAT_FAKE_NOW (tests, demos): the clock every expiry decision uses. An unparsable value must
 * fail closed: an Invalid Date compares false with every expiry, so it would silently turn off the
 * freeze protection (every expired document would look fresh).
 */
export function fakeNow(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime()))
    throw new DchatError(
      'E_CONFIG',
      `DCHAT_FAKE_NOW: '${value.slice(0, 64)}' is not a date like 2030-01-01T00:00:00Z`,
    );
  return d;
}
