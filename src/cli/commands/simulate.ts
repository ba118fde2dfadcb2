/**
 * `dchat-test simulate`: runs the gossip simulator (src/sim) for our protocol and the seed's TTL
 * flooding on the same world, prints the comparison, writes both coverage curves as SVG.
 *
 * Flags are parsed here from the strings commander hands over (bad values: UsageError naming the
 * flag, exit 2). The simulator itself is pure; this file owns the clock (wall time), the file
 * write and the worker threads that run the two protocols on the two cores in parallel.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { DchatError, toDchatError, UsageError } from '../../errors.ts';
import type { ProtocolRun } from '../../sim/engine.ts';
import { MAX_SIM_NODES, resolveSimOptions, type SimOptions, type SimProtocol } from '../../sim/options.ts';
import { formatReport } from '../../sim/report.ts';
import {
  buildReport,
  runSimulation,
  runSimulationPart,
  type SimReport,
  type WorldSummary,
} from '../../sim/run.ts';
import { renderSvg } from '../../sim/svg.ts';
import { formatTtlSweep, ttlSweep } from '../../sim/ttl-sweep.ts';

export type SimulateFlags = Record<string, string | boolean | undefined>;

export interface SimulateOutput {
  line(s: string): void;
  result(doc: unknown): void;
  json: boolean;
}

export { SIMULATE_FLAGS } from './simulate-flags.ts';

/** Largest run done in-process by default; above it each protocol gets a worker thread. */
const PARALLEL_FROM_NODES = 20_000;

export async function runSimulateCommand(
  opts: SimulateFlags,
  out: SimulateOutput,
  env: { cwd?: string } = {},
): Promise<number> {
  if (opts.governance === true) {
    const { runGovernanceCommand } = await import('./simulate-governance.ts');
    return runGovernanceCommand(opts, out);
  }
  if (opts.swarm === true) {
    const { runSwarmCommand } = await import('./simulate-swarm.ts');
    return runSwarmCommand(opts, out, env);
  }
  const options = parseSimulateFlags(opts);
  // Every flag is checked before any work starts.
  const sweepTtls = opts.ttlSweep === undefined ? undefined : range(opts.ttlSweep, '--ttl-sweep', 0, 255);
  const outFile = str(opts.out, '--out');
  const started = performance.now();
  const parallel =
    opts.parallel !== false && options.protocols.length > 1 && options.nodes >= PARALLEL_FROM_NODES;
  const report = parallel ? await runSimulationInWorkers(options) : runSimulation(options);
  report.wallMs = Math.round(performance.now() - started);
  const svgPath = outFile ? await writePlot(env.cwd, outFile, renderSvg(report)) : undefined;
  out.line(formatReport(report));
  if (svgPath) out.line(`   plot: ${svgPath}`);
  const sweep = sweepTtls ? ttlSweep(options, sweepTtls) : undefined;
  if (sweep) out.line(`\n${formatTtlSweep(sweep)}`);
  out.result({ ...report, ...(svgPath ? { svg: svgPath } : {}), ...(sweep ? { ttlSweep: sweep } : {}) });
  return 0;
}

