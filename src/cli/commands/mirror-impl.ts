import { resolve } from 'node:path';
import { UsageError } from '../../errors.ts';
import { startStaticServer } from '../../mirror/static-server.ts';
import { isRepo } from '../../release/mirror-dir.ts';
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

export async function serve(
  o: { dir: string; listen: string; tlsCert?: string; tlsKey?: string },
  env: CommandEnv,
): Promise<number> {
  const dir = resolve(env.ctx.cwd, o.dir);
  if (!(await isRepo(dir)))
    throw new UsageError('--dir', `${dir} is not a release repository (no metadata/1.root.json)`);
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
  const log = env.logs.forComponent('mirror');
  const server = await startStaticServer({
    root: dir,
    host,
    port,
    tls,
    onRequest: (r) => log.debug(r, 'served'),
  });
  env.out.line(`🌐 Serving ${dir} at ${server.url} (Ctrl-C to stop)`);
  env.out.line(`   Nodes add it with: dchat update add-mirror --url ${server.url} --mirror-type https`);
  env.out.record({ type: 'listening', url: server.url, dir });
  await new Promise<void>((resolveStop) => {
    env.ctx.onShutdown?.(async () => {
      await server.close();
      resolveStop();
    });
  });
  return 0;
}
