import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestCa } from './tls.ts';

export interface NginxServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

import { freePort } from '../../src/testnet/free-port.ts';

export { freePort };

/**
 * The nginx.conf of a foreground nginx under `prefix` (its own pid, logs and temp paths; sendfile,
 * keep-alive), with `http` (server blocks and any extra directives) inside its http block.
 */
export function nginxConf(prefix: string, http: string): string {
  return `daemon off;
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  types { application/json json; application/octet-stream bin; }
  default_type application/octet-stream;
${http}
}
`;
}

/**
 * A real nginx serving `root` over HTTPS on 127.0.0.1 (Range requests, keep-alive, sendfile), run
 * in the foreground with its own prefix so tests never touch the system's nginx. As root, workers
 * keep root's identity: otherwise they drop to `nobody` and cannot read mkdtemp's 0700 dirs.
 */
export async function startNginx(root: string, ca: TestCa): Promise<NginxServer> {
  const port = await freePort();
  const server = await runNginx(
    `  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${ca.serverCert};
    ssl_certificate_key ${ca.serverKey};
    root ${root};
    location / { try_files $uri =404; }
  }`,
    port,
  );
  return { ...server, url: `https://127.0.0.1:${port}`, port };
}

/**
 * A foreground nginx with `http` (server blocks) inside its http block, under its own prefix; ready
 * once `waitPort` accepts connections. `stop` ends it.
 */
export async function runNginx(http: string, waitPort: number): Promise<{ stop(): Promise<void> }> {
  const prefix = mkdtempSync(join(tmpdir(), 'dchat-nginx-'));
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, nginxConf(prefix, http));
  const proc: ChildProcess = spawn('nginx', ['-p', prefix, '-c', conf, '-e', `${prefix}/error.log`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await waitForPort(waitPort, proc, () => stderr || readFileSafe(`${prefix}/error.log`));
  return {
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGQUIT');
        setTimeout(() => proc.kill('SIGKILL'), 3000).unref();
      }),
  };
}

function readFileSafe(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

async function waitForPort(port: number, proc: ChildProcess, why: () => string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${why()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port}: ${why()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
