/**
 * Real node processes on loopback for the harness: `node <dchat entry> --home H node start
 * --json ...`, the same binary and command a user runs. Each child's stderr (its log) goes to
 * H/node.log; its stdout's first JSON record says it listens. Every spawn is bounded in time and
 * every child is killed by `stop` (SIGTERM, then SIGKILL after a grace period).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DchatError } from '../errors.ts';
import type { AttackPlan } from './malicious.ts';

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
export const DCHAT_ENTRY = fileURLToPath(new URL(`../cli/dchat${EXT}`, import.meta.url));
export const DCHAT_TEST_ENTRY = fileURLToPath(new URL(`../cli/dchat-test${EXT}`, import.meta.url));

export interface NodeProcess {
  name: string;
  home: string;
  role: string;
  child: ChildProcess;
  peerId: string;
  addresses: string[];
  /** `--metrics` / `--dashboard` endpoints the node printed in its started record. */
  metricsUrl?: string;
  dashboardUrl?: string;
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  name: string;
  home: string;
  role: string;
  /** Arguments after the entry script. */
  args: string[];
  entry?: string;
  /** An executable to run instead of `node <entry>` (a release build: a node kept on an old version). */
  command?: string;
  env?: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
}

/**
 * A malicious node (`dchat-test _malicious-node`) playing `plan`, which is written to
 * H/attack-plan.json, joined to the network through `bootstrap`.
 */
export async function spawnMaliciousNode(o: {
  name: string;
  home: string;
  plan: AttackPlan;
  bootstrap: string;
}): Promise<NodeProcess> {
  const planFile = join(o.home, 'attack-plan.json');
  await writeFile(planFile, JSON.stringify(o.plan));
  return spawnNode({
    name: o.name,
    home: o.home,
    role: 'malicious',
    entry: DCHAT_TEST_ENTRY,
    args: ['_malicious-node', '--json', '--home', o.home, '--plan', planFile, '--bootstrap', o.bootstrap],
  });
}

export async function spawnNode(o: SpawnOptions): Promise<NodeProcess> {
  const logFd = openSync(join(o.home, 'node.log'), 'a');
  let child: ChildProcess;
  try {
    const [cmd, argv] = o.command
      ? [o.command, o.args]
      : [process.execPath, [o.entry ?? DCHAT_ENTRY, ...o.args]];
    child = spawn(cmd, argv, {
      stdio: ['ignore', 'pipe', logFd],
      env: { ...process.env, DCHAT_LOG: process.env.DCHAT_LOG ?? 'info', ...o.env },
    });
  } finally {
    closeSync(logFd);
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  type Started = { peer_id: string; addresses: string[]; metrics_url?: string; dashboard_url?: string };
  const started = await new Promise<Started>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new DchatError(
          'E_TIMEOUT',
          `${o.name} did not start within ${o.startTimeoutMs ?? 30_000} ms (see ${o.home}/node.log)`,
        ),
      );
    }, o.startTimeoutMs ?? 30_000);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      buf += d;
      if (buf.length > 1_000_000) buf = buf.slice(-100_000);
      for (;;) {
        const nl = buf.indexOf('\n');
        if (nl < 0) break;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const doc = JSON.parse(line) as Partial<Started> & {
            event?: string;
            error?: { message?: string };
          };
          if (doc.event === 'started' && doc.peer_id && doc.addresses) {
            clearTimeout(timer);
            resolve(doc as Started);
          } else if (doc.error) {
            clearTimeout(timer);
            reject(new DchatError('E_INTERNAL', `${o.name} failed to start: ${doc.error.message}`));
          }
        } catch {
          // Not a JSON record: ignore.
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(
        new DchatError(
          'E_INTERNAL',
          `${o.name} exited with ${code} before it started (see ${o.home}/node.log)`,
        ),
      );
    });
  });
  // Keep draining stdout so the child never blocks on a full pipe.
  child.stdout?.resume();
  return {
    name: o.name,
    home: o.home,
    role: o.role,
    child,
    peerId: started.peer_id,
    addresses: started.addresses,
    ...(typeof started.metrics_url === 'string' ? { metricsUrl: started.metrics_url } : {}),
    ...(typeof started.dashboard_url === 'string' ? { dashboardUrl: started.dashboard_url } : {}),
    exited,
  };
}

/** SIGTERM every process, SIGKILL whatever is still alive after `graceMs`. */
export async function stopAll(procs: readonly NodeProcess[], graceMs = 5000): Promise<void> {
  await Promise.all(
    procs.map(async (p) => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) return;
      p.child.kill('SIGTERM');
      const t = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
      await p.exited;
      clearTimeout(t);
    }),
  );
}
