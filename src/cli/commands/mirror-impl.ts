import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { UsageError } from '../../errors.ts';
import { isLoopbackHost } from '../../model/loopback.ts';
import { readFlagFile } from '../../store/read-capped.ts';
import type { CommandEnv } from '../program.ts';

/** A certificate chain or key in PEM: generous for long chains, far below anything harmful. */
const TLS_FILE_MAX_BYTES = 1_000_000;

export function parseHostPort(value: string, flag: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new UsageError(flag, `'${value.slice(0, 80)}' is not HOST:PORT`);
  return { host: (m[1] ?? m[2]) as string, port };
}

/**
 * The `add-mirror` URL to tell the operator: one that add-mirror accepts (model/loopback.ts: plain
 * http only on loopback). A wildcard listen address (0.0.0.0, ::) is not dialable: over TLS the
 * machine's name stands in (it must be the name in the certificate); without TLS only nodes on this
 * machine can use it, at 127.0.0.1, and the note says what other machines need.
 */
export function suggestedMirrorUrl(
  listenHost: string,
  port: number,
  tls: boolean,
  machineName: string = hostname(),
): { url: string; note?: string } {
  const h = listenHost.replace(/^\[|\]$/g, '').toLowerCase();
  const wildcard = h === '0.0.0.0' || h === '::' || h === '';
  if (tls) {
    if (!wildcard) return { url: `https://${h.includes(':') ? `[${h}]` : h}:${port}` };
    return {
      url: `https://${machineName}:${port}`,
      note: `use the host name your certificate names in place of ${machineName}`,
    };
  }
  if (isLoopbackHost(h)) return { url: `http://${h.includes(':') ? `[${h}]` : h}:${port}` };
  return {
    url: `http://127.0.0.1:${port}`,
    note:
      'plain http is accepted on loopback only: for other machines serve HTTPS (--tls-cert/--tls-key) ' +
      'or put nginx with TLS in front (docs/maintainer-guide.md)',
  };
}

export async function serve(
  o: { dir: string; listen: string; tlsCert?: string; tlsKey?: string },
  env: CommandEnv,
): Promise<number> {
  const dir = resolve(env.ctx.cwd, o.dir);
  const { host, port } = parseHostPort(o.listen, '--listen');
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined))
    throw new UsageError('--tls-key', '--tls-cert and --tls-key go together');
  const tls =
    o.tlsCert && o.tlsKey
      ? {
          cert: await readFlagFile('--tls-cert', resolve(env.ctx.cwd, o.tlsCert), TLS_FILE_MAX_BYTES),
          key: await readFlagFile('--tls-key', resolve(env.ctx.cwd, o.tlsKey), TLS_FILE_MAX_BYTES),
        }
      : undefined;
  // Loaded only once the flags are good: a bad flag costs no more than the bare CLI.
  const [{ isRepo }, { startStaticServer }] = await Promise.all([
    import('../../release/mirror-dir.ts'),
    import('../../mirror/static-server.ts'),
  ]);
  if (!(await isRepo(dir)))
    throw new UsageError('--dir', `${dir} is not a release repository (no metadata/1.root.json)`);
  const log = env.logs.forComponent('mirror');
  const server = await startStaticServer({
    root: dir,
    host,
    port,
    tls,
    onRequest: (r) => log.debug(r, 'served'),
  });
  env.out.line(`🌐 Serving ${dir} at ${server.url} (Ctrl-C to stop)`);
  const suggestion = suggestedMirrorUrl(host, server.port, tls !== undefined);
  env.out.line(`   Nodes add it with: dchat update add-mirror --url ${suggestion.url} --mirror-type https`);
  if (suggestion.note) env.out.line(`   (${suggestion.note})`);
  env.out.record({ type: 'listening', url: server.url, dir, add_mirror_url: suggestion.url });
  await new Promise<void>((resolveStop) => {
    env.ctx.onShutdown?.(async () => {
      await server.close();
      resolveStop();
    });
  });
  return 0;
}