/** Flag strings to simulator options; every bad value is a UsageError naming its flag. */
export function parseSimulateFlags(
  f: SimulateFlags,
): Partial<SimOptions> & { nodes: number; protocols: SimProtocol[] } {
  const o: Partial<SimOptions> & { nodes: number; protocols: SimProtocol[] } = {
    nodes: int(f.nodes, '--nodes', 1, MAX_SIM_NODES) ?? 10_000,
    protocols: protocols(f.protocol),
  };
  const set = <K extends keyof SimOptions>(k: K, v: SimOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  set('malicious', fraction(f.malicious, '--malicious', 0.95));
  set('maliciousMode', choice(f.maliciousMode, '--malicious-mode', ['mixed', 'silent'] as const));
  set('loss', fraction(f.loss, '--loss', 0.9));
  set('churn', fraction(f.churn, '--churn', 0.9));
  set('churnWindowMs', duration(f.churnWindow, '--churn-window'));
  set('partition', fraction(f.partition, '--partition', 0.9));
  set('partitionMs', duration(f.partitionMs, '--partition-ms'));
  set('ttl', int(f.ttl, '--ttl', 0, 255));
  set('topology', choice(f.topology, '--topology', ['random', 'line', 'ring'] as const));
  set('announcementBytes', int(f.announcementBytes, '--announcement-bytes', 64, 16 * 1024 * 1024));
  set('maxTimeMs', duration(f.maxTime, '--max-time'));
  set('seed', int(f.seed, '--seed', 0, 2 ** 32 - 1));
  if (f.antiEntropy === false) o.antiEntropy = false;
  const degree = degreeRange(f.degree);
  if (degree) [o.minDegree, o.maxDegree] = degree;
  if (f.uniformLatency === true)
    o.link = { baseLatencyMs: 100, distanceLatencyMs: 0, jitterMs: 0, uplinkMbps: 1e6, loss: 0 };
  return o;
}

/** Runs each protocol in its own worker thread (both cores busy) and assembles one report. */
export async function runSimulationInWorkers(options: Partial<SimOptions>): Promise<SimReport> {
  const resolved = resolveSimOptions(options);
  const parts = await Promise.all(resolved.protocols.map((p) => runPartInWorker(options, p)));
  const first = parts[0];
  if (!first) throw new DchatError('E_INTERNAL', 'no protocol to simulate');
  // Same options, same seed: every worker built the same world; any one's summary will do.
  return buildReport(
    resolved,
    first.summary,
    parts.map((p) => p.run),
  );
}

const WORKER_KIND = 'dchat-simulate-part';

function runPartInWorker(
  options: Partial<SimOptions>,
  protocol: SimProtocol,
): Promise<{ summary: WorldSummary; run: ProtocolRun }> {
  return new Promise((resolvePart, reject) => {
    const worker = new Worker(new URL(import.meta.url), {
      workerData: { kind: WORKER_KIND, options, protocol },
    });
    let done = false;
    worker.once(
      'message',
      (
        msg:
          | { ok: true; part: { summary: WorldSummary; run: ProtocolRun } }
          | { ok: false; error: { code: string; message: string } },
      ) => {
        done = true;
        if (msg.ok) resolvePart(msg.part);
        else
          reject(new DchatError(isCode(msg.error.code) ? msg.error.code : 'E_INTERNAL', msg.error.message));
      },
    );
    worker.once('error', (err) => {
      done = true;
      reject(toDchatError(err));
    });
    worker.once('exit', (code) => {
      if (!done) reject(new DchatError('E_INTERNAL', `simulation worker exited with code ${code}`));
    });
  });
}

function isCode(code: string): code is DchatError['code'] {
  return /^E_[A-Z_]+$/.test(code);
}

// Worker side: the same module, started by runPartInWorker.
if (!isMainThread && parentPort && (workerData as { kind?: string } | undefined)?.kind === WORKER_KIND) {
  const { options, protocol } = workerData as { options: Partial<SimOptions>; protocol: SimProtocol };
  try {
    const part = runSimulationPart(options, protocol);
    parentPort.postMessage({ ok: true, part });
  } catch (err) {
    const e = toDchatError(err);
    parentPort.postMessage({ ok: false, error: { code: e.code, message: e.message } });
  }
}

// ---- flag parsing ---------------------------------------------------------------------------

/** Writes an SVG plot to `file` (relative to `cwd`); returns its absolute path. E_IO if it cannot. */
export async function writePlot(cwd: string | undefined, file: string, svg: string): Promise<string> {
  const path = resolve(cwd ?? '.', file);
  try {
    await writeFile(path, svg);
  } catch (err) {
    throw toDchatError(err, 'E_IO');
  }
  return path;
}

function str(v: string | boolean | undefined, flag: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(flag, 'needs a value');
  return v.trim();
}

function int(v: string | boolean | undefined, flag: string, min: number, max: number): number | undefined {
  const s = str(v, flag);
  if (s === undefined) return undefined;
  const n = /^\d+$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(flag, `must be an integer ${min}..${max}`);
  return n;
}

function fraction(v: string | boolean | undefined, flag: string, max: number): number | undefined {
  const s = str(v, flag);
  if (s === undefined) return undefined;
  // "0.1" or "10%".
  const m = /^(\d+(?:\.\d+)?|\.\d+)(%?)$/.exec(s);
  const n = m ? Number(m[1]) / (m[2] ? 100 : 1) : Number.NaN;
  if (!(n >= 0 && n <= max)) throw new UsageError(flag, `must be a fraction 0..${max} (e.g. 0.1 or 10%)`);
  return n;
}

/** "15000", "500ms", "15s", "2m" to milliseconds. */
function duration(v: string | boolean | undefined, flag: string): number | undefined {
  const s = str(v, flag);
  if (s === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  const unit = m?.[2] === 's' ? 1000 : m?.[2] === 'm' ? 60_000 : 1;
  const n = m ? Number(m[1]) * unit : Number.NaN;
  if (!(n >= 0 && n <= 1e9)) throw new UsageError(flag, 'must be a duration like 15000, 500ms, 15s or 2m');
  return n;
}

function choice<T extends string>(
  v: string | boolean | undefined,
  flag: string,
  allowed: readonly T[],
): T | undefined {
  const s = str(v, flag);
  if (s === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(s))
    throw new UsageError(flag, `must be one of ${allowed.join(', ')}`);
  return s as T;
}

function protocols(v: string | boolean | undefined): SimProtocol[] {
  const s = choice(v, '--protocol', ['ours', 'flood', 'both'] as const) ?? 'both';
  return s === 'both' ? ['ours', 'flood'] : [s];
}

function degreeRange(v: string | boolean | undefined): [number, number] | undefined {
  const s = str(v, '--degree');
  if (s === undefined) return undefined;
  const m = /^(\d+)(?:(?:-|\.\.)(\d+))?$/.exec(s);
  const lo = m ? Number(m[1]) : Number.NaN;
  const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
  if (!(lo >= 1 && hi >= lo && hi <= 1000))
    throw new UsageError('--degree', 'must be N or MIN-MAX with 1 <= MIN <= MAX <= 1000');
  return [lo, hi];
}

/** "3-10" or "3..10" to [3, 4, ..., 10]. */
function range(v: string | boolean | undefined, flag: string, min: number, max: number): number[] {
  const s = str(v, flag) ?? '';
  const m = /^(\d+)(?:-|\.\.)(\d+)$/.exec(s);
  const lo = m ? Number(m[1]) : Number.NaN;
  const hi = m ? Number(m[2]) : Number.NaN;
  if (!(lo >= min && hi >= lo && hi <= max && hi - lo < 64))
    throw new UsageError(flag, `must be FROM-TO within ${min}..${max}, at most 64 values`);
  return Array.from({ length: hi - lo + 1 }, (_, k) => lo + k);
}
