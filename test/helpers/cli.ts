/**
 * Runs the real executables as a user would: `process.execPath src/cli/<bin>.ts ...`, the same
 * Node 24 that runs the tests, TypeScript sources directly (type stripping), in a chosen cwd and
 * environment. Returns exit code, stdout and stderr.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BINS = {
  dchat: fileURLToPath(new URL('../../src/cli/dchat.ts', import.meta.url)),
  'dchat-sign': fileURLToPath(new URL('../../src/cli/dchat-sign.ts', import.meta.url)),
  'dchat-test': fileURLToPath(new URL('../../src/cli/dchat-test.ts', import.meta.url)),
} as const;
export type BinName = keyof typeof BINS;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  /** Added to a clean environment (PATH, HOME and TMPDIR of this process, nothing else). */
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

export function runBin(bin: BinName, args: readonly string[], o: RunOptions = {}): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  for (const [k, v] of Object.entries(o.env ?? {})) if (v !== undefined) env[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BINS[bin], ...args], {
      cwd: o.cwd ?? REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: o.timeoutMs ?? 30_000,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}

export const dchat = (args: readonly string[], o?: RunOptions) => runBin('dchat', args, o);
export const dchatSign = (args: readonly string[], o?: RunOptions) => runBin('dchat-sign', args, o);

/** A readable description of a run, for assertion messages. */
export function describeRun(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}
