/**
 * Logging to stderr with pino. `DCHAT_LOG` (alias `RUST_LOG`, as the seed shows) takes
 * comma-separated directives: a bare level is the default, `target=level` sets one component,
 * e.g. `DCHAT_LOG=dchat::gossip=debug,info`. Components are named as in `forComponent('gossip')`.
 */
import { type Logger, pino } from 'pino';

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

export interface LogConfig {
  defaultLevel: string;
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
    // "dchat::gossip", "dchat_distribution::gossip", "gossip" all name the gossip component.
    const target = d.slice(0, eq).split('::').pop() ?? '';
    if (target === 'dchat' || target === 'dchat_distribution') cfg.defaultLevel = level;
    else if (target) cfg.components.set(target, level);
  }
  return cfg;
}

export interface Logs {
  root: Logger;
  forComponent(name: string): Logger;
}

export function createLogs(env: NodeJS.ProcessEnv, destination: NodeJS.WritableStream | number = 2): Logs {
  const cfg = parseLogSpec(env.DCHAT_LOG ?? env.RUST_LOG);
  const levels = [cfg.defaultLevel, ...cfg.components.values()];
  const lowest = levels.reduce((a, b) => (pino.levels.values[a]! <= pino.levels.values[b]! ? a : b));
  const dest =
    typeof destination === 'number' ? pino.destination({ fd: destination, sync: true }) : destination;
  const root = pino(
    { level: lowest, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    dest as never,
  );
  return {
    root,
    forComponent: (name) =>
      root.child({ component: name }, { level: cfg.components.get(name) ?? cfg.defaultLevel }),
  };
}

/** A logger that drops everything (library defaults, tests). */
export function silentLogs(): Logs {
  const root = pino({ level: 'silent' });
  return { root, forComponent: () => root };
}
