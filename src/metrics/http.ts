/**
 * A small read-only HTTP endpoint (GET/HEAD only, fixed routes) for `--metrics` and `--dashboard`:
 * each route returns its body (string or bytes) and content type. Nothing it serves is secret, but
 * it answers only what its routes say: no paths from the request reach the file system.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DchatError } from '../errors.ts';
import { http } from '../util/node-http.ts';

export interface RouteResult {
  status?: number;
  type: string;
  body: string | Uint8Array;
}

export type Route = (req: IncomingMessage, url: URL) => Promise<RouteResult> | RouteResult;

export interface HttpEndpoint {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startHttpEndpoint(
  host: string,
  port: number,
  routes: Record<string, Route>,
  flag: string,
): Promise<HttpEndpoint> {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    void answer(routes, req, res).catch((err: Error) => {
      if (res.headersSent) res.destroy();
      else res.writeHead(500, { 'content-type': 'text/plain' }).end(`error: ${err.message}\n`);
    });
  };
  const server: Server = http.createServer(handler);
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new DchatError(
              'E_ADDR_IN_USE',
              `${flag} ${host}:${port}: address already in use (choose another port, or 0 for any free one)`,
              { cause: e },
            )
          : new DchatError('E_IO', `${flag}: cannot listen on ${host}:${port}: ${e.message}`, { cause: e }),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shown}:${addr.port}`,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(
  routes: Record<string, Route>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  const url = new URL(req.url ?? '/', 'http://endpoint');
  const route = Object.hasOwn(routes, url.pathname) ? routes[url.pathname] : undefined;
  if (!route) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  const r = await route(req, url);
  const body = typeof r.body === 'string' ? Buffer.from(r.body) : r.body;
  res.writeHead(r.status ?? 200, {
    'content-type': r.type,
    'content-length': body.length,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
