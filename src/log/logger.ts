/**
 * Logging to stderr with pino. `DCHAT_LOG` (alias `RUST_LOG`, as the seed shows) takes
 * comma-separated directives: a bare level is the default, `target=level` sets one target, e.g.
 * `DCHAT_LOG=dchat::gossip=debug,info`. Targets are named as the seed names them: `dchat::gossip`,
 * `dchat::package` (downloads and verification), `dchat::node`, `dchat::update`...
 *
 * Format: human lines `[DEBUG dchat::package] message {fields}` (pino-pretty, the seed's example
 * output) when stderr is a terminal, one JSON object per line otherwise; `DCHAT_LOG_FORMAT=json`
 * or `human` (the global `--log-format` flag) chooses either way. JSON lines carry the level name
 * (`"level":"debug"`), not pino's number.
 *
 * Layers below the CLI log through `logTarget(name)`: a child of the logs the running command set
 * up (silent until one did), so the update and gossip paths need no logger passed down to them.
 */
import { type DestinationStream, type Logger, pino } from 'pino';

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

export type LogFormat = 'json' | 'human';

export interface LogConfig {
  defaultLevel: string;
  /** Levels by short target name (`gossip` for `dchat::gossip`). */
  components: Map<string, string>;
}

export function parseLogSpec(spec: string | undefined, fallback = 'warn'): LogConfig {
  const cfg: LogConfig = { defaultLevel: fallback, components: new Map() };
  if (!spec) return cfg;
  for (const raw of spec.split(',')) {
    const d = raw.trim().toLowerCase();
    if (!d) continue;
    const eq = d.lastIndexOf('=');
    if (eq < 0) {
      if (LEVELS.has(d)) cfg.defaultLevel = d;
      continue;
    }
    const level = d.slice(eq + 1);
    if (!LEVELS.has(level)) continue;
    // "dchat::gossip", "dchat_distribution::gossip", "gossip" all name the gossip target.
    const target = d.slice(0, eq).split('::').pop() ?? '';
    if (target === 'dchat' || target === 'dchat_distribution') cfg.defaultLevel = level;
    else if (target) cfg.components.set(target, level);
  }
  return cfg;
}

/** The format: `DCHAT_LOG_FORMAT` (or the flag) if it names one, else human on a terminal. */
export function logFormat(env: NodeJS.ProcessEnv, stderrIsTTY: boolean, flag?: string): LogFormat {
  const v = (flag ?? env.DCHAT_LOG_FORMAT ?? '').trim().toLowerCase();
  if (v === 'json' || v === 'human') return v;
  return stderrIsTTY ? 'human' : 'json';
}

export interface Logs {
  root: Logger;
  /** A logger for target `dchat::<name>`, at the level the directives give it. */
  forComponent(name: string): Logger;
}

export interface LogOptions {
  format?: LogFormat;
  /** Where lines go (default fd 2). */
  destination?: NodeJS.WritableStream | number;
  /** Colour in human lines (a terminal without NO_COLOR). */
  color?: boolean;
}

/** Loaded only for human output: pino-pretty costs ~60 ms of startup that JSON logs never pay. */
async function humanStream(destination: NodeJS.WritableStream | number, color: boolean) {
  const { default: pretty } = await import('pino-pretty');
  return pretty({
    sync: true,
    destination,
    colorize: color,
    singleLine: true,
    ignore: 'pid,hostname,target,time,level',
    messageFormat: (log, key) => {
      // JSON lines carry the level's name (formatters.level below); pino's number otherwise.
      const level = typeof log.level === 'string' ? log.level : pino.levels.labels[log.level as number];
      return `[${(level ?? 'log').toUpperCase().padEnd(5)} ${String(log.target ?? 'dchat')}] ${String(log[key] ?? '')}`;
    },
  });
}

let current: Logs | undefined;
const targets = new Map<string, Logger>();
const SILENT = pino({ level: 'silent' });

export async function createLogs(env: NodeJS.ProcessEnv, o: LogOptions = {}): Promise<Logs> {
  const cfg = parseLogSpec(env.DCHAT_LOG ?? env.RUST_LOG);
  const levels = [cfg.defaultLevel, ...cfg.components.values()];
  const lowest = levels.reduce((a, b) => (pino.levels.values[a]! <= pino.levels.values[b]! ? a : b));
  const destination = o.destination ?? 2;
  const format = o.format ?? 'json';
  let dest: DestinationStream;
  if (lowest === 'silent') dest = pino.destination({ fd: 2, sync: true });
  else if (format === 'human') dest = await humanStream(destination, Boolean(o.color));
  else
    dest = (
      typeof destination === 'number' ? pino.destination({ fd: destination, sync: true }) : destination
    ) as DestinationStream;
  const root = pino(
    {
      level: lowest,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        // `target` is the log target (dchat::...); a field of that name in the data (a package
        // target, e.g. dchat-1.0.0-linux-x64) is renamed so the line keeps one `target` key.
        log: (o) => {
          if (!('target' in o)) return o;
          const { target, ...rest } = o;
          return { ...rest, package: target };
        },
      },
    },
    dest,
  );
  const logs: Logs = {
    root,
    forComponent: (name) =>
      root.child({ target: `dchat::${name}` }, { level: cfg.components.get(name) ?? cfg.defaultLevel }),
  };
  current = logs;
  targets.clear();
  return logs;
}

/** The logger of target `dchat::<name>` in the logs the command set up (silent before that). */
export function logTarget(name: string): Logger {
  if (!current) return SILENT;
  let l = targets.get(name);
  if (!l) {
    l = current.forComponent(name);
    targets.set(name, l);
  }
  return l;
}

/** A logger that drops everything (library defaults, tests). */
export function silentLogs(): Logs {
  return { root: SILENT, forComponent: () => SILENT };
}
