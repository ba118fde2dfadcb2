/**
 * `dchat node start|status|announce`. `start` runs the daemon in the foreground until SIGINT or
 * SIGTERM; with --json it prints one `{"event":"started",...}` record when it listens (NDJSON:
 * scripts wait for that line) and `{"event":"stopped"}` at the end. `status` and `announce` talk to
 * the running node over its control socket ($DCHAT_HOME/run/node.sock).
 */
import { resolve } from 'node:path';
import { multiaddr } from '@multiformats/multiaddr';
import { awaitGo, mayHaveVersions, SUPERVISED_ENV, watchSupervisor } from '../../activation/parent-watch.ts';
import { DchatError, UsageError } from '../../errors.ts';
import type { ForkGuardStatus } from '../../gossip/libp2p/fork-guard.ts';
import { chainUrl } from '../../model/chain.ts';
import { hostPlatform } from '../../model/platform.ts';
import { DOWNLOAD_KINDS, parseSourceKind, type SourceKind } from '../../model/source-kind.ts';
import type { NotesStatus } from '../../node/activation-notes.ts';
import { controlRequest } from '../../node/control.ts';
import type { HeightSourceSpec, HeightStatus } from '../../node/heights.ts';
import { DEFAULT_LISTEN, NODE_ROLES, type NodeRole } from '../../node/node-config.ts';
import type { startObservability } from '../../node/observability.ts';
import { keyFileOptions, loadSigningKeyFile } from '../../release/key-files.ts';
import { usesPublicNetwork } from '../../store/trust-origin.ts';
import { intFlag, platformFlag, versionFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';
import { NEVER_HEALTHY, VERSION } from '../version.ts';
import { parseHostPort } from './mirror-impl.ts';
import { passphraseSource } from './release-keys.ts';

/**
 * The node's own code (libp2p, gossip, stores, metrics): loaded only by a process that runs the
 * node, not by a supervisor, which runs the node as a child and so stays small.
 */
const loadNode = () => Promise.all([import('../../node/daemon.ts'), import('../../node/observability.ts')]);

/** Bootstrap peers of the public dchat network. None exist yet: a node dials only --bootstrap. */
export const PUBLIC_BOOTSTRAP: readonly string[] = [];

export interface StartFlags {
  listen: string[];
  bootstrap: string[];
  role: string;
  metrics?: string;
  dashboard?: string;
  prefetch?: boolean;
  platform?: string;
  prefetchSource?: string;
  announceTtl: string;
  tracker?: string;
  btAnnounce: string[];
  btPort?: string;
  healthTimeout?: string;
  heightSource?: string;
  upgradeApi?: string;
  validatorKey?: string;
  passphraseFile?: string;
  allowInsecureKeyPermissions?: boolean;
  /** Hidden: started by a supervisor ahead of a switch; waits for its "go" (activation/child.ts). */
  standby?: boolean;
}

/** `--tracker HOST:PORT` ([::1]:PORT for IPv6). */
export function hostPortFlag(value: string, flag: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new UsageError(flag, `'${value.slice(0, 80)}' is not HOST:PORT (e.g. 127.0.0.1:6969)`);
  return { host: (m[1] ?? m[2]) as string, port };
}

/** `--height-source beacon|cometbft:URL` and `--upgrade-api URL` to a node/heights.ts spec. */
export function heightSourceFlag(
  value: string | undefined,
  upgradeApi: string | undefined,
): HeightSourceSpec {
  const v = value ?? 'beacon';
  if (v === 'beacon') {
    if (upgradeApi !== undefined)
      throw new UsageError(
        '--upgrade-api',
        'only with --height-source cometbft:URL (the chain it belongs to)',
      );
    return { kind: 'beacon' };
  }
  if (!v.startsWith('cometbft:'))
    throw new UsageError('--height-source', `'${v.slice(0, 80)}' is not beacon or cometbft:URL`);
  const rpc = v.slice('cometbft:'.length);
  const check = (url: string, flag: string) => {
    try {
      return chainUrl(url, flag).href;
    } catch (err) {
      throw new UsageError(flag, (err as Error).message, { cause: err });
    }
  };
  return {
    kind: 'cometbft',
    rpc: check(rpc, '--height-source'),
    ...(upgradeApi !== undefined ? { upgradeApi: check(upgradeApi, '--upgrade-api') } : {}),
  };
}

/** `--validator-key FILE`: the key this validator signs height beacons with. */
async function validatorKeyFlag(o: StartFlags, env: CommandEnv) {
  if (o.validatorKey === undefined) return undefined;
  if (o.role !== 'validator') throw new UsageError('--validator-key', 'only with --role validator');
  const k = await loadSigningKeyFile(
    resolve(env.ctx.cwd, o.validatorKey),
    '--validator-key',
    passphraseSource(env, o.passphraseFile),
    keyFileOptions(o),
  );
  return { privateKey: k.privateKey, publicKeyHex: k.publicHex };
}

function multiaddrFlag(value: string, flag: string, needPeerId: boolean): string {
  let ma: ReturnType<typeof multiaddr>;
  try {
    ma = multiaddr(value);
  } catch (cause) {
    throw new UsageError(flag, `'${value.slice(0, 120)}' is not a multiaddr`, { cause });
  }
  const names = ma.getComponents().map((c) => c.name);
  if (!names.includes('tcp'))
    throw new UsageError(flag, `'${value.slice(0, 120)}' has no /tcp/ part (TCP only)`);
  if (needPeerId && !names.includes('p2p'))
    throw new UsageError(flag, `'${value.slice(0, 120)}' needs the peer id: .../p2p/<peer-id>`);
  return ma.toString();
}

export async function start(o: StartFlags, env: CommandEnv): Promise<number> {
  const metrics = o.metrics !== undefined ? parseHostPort(o.metrics, '--metrics') : undefined;
  const dashboard = o.dashboard !== undefined ? parseHostPort(o.dashboard, '--dashboard') : undefined;
  if (!(NODE_ROLES as readonly string[]).includes(o.role))
    throw new UsageError('--role', `'${o.role.slice(0, 40)}' is not one of ${NODE_ROLES.join(', ')}`);
  const listen = (o.listen.length ? o.listen : [DEFAULT_LISTEN]).map((a) =>
    multiaddrFlag(a, '--listen', false),
  );
  const bootstrap = o.bootstrap.map((a) => multiaddrFlag(a, '--bootstrap', true));
  if (await usesPublicNetwork(env.paths)) bootstrap.push(...PUBLIC_BOOTSTRAP);
  const platform = platformFlag(o.platform ?? hostPlatform(process.platform, process.arch));
  const announceTtl = intFlag(o.announceTtl, '--announce-ttl', 0, 255) ?? 8;
  for (const u of o.btAnnounce)
    if (!/^(https?|udp|wss?):\/\/[^\s]+$/.test(u) || u.length > 512)
      throw new UsageError(
        '--bt-announce',
        `'${u.slice(0, 80)}' is not a tracker URL (http, https, udp, ws, wss)`,
      );
  const bittorrent = {
    ...(o.tracker !== undefined ? { tracker: hostPortFlag(o.tracker, '--tracker') } : {}),
    announce: o.btAnnounce,
    port: intFlag(o.btPort, '--bt-port', 0, 65535) ?? 0,
  };
  let prefetchSource: SourceKind | undefined;
  if (o.prefetchSource !== undefined) {
    prefetchSource = parseSourceKind(o.prefetchSource);
    if (!prefetchSource || !DOWNLOAD_KINDS.includes(prefetchSource))
      throw new UsageError(
        '--prefetch-source',
        `'${o.prefetchSource.slice(0, 40)}' is not one of ${DOWNLOAD_KINDS.join(', ')}`,
      );
  }
  const heightSource = heightSourceFlag(o.heightSource, o.upgradeApi);
  const validatorKey = await validatorKeyFlag(o, env);
  const healthTimeout = intFlag(o.healthTimeout, '--health-timeout', 1, 3600);
  if (o.standby) {
    // The code is loaded and the flags checked: what is left is the start proper, once the old
    // node has stopped. Nothing under the home has been touched yet.
    if (!env.ctx.env[SUPERVISED_ENV])
      throw new UsageError('--standby', 'only for a node its supervisor starts');
    await loadNode();
    env.out.record({ event: 'standby', pid: process.pid });
    if (!(await awaitGo(process.stdin))) return 0;
  }
  // With installed versions ($DCHAT_HOME/versions), the supervisor runs the current one as a child
  // (loaded only then: an idle unsupervised node keeps its small footprint).
  if (mayHaveVersions(env.paths.home, env.ctx.env)) {
    const supervised = await import('./node-supervise-impl.ts');
    if (await supervised.shouldSupervise(env))
      return supervised.superviseStart(
        { ...o, listen, bootstrap, platform, announceTtl, healthTimeout, heightSource: o.heightSource },
        env,
      );
  }
  const [{ DchatNode }, { startObservability }] = await loadNode();
  const log = env.logs.forComponent('node');
  const node = await DchatNode.create(
    env.paths,
    {
      listen,
      bootstrap,
      role: o.role as NodeRole,
      prefetch: Boolean(o.prefetch),
      ...(prefetchSource ? { prefetchSource } : {}),
      platform,
      announceTtl,
      bittorrent,
      redialMs: 2000,
      clock: env.ctx.now,
      env: env.ctx.env,
      height: { spec: heightSource, ...(validatorKey ? { validatorKey } : {}) },
      version: VERSION,
    },
    log,
  );
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  let obs: Awaited<ReturnType<typeof startObservability>> | undefined;
  env.ctx.onShutdown?.(async () => {
    await obs?.close();
    await node.stop();
    resolveDone();
  });
  await node.start();
  try {
    obs = await startObservability(node, {
      ...(metrics ? { metrics } : {}),
      ...(dashboard ? { dashboard } : {}),
      version: VERSION,
    });
  } catch (err) {
    await node.stop();
    throw err;
  }
  watchSupervisor(env.ctx.env, () => node.stop().then(resolveDone));
  const st = node.status();
  env.out.line(`🚀 dchat node started (${o.role})`);
  env.out.line(`   Peer ID: ${st.peer_id}`);
  for (const a of st.addresses as string[]) env.out.line(`   Listening: ${a}`);
  if (bootstrap.length) env.out.line(`   Bootstrap: ${bootstrap.join(', ')}`);
  env.out.line(`   Control: dchat node status${env.globals.home ? ` --home ${env.globals.home}` : ''}`);
  if (obs.metricsUrl) env.out.line(`📈 Metrics: ${obs.metricsUrl}`);
  if (obs.dashboardUrl) env.out.line(`📊 Dashboard: ${obs.dashboardUrl}`);
  // A deliberately broken test build never reports healthy (its supervisor must roll it back).
  if (!NEVER_HEALTHY)
    env.out.record({
      event: 'started',
      peer_id: st.peer_id,
      addresses: st.addresses,
      role: o.role,
      pid: process.pid,
      // Whether this process runs the minified bundle (scripts/bundle-node.ts, cli/dchat.ts).
      bundled: (globalThis as { __dchatBundled?: boolean }).__dchatBundled === true,
      ...(obs.metricsUrl ? { metrics_url: obs.metricsUrl } : {}),
      ...(obs.dashboardUrl ? { dashboard_url: obs.dashboardUrl } : {}),
    });
  if (!env.ctx.onShutdown) {
    // Embedded use without signals: nothing would ever stop it.
    await node.stop();
    throw new DchatError('E_INTERNAL', 'node start needs a shutdown hook');
  }
  await done;
  env.out.line('👋 node stopped');
  env.out.record({ event: 'stopped' });
  return 0;
}

export async function status(_o: Record<string, never>, env: CommandEnv): Promise<void> {
  const st = await controlRequest(env.paths, 'status');
  env.out.line(`🛰️  dchat node (${st.role})`);
  env.out.line(`   Peer ID: ${st.peer_id}`);
  for (const a of st.addresses) env.out.line(`   Listening: ${a}`);
  env.out.line(`👥 Connected peers: ${st.connected_peers.length}`);
  for (const p of st.connected_peers) env.out.line(`   ${p.id} (score ${p.score})`);
  if (st.banned_peers.length) env.out.line(`🚫 Banned peers: ${st.banned_peers.length}`);
  const h = (st as { height?: HeightStatus }).height;
  if (h) env.out.line(`⛓️  Height: ${h.height ?? 'none yet'} (${h.source})`);
  const f = (st as { fork?: ForkGuardStatus | null }).fork;
  if (f?.fork_id)
    env.out.line(
      `🔀 Fork id: ${f.fork_id.hash} next ${f.fork_id.next || 'none'}; refused peers: ${f.refused_peers}`,
    );
  env.out.line(`📦 Releases: highest trusted ${st.releases.highest_trusted ?? 'none'}`);
  for (const p of st.releases.packages) env.out.line(`   ✅ ${p.target} verified (from ${p.source})`);
  for (const d of st.releases.downloads)
    if (d.state !== 'verified') env.out.line(`   ⏳ ${d.target} ${d.state}${d.error ? `: ${d.error}` : ''}`);
  const notes = st as Partial<NotesStatus>;
  for (const p of notes.readiness?.proposals ?? [])
    env.out.line(
      `🚦 Ready for ${p.version} at height ${p.activation_height}: ${shareLine(p.ready_stake, p.total_stake)} of validator stake (${p.ready_validators} validators)${notes.readiness?.advertised === p.proposal_id ? '; this node advertised readiness' : ''}`,
    );
  for (const r of notes.rollback_notes ?? [])
    env.out.line(
      `↩️  ${r.key_id ?? r.signer.slice(0, 16)} rolled back ${r.version} -> ${r.to}${r.height === null ? '' : ` at height ${r.height}`}: ${r.reason}`,
    );
  env.out.result(st);
}

/** "70 of 100 (70.0%)". */
export function shareLine(n: number, d: number): string {
  return `${n} of ${d} (${d > 0 ? ((100 * n) / d).toFixed(1) : '0.0'}%)`;
}

export interface AnnounceFlags {
  version?: string;
  ttl?: string;
}

export async function announce(o: AnnounceFlags, env: CommandEnv): Promise<void> {
  const ttl = intFlag(o.ttl, '--ttl', 0, 255);
  const r = await controlRequest(env.paths, 'announce', {
    ...(o.version !== undefined ? { version: versionFlag(o.version) } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
  });
  env.out.line(`📣 Announced ${r.version} (id ${r.id}, ttl ${r.ttl})`);
  env.out.result({ ok: true, ...r });
}
