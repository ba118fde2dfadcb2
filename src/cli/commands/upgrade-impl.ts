/**
 * `dchat-test upgrade --from A --to B --fork hard|soft [--validators 3 --relays 3 --users 4]
 * [--unhealthy]` (spec/CLI.md "Test harness"): a fresh multi-process testnet of real dchat builds
 * goes through publish, proposal, votes, approval, pre-download and the switch at the activation
 * height (src/testnet/upgrade-run.ts). The summary goes to stderr under --json, the report to
 * stdout. Exit 0 only if every honest node ends on the verified `to`; --unhealthy always exits 1
 * (the nodes must end back on `from`, which the report's rolled_back_everywhere says).
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { DchatError, EXIT_OPERATIONAL, UsageError } from '../../errors.ts';
import { parseDuration } from '../../model/duration.ts';
import { hostPlatform } from '../../model/platform.ts';
import { compareVersions } from '../../model/version.ts';
import type { UpgradeReport } from '../../testnet/upgrade.ts';
import { PACKAGE_ROOT } from '../../testnet/upgrade-builds.ts';
import { runUpgrade } from '../../testnet/upgrade-run.ts';
import { intFlag, platformFlag, versionFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';
import { formatSize } from './update-shared-impl.ts';

export interface UpgradeFlags {
  from: string;
  to: string;
  fork: string;
  validators: string;
  relays: string;
  users: string;
  unhealthy?: boolean;
  delta?: boolean;
  legacy: boolean;
  dir?: string;
  source?: string;
  buildsDir?: string;
  platform?: string;
  votingPeriod: string;
  graceBlocks: string;
  healthTimeout: string;
  timeout: string;
}

export function forkFlag(v: string): 'hard' | 'soft' {
  if (v === 'hard' || v === 'soft') return v;
  throw new UsageError('--fork', `'${v.slice(0, 40)}' is not hard or soft`);
}

export async function upgrade(o: UpgradeFlags, env: CommandEnv): Promise<number> {
  const from = versionFlag(o.from, '--from');
  const to = versionFlag(o.to, '--to');
  if (compareVersions(to, from) <= 0) throw new UsageError('--to', `${to} is not above --from ${from}`);
  const fork = forkFlag(o.fork);
  const validators = intFlag(o.validators, '--validators', 1, 16) as number;
  const relays = intFlag(o.relays, '--relays', 0, 32) as number;
  const users = intFlag(o.users, '--users', 0, 64) as number;
  const votingS = parseDuration(o.votingPeriod, '--voting-period');
  if (votingS < 5 || votingS > 3600) throw new UsageError('--voting-period', 'between 5s and 1h');
  const graceBlocks = intFlag(o.graceBlocks, '--grace-blocks', 5, 100_000) as number;
  const healthTimeoutS = intFlag(o.healthTimeout, '--health-timeout', 1, 3600) as number;
  const timeoutMs = parseDuration(o.timeout, '--timeout') * 1000;
  const platform = platformFlag(o.platform ?? hostPlatform(process.platform, process.arch));
  const runId = `${env.ctx.now().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
  const dir = resolve(env.ctx.cwd, o.dir ?? join(env.paths.home, 'testnet', 'upgrades', runId));
  const say = (s: string) => (env.out.json ? env.out.note(s) : env.out.line(s));
  // Ctrl-C / SIGTERM: every node, build and server of the run is stopped before the exit.
  const stop = new AbortController();
  env.ctx.onShutdown?.(async () => {
    say('🛑 Stopping the upgrade testnet');
    stop.abort(new DchatError('E_INTERRUPTED', 'the upgrade run was stopped'));
    await stopped;
  });
  let markStopped: () => void = () => {};
  const stopped = new Promise<void>((r) => {
    markStopped = r;
  });
  const report = await runUpgrade({
    signal: stop.signal,
    dir,
    buildsDir: o.buildsDir ? resolve(env.ctx.cwd, o.buildsDir) : join(dir, 'builds'),
    source: o.source ? resolve(env.ctx.cwd, o.source) : PACKAGE_ROOT,
    from,
    to,
    unhealthy: o.unhealthy === true,
    delta: o.delta === true,
    validators,
    relays,
    users,
    legacy: o.legacy,
    platform,
    healthTimeoutS,
    now: env.ctx.now,
    note: say,
    fork,
    votingS,
    graceBlocks,
    timeoutMs,
  }).finally(markStopped);
  summarize(say, report);
  env.out.result(report);
  return report.ok ? 0 : EXIT_OPERATIONAL;
}

function summarize(say: (s: string) => void, r: UpgradeReport): void {
  const title = r.unhealthy
    ? `upgrade ${r.from} -> ${r.version} (never healthy): ${r.rolled_back_everywhere ? 'rolled back on every node' : 'NOT rolled back everywhere'}`
    : `upgrade ${r.from} -> ${r.version}, ${r.fork} fork`;
  say(
    `${r.ok ? '✅' : '❌'} ${title} in ${r.duration_ms} ms (activation height ${r.activation_height ?? '-'})`,
  );
  if (r.proposal)
    say(
      `   Proposal ${r.proposal.id.slice(0, 12)}: yes ${r.proposal.yes}, no ${r.proposal.no}, abstain ${r.proposal.abstain}, quorum ${r.proposal.quorum_reached ? 'reached' : 'missed'}, approving stake ${r.proposal.approving_stake}`,
    );
  for (const n of r.nodes) {
    const mark = n.verified ? '✅' : '❌';
    const sw = n.switch_height !== null ? ` switched at ${n.switch_height}` : '';
    const down = n.downtime_ms !== null ? ` (${n.downtime_ms} ms down)` : '';
    const rb = n.rolled_back ? ' rolled back' : '';
    const patch = n.patch?.used
      ? `, patch: fetched ${formatSize(n.patch.fetched_bytes)}, saved ${formatSize(n.patch.saved_bytes)}`
      : '';
    say(
      `   ${mark} ${n.id.padEnd(7)} ${n.role.padEnd(9)} ${n.version ?? 'unknown'}${sw}${down}${rb}${patch}${n.error ? ` (${n.error})` : ''}`,
    );
  }
  if (r.fork === 'hard' && !r.unhealthy)
    say(`   Legacy node refused after the hard fork: ${r.old_version_refused ? 'yes' : 'no'}`);
  if (r.fork === 'soft' && r.legacy_kept_talking !== null)
    say(`   Legacy node still talking after the soft fork: ${r.legacy_kept_talking ? 'yes' : 'no'}`);
  if (r.error) say(`   Error: ${r.error}`);
  say(`   Run kept in ${r.run_dir} (report.json, one home and node.log per node)`);
}
