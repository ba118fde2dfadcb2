/**
 * V8's compile cache for the command-line tools. Every start of a bin parses and compiles about
 * 300 modules (zod, the TUF models, commander, ...) before it does any work; with the cache, later
 * starts reuse the compiled code (about 50-100 ms less per command on the benchmark machine).
 *
 * The cache lives in the data directory (`<home>/cache/compile`, spec/CLI.md: every file the
 * program writes lives under `--home`/DCHAT_HOME), and only when that directory already exists:
 * `dchat --help` on a fresh machine creates nothing. What is read from it runs in this process, so
 * it is never a shared directory such as /tmp. Node keys it by source hash and V8 version, and its
 * own switch NODE_DISABLE_COMPILE_CACHE=1 turns it off.
 */
import { existsSync } from 'node:fs';
import { enableCompileCache } from 'node:module';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from './context.ts';

/**
 * The data directory as the program will resolve it, read from argv before commander runs
 * (`--home DIR` or `--home=DIR`, else DCHAT_HOME, else ~/.dchat; same order as store/home.ts).
 */
export function homeFromArgv(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): string {
  let flag: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') break;
    if (a === '--home' && i + 1 < argv.length) flag = argv[i + 1];
    else if (a.startsWith('--home=')) flag = a.slice('--home='.length);
  }
  return resolve(cwd, flag ?? env.DCHAT_HOME ?? join(homedir(), '.dchat'));
}

export function compileCacheDir(home: string): string {
  return join(home, 'cache', 'compile');
}

export function useCompileCache(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  try {
    const home = homeFromArgv(argv, env, process.cwd());
    if (existsSync(home)) enableCompileCache(compileCacheDir(home));
  } catch {
    // An optimisation only: never a reason for a command to fail.
  }
}

/**
 * The body of every bin: the cache first, then the rest of the CLI loaded through it (dynamic
 * imports, so nothing is compiled before the cache is on), then the program run on process.argv.
 */
export async function runBin(loadProgram: () => Promise<(ctx: CliContext) => Command>): Promise<void> {
  const argv = process.argv.slice(2);
  useCompileCache(argv);
  const { processContext } = await import('./context.ts');
  const { runProgram } = await import('./program.ts');
  const build = await loadProgram();
  process.exitCode = await runProgram(build(processContext()), argv);
}
