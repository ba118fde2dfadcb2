/**
 * A supervised `dchat node start` as a child process for tests: its JSON records, waiting for one,
 * its exit; and the check that no process of a home is left running (read from /proc environ).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { BINS, REPO_ROOT } from './cli.ts';

interface NodeProc {
  proc: ChildProcess;
  records: Record<string, unknown>[];
  exited: Promise<number | null>;
  waitFor(event: string, ms?: number): Promise<Record<string, unknown>>;
}

export function startNode(home: string, extra: string[] = []): NodeProc {
  const proc = spawn(
    process.execPath,
    [BINS.dchat, '--home', home, '--json', 'node', 'start', '--listen', '/ip4/127.0.0.1/tcp/0', ...extra],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const records: Record<string, unknown>[] = [];
  let err = '';
  const waiters: (() => void)[] = [];
  let buf = '';
  proc.stdout?.on('data', (b: Buffer) => {
    buf += b.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) records.push(JSON.parse(l));
    for (const w of waiters.splice(0)) w();
  });
  proc.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<number | null>((r) =>
    proc.once('exit', (c) => {
      for (const w of waiters.splice(0)) w();
      r(c);
    }),
  );
  return {
    proc,
    records,
    exited,
    waitFor(event, ms = 60_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`no ${event} record in ${ms} ms: ${JSON.stringify(records)} ${err}`)),
          ms,
        );
        const check = () => {
          const r = records.find((x) => x.event === event);
          if (r) {
            clearTimeout(t);
            return resolve(r);
          }
          if (proc.exitCode !== null) {
            clearTimeout(t);
            return reject(new Error(`exited ${proc.exitCode} before ${event}: ${err}`));
          }
          waiters.push(check);
        };
        check();
      });
    },
  };
}

/** Processes (ours) whose command line names this home: a node left behind. */
export function processesOf(home: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (cmd.includes(`DCHAT_HOME=${home}\0`)) out.push(Number(pid));
    } catch {
      // Gone, or not ours.
    }
  }
  return out;
}

export async function noOrphans(home: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (processesOf(home).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(processesOf(home), [], 'a node of this home is still running');
}
