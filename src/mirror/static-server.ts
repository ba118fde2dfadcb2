/**
 * dchat's own embedded mirror: serves a mirror directory (what `release publish` writes) over HTTP
 * or HTTPS with Range requests, so a testnet or a demo needs nothing beyond npm. It is as untrusted
 * as any mirror: clients verify every byte against the signed metadata, so it only has to be a
 * correct, bounded static file server (no directory listing, no paths outside the root).
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';
import { DchatError } from '../errors.ts';
import { http } from '../util/node-http.ts';

export interface StaticServerOptions {
  root: string;
  host?: string;
  port?: number;
  /** PEM cert and key: serve HTTPS instead of HTTP. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Called for each request served (for metrics and tests). */
  onRequest?: (info: { path: string; status: number; bytes: number }) => void;
}

export interface StaticServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = { '.json': 'application/json', '.torrent': 'application/x-bittorrent' };

export async function startStaticServer(o: StaticServerOptions): Promise<StaticServer> {
  const root = await realpath(o.root);
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    serve(root, req, res, o.onRequest).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
  const server: Server = o.tls
    ? createHttpsServer({ cert: o.tls.cert, key: o.tls.key }, handler)
    : http.createServer(handler);
  server.keepAliveTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) =>
      reject(
        new DchatError('E_IO', `cannot listen on ${o.host ?? '127.0.0.1'}:${o.port ?? 0}: ${e.message}`, {
          cause: e,
        }),
      ),
    );
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `${o.tls ? 'https' : 'http'}://${host}:${addr.port}`,
    port: addr.port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function serve(
  root: string,
  req: IncomingMessage,
  res: ServerResponse,
  onRequest: StaticServerOptions['onRequest'],
): Promise<void> {
  const done = (status: number, bytes = 0, path = req.url ?? '') => onRequest?.({ path, status, bytes });
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return done(405);
  }
  const url = req.url ?? '/';
  if (url.length > 2048) {
    res.writeHead(414).end();
    return done(414);
  }
  let rel: string;
  try {
    rel = decodeURIComponent(new URL(url, 'http://x').pathname);
  } catch {
    res.writeHead(400).end();
    return done(400);
  }
  const file = normalize(join(root, rel));
  if (!file.startsWith(root + sep) || rel.split('/').some((p) => p.startsWith('.'))) {
    res.writeHead(404).end();
    return done(404);
  }
  let size: number;
  try {
    const real = await realpath(file);
    const st = await stat(real);
    if (!real.startsWith(root + sep) || !st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    res.writeHead(404).end();
    return done(404, 0, rel);
  }
  const type = TYPES[rel.slice(rel.lastIndexOf('.'))] ?? 'application/octet-stream';
  let start = 0;
  let end = size; // exclusive
  let status = 200;
  const range = req.headers.range;
  if (range) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (!m || (m[1] === '' && m[2] === '')) {
      res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      return done(416, 0, rel);
    }
    if (m[1] === '') {
      start = Math.max(0, size - Number(m[2]));
    } else {
      start = Number(m[1]);
      if (m[2] !== '') end = Math.min(size, Number(m[2]) + 1);
    }
    if (start >= size || start >= end) {
      res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      return done(416, 0, rel);
    }
    status = 206;
  }
  const headers: Record<string, string | number> = {
    'content-type': type,
    'content-length': end - start,
    'accept-ranges': 'bytes',
  };
  if (status === 206) headers['content-range'] = `bytes ${start}-${end - 1}/${size}`;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || end === start) {
    res.end();
    return done(status, 0, rel);
  }
  const stream = createReadStream(file, { start, end: end - 1, highWaterMark: 1024 * 1024 });
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
  stream.on('end', () => done(status, end - start, rel));
}
