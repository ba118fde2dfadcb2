/**
 * Runs the real executables as a user would: `process.execPath src/cli/<bin>.ts ...`, the same
 * Node 24 that runs the tests, TypeScript sources directly (type stripping), in a chosen cwd and
 * environment. Returns exit code, stdout and stderr.
 */
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { CliContext } from '../../src/cli/context.ts';
import { buildDchat } from '../../src/cli/dchat-program.ts';
import { runProgram } from '../../src/cli/program.ts';
import { buildDchatSign } from '../../src/cli/sign-program.ts';

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
  return runProcess(process.execPath, [BINS[bin], ...args], {
    cwd: o.cwd ?? REPO_ROOT,
    env,
    timeoutMs: o.timeoutMs ?? 30_000,
  });
}

/**
 * Spawns any program with exactly `env` (nothing added), stdin closed, and collects its exit and
 * its two output streams (decoded once at the end, so a character split across reads survives).
 */
export function runProcess(
  cmd: string,
  args: readonly string[],
  o: { cwd?: string; env: Record<string, string>; timeoutMs: number },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: o.cwd,
      env: o.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: o.timeoutMs,
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

/**
 * The same programs run in this process with captured streams (the CliContext seam the commands
 * are written against): the whole parse -> body -> error rendering -> exit code path without a
 * process start, for wide tables of cases. End-to-end behaviour is still checked with runBin.
 */
export async function runInProcess(
  bin: 'dchat' | 'dchat-sign',
  args: readonly string[],
  o: { cwd: string; env?: Record<string, string | undefined>; now?: Date },
): Promise<CliResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (b: Buffer) => out.push(b));
  stderr.on('data', (b: Buffer) => err.push(b));
  const ctx: CliContext = {
    stdout,
    stderr,
    env: { ...o.env },
    cwd: o.cwd,
    now: () => o.now ?? new Date(),
  };
  const program = bin === 'dchat' ? buildDchat(ctx) : buildDchatSign(ctx);
  const code = await runProgram(program, [...args]);
  stdout.end();
  stderr.end();
  return {
    code,
    signal: null,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  };
}

/**
 * `release publish` of one package file, the flags every publish test repeats: `out` and `key`
 * left out when a test checks what happens without them; several keys as several `--key`.
 */
export function publishArgs(o: {
  package: string;
  version: string;
  platform: string;
  out?: string;
  key?: string | readonly string[];
}): string[] {
  const keys = o.key === undefined ? [] : typeof o.key === 'string' ? [o.key] : o.key;
  return [
    ...['release', 'publish', '--package', o.package, '--version', o.version, '--platform', o.platform],
    ...(o.out === undefined ? [] : ['--out', o.out]),
    ...keys.flatMap((k) => ['--key', k]),
  ];
}

/** `update download` of one version for one platform (further flags follow). */
export const downloadArgs = (version: string, platform: string): string[] => [
  ...['update', 'download', '--version', version, '--platform', platform],
];
