/**
 * The harness's way to run dchat's own commands as an operator does: `node <entry> ...` of this
 * same checkout (dchat, dchat-sign), stdin closed, bounded in time, output collected. Used for the
 * steps whose command line is the thing shown (genesis, governance, update download/install), so
 * the testnet goes through the same code paths a person at a terminal would.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DchatError } from '../errors.ts';
import { DCHAT_ENTRY } from './process.ts';

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
export const DCHAT_SIGN_ENTRY = fileURLToPath(new URL(`../cli/dchat-sign${EXT}`, import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Output kept per stream: the JSON reports the harness reads are far smaller. */
const MAX_OUTPUT = 4 * 1024 * 1024;

export function runCli(
  tool: 'dchat' | 'dchat-sign',
  args: readonly string[],
  o: { timeoutMs?: number; env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): Promise<CliRun> {
  const entry = tool === 'dchat' ? DCHAT_ENTRY : DCHAT_SIGN_ENTRY;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...o.env },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    const keep = (into: Buffer[]) => (d: Buffer) => {
      size += d.length;
      if (size <= 2 * MAX_OUTPUT) into.push(d);
    };
    child.stdout.on('data', keep(out));
    child.stderr.on('data', keep(err));
    const timeoutMs = o.timeoutMs ?? 120_000;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const onAbort = () => child.kill('SIGTERM');
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (e) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      reject(new DchatError('E_INTERNAL', `cannot run ${tool}: ${e.message}`, { cause: e }));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

/** Runs `tool args... --json` and returns its JSON document; a non-zero exit is an error. */
export async function cliJson<T>(
  tool: 'dchat' | 'dchat-sign',
  args: readonly string[],
  o: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<T> {
  const r = await runCli(tool, [...args, '--json'], o);
  const shown = `${tool} ${args.slice(0, 6).join(' ')}`;
  if (r.code !== 0)
    throw new DchatError(
      'E_INTERNAL',
      `${shown} exited ${r.code}: ${(r.stderr.trim() || r.stdout.trim()).slice(-800)}`,
    );
  // One document, or (commands that stream records, e.g. download progress) the last line.
  const lines = r.stdout.trim().split('\n');
  for (const text of [r.stdout, lines[lines.length - 1] ?? '']) {
    try {
      return JSON.parse(text) as T;
    } catch {
      // Try the next form.
    }
  }
  throw new DchatError('E_INTERNAL', `${shown} printed no JSON document: ${r.stdout.slice(-300)}`);
}
