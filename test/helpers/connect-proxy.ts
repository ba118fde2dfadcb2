/**
 * A real HTTP CONNECT proxy on loopback, as corporate proxies (squid, tinyproxy) behave for https
 * targets: reads `CONNECT host:port HTTP/1.1`, opens a TCP connection there, answers
 * `HTTP/1.1 200 Connection established` and splices both ways. It records every tunnel it opened
 * so a test can show which requests went through it; an optional `Proxy-Authorization` check
 * answers 407 otherwise. Plain (non-CONNECT) requests get 405.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface ConnectProxy {
  url: string;
  port: number;
  /** "host:port" of each tunnel opened, in order. */
  tunnels: string[];
  stop(): Promise<void>;
}

export async function startConnectProxy(o: { auth?: string } = {}): Promise<ConnectProxy> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    let head = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16_384) client.destroy();
        return;
      }
      client.off('data', onData);
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      const rest = head.subarray(end + 4);
      const m = /^CONNECT ([^\s]+):(\d+) HTTP\/1\.[01]$/.exec(lines[0] ?? '');
      if (!m) {
        client.end('HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      if (o.auth !== undefined) {
        const got = lines.find((l) => /^proxy-authorization:/i.test(l))?.replace(/^[^:]+:\s*/, '');
        if (got !== `Basic ${Buffer.from(o.auth).toString('base64')}`) {
          client.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
          return;
        }
      }
      const host = (m[1] as string).replace(/^\[(.*)\]$/, '$1');
      tunnels.push(`${m[1]}:${m[2]}`);
      const upstream = connect(Number(m[2]), host, () => {
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        if (rest.length > 0) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      sockets.add(upstream);
      upstream.on('close', () => {
        sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'));
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    tunnels,
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
