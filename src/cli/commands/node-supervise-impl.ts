/**
 * `dchat node start` on a home with installed versions ($DCHAT_HOME/versions, activation/): the
 * command becomes the supervisor and runs the `current` version's node as a child. Records under
 * --json: `started` (the child's, plus `version` and `supervised`), then `switched`,
 * `rolled_back`, `child_exited`, and `stopped` at the end. SIGHUP makes it restart on whatever
 * `current` names (what `dchat update rollback` sends). Without installed versions the node runs
 * in this process as before.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { SUPERVISED_ENV } from '../../activation/parent-watch.ts';
import { DEFAULT_HEALTH_BOUND_MS, Supervisor, type SupervisorEvent } from '../../activation/supervisor.ts';
import { listInstalled, versionPaths } from '../../activation/versions.ts';
import { DchatError } from '../../errors.ts';
import type { CommandEnv } from '../program.ts';

export async function shouldSupervise(env: CommandEnv): Promise<boolean> {
  if (env.ctx.env[SUPERVISED_ENV]) return false;
  const vp = versionPaths(env.paths);
  if (!existsSync(vp.versionsDir)) return false;
  return (await listInstalled(vp)).length > 0;
}

export interface SupervisedFlags {
  listen: string[];
  bootstrap: string[];
  role: string;
  prefetch?: boolean;
  platform: string;
  announceTtl: number;
  healthTimeout: number | undefined;
  /** --metrics HOST:PORT, passed on: each child serves it in turn. */
  metrics?: string | undefined;
  /** Height and validator flags, passed on unchanged (each child parses them). */
  heightSource?: string | undefined;
  upgradeApi?: string | undefined;
  validatorKey?: string | undefined;
  passphraseFile?: string | undefined;
  allowInsecureKeyPermissions?: boolean | undefined;
}

export async function superviseStart(o: SupervisedFlags, env: CommandEnv): Promise<number> {
  const args = [
    ...o.listen.flatMap((a) => ['--listen', a]),
    ...o.bootstrap.flatMap((a) => ['--bootstrap', a]),
    '--role',
    o.role,
    '--platform',
    o.platform,
    '--announce-ttl',
    String(o.announceTtl),
    ...(o.prefetch ? ['--prefetch'] : []),
    ...(o.metrics !== undefined ? ['--metrics', o.metrics] : []),
    ...(o.heightSource !== undefined ? ['--height-source', o.heightSource] : []),
    ...(o.upgradeApi !== undefined ? ['--upgrade-api', o.upgradeApi] : []),
    ...(o.validatorKey !== undefined ? ['--validator-key', resolve(env.ctx.cwd, o.validatorKey)] : []),
    ...(o.passphraseFile !== undefined ? ['--passphrase-file', resolve(env.ctx.cwd, o.passphraseFile)] : []),
    ...(o.allowInsecureKeyPermissions ? ['--allow-insecure-key-permissions'] : []),
  ];
  const log = env.logs.forComponent('activation');
  const onEvent = (e: SupervisorEvent) => {
    switch (e.event) {
      case 'started':
        return;
      case 'switched':
        env.out.line(
          `🔀 switched ${e.from ?? 'none'} -> ${e.to}${e.height !== null ? ` at height ${e.height}` : ''} (${e.downtime_ms} ms down)`,
        );
        break;
      case 'rolled_back':
        env.out.line(`↩️  ${e.from} rolled back to ${e.to}: ${e.reason}`);
        break;
      case 'child_exited':
        env.out.line(`💥 dchat ${e.version} exited (code ${e.code})`);
        break;
    }
    env.out.record(e);
  };
  const sup = new Supervisor({
    paths: env.paths,
    childArgs: args,
    env: env.ctx.env,
    log,
    now: env.ctx.now,
    healthBoundMs: (o.healthTimeout ?? DEFAULT_HEALTH_BOUND_MS / 1000) * 1000,
    onEvent,
  });
  if (!env.ctx.onShutdown) throw new DchatError('E_INTERNAL', 'node start needs a shutdown hook');
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  env.ctx.onShutdown(async () => {
    await sup.stop();
    resolveDone();
  });
  const { version, child } = await sup.start();
  const onHup = () => void sup.reload().catch((err) => log.error({ err }, 'activation: reload failed'));
  process.on('SIGHUP', onHup);
  env.out.line(`🚀 dchat node started (${o.role}), supervised: running ${version}`);
  if (child.peer_id) env.out.line(`   Peer ID: ${child.peer_id}`);
  for (const a of child.addresses ?? []) env.out.line(`   Listening: ${a}`);
  env.out.record({ ...child, version, supervised: true, supervisor_pid: process.pid });
  await done;
  process.off('SIGHUP', onHup);
  env.out.line('👋 node stopped');
  env.out.record({ event: 'stopped' });
  return 0;
}
