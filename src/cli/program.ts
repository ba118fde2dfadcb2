import { Command, CommanderError, Option } from 'commander';
import { EXIT_OK, EXIT_USAGE } from '../errors.ts';
import { createLogs, type Logs, logFormat } from '../log/logger.ts';
import { type HomePaths, homePaths, resolveHome } from '../store/home.ts';
import type { CliContext } from './context.ts';
import { addExtraHelp } from './help-text.ts';
import { Output, runBody } from './output.ts';
import { VERSION } from './version.ts';

export { VERSION } from './version.ts';

/** What every command body receives. */
export interface CommandEnv {
  ctx: CliContext;
  out: Output;
  paths: HomePaths;
  logs: Logs;
  /** Global flags (--home, --json) merged with the command's own. */
  globals: { home?: string; json?: boolean };
}

export type Body<O> = (opts: O, env: CommandEnv, args: string[]) => Promise<number | undefined | void>;

/** The exit code of the last action, read by `runProgram` (commander does not return it). */
const exitCodes = new WeakMap<Command, number>();

/** Wraps a command body: global flags, output, logging, errors -> exit codes. */
export function action<O>(ctx: CliContext, body: Body<O>) {
  return async function (this: Command, ...argv: unknown[]): Promise<void> {
    const cmd = argv[argv.length - 1] as Command;
    const opts = cmd.optsWithGlobals() as O & { home?: string; json?: boolean; logFormat?: string };
    const out = new Output(ctx, Boolean(opts.json));
    const args = cmd.args;
    const code = await runBody(out, async () => {
      const paths = homePaths(resolveHome(opts.home, ctx.env));
      const tty = Boolean(ctx.stderr.isTTY);
      const format = logFormat(ctx.env, tty, opts.logFormat);
      const logs = await createLogs(ctx.env, { format, color: tty && !ctx.env.NO_COLOR });
      return body(opts, { ctx, out, paths, logs, globals: { home: opts.home, json: opts.json } }, args);
    });
    let root: Command = cmd;
    while (root.parent) root = root.parent;
    exitCodes.set(root, code);
  };
}

/**
 * A command body loaded on first use (so `dchat --version` stays fast), typed by the flags
 * interface its implementation declares: `lazy(ctx, async () => (await import('./x-impl.ts')).run)`.
 * That interface is the one place a command's parsed options get their type.
 */
export function lazy<O>(ctx: CliContext, load: () => Promise<Body<O>>) {
  return action<O>(ctx, async (opts, env, args) => (await load())(opts, env, args));
}

export function newProgram(name: string, description: string, ctx: CliContext): Command {
  const program = new Command(name)
    .description(description)
    .addOption(new Option('--home <dir>', 'data directory (env DCHAT_HOME, default ~/.dchat)'))
    .option('--json', 'machine output: one JSON document on stdout')
    .addOption(
      new Option(
        '--log-format <format>',
        'log lines on stderr: human or json (env DCHAT_LOG_FORMAT; default human on a terminal)',
      ).choices(['human', 'json']),
    )
    .showHelpAfterError(false)
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      outputError: (s, write) => write(`error[E_USAGE]: ${s.replace(/^error: /, '').trimEnd()}\n`),
    });
  program.exitOverride();
  addExtraHelp(program);
  return program;
}

/** argv without the program-wide flags (`--home DIR`, `--home=DIR`, `--json`). */
function withoutGlobalFlags(argv: readonly string[]): string[] {
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--home') i++;
    else if (!a.startsWith('--home=') && a !== '--json') rest.push(a);
  }
  return rest;
}

/**
 * The first word of argv that names no subcommand where one is expected (skipping option values of
 * known options), or undefined. `help` is commander's own command.
 */
export function unknownCommand(program: Command, argv: readonly string[]): string | undefined {
  let cmd = program;
  const chain: Command[] = [program];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') return undefined;
    if (a.startsWith('-')) {
      if (a.includes('=')) continue;
      const opt = chain.flatMap((c) => c.options).find((o) => o.long === a || o.short === a);
      if (opt?.required) i++;
      continue;
    }
    if (cmd.commands.length === 0) return undefined;
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (!sub) return a === 'help' ? undefined : a;
    cmd = sub;
    chain.push(sub);
  }
  return undefined;
}

/** Parses argv, runs the action, returns the exit code (never calls process.exit itself). */
export async function runProgram(program: Command, argv: string[]): Promise<number> {
  // `--version` alone (global flags aside: `dchat --home H --version`) prints ours; elsewhere it is
  // the seed's release-version flag (`update download --version 1.0.0`), so commander's own
  // version option is not used.
  const rest = withoutGlobalFlags(argv);
  if (rest.length === 1 && (rest[0] === '--version' || rest[0] === '-V')) {
    (program.configureOutput().writeOut ?? ((s: string) => process.stdout.write(s)))(`${VERSION}\n`);
    return EXIT_OK;
  }
  // Every subcommand must report usage errors the same way (commander copies settings on create).
  const applyOverride = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(applyOverride);
  };
  applyOverride(program);
  // commander answers `PROG unknown-command --help` with the parent's help and exit 0, so a
  // script probing for a command believes it exists: that is an unknown command, exit 2.
  if (argv.includes('--help') || argv.includes('-h')) {
    const unknown = unknownCommand(program, argv);
    if (unknown !== undefined) {
      const message = `unknown command '${unknown.slice(0, 80)}'`;
      (program.configureOutput().writeErr ?? ((s: string) => process.stderr.write(s)))(
        `error[E_USAGE]: ${message}\n`,
      );
      if (argv.includes('--json')) {
        const write = program.configureOutput().writeOut ?? ((s: string) => process.stdout.write(s));
        write(`${JSON.stringify({ error: { code: 'E_USAGE', message } })}\n`);
      }
      return EXIT_USAGE;
    }
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      )
        return EXIT_OK;
      if (err.code === 'commander.executeSubCommandAsync') return EXIT_OK;
      // spec/CLI.md: with --json the error object is the JSON document on stdout, for usage
      // errors that commander itself detects (missing or unknown flag) as for any other.
      if (argv.includes('--json')) {
        const write = program.configureOutput().writeOut ?? ((s: string) => process.stdout.write(s));
        const message = err.message.replace(/^error: /, '').trimEnd();
        write(`${JSON.stringify({ error: { code: 'E_USAGE', message } })}\n`);
      }
      return EXIT_USAGE;
    }
    throw err;
  }
  return exitCodes.get(program) ?? EXIT_OK;
}
