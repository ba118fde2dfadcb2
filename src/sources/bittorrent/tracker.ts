/**
 * A BitTorrent tracker dchat runs itself (bittorrent-tracker's server, HTTP announce only): what
 * `dchat node start --tracker HOST:PORT` starts and what tests put on loopback, so swarms never
 * need a public tracker. `allow` narrows it to the torrents the caller vouches for (a node: the
 * info hashes its trusted targets record); without it every torrent is tracked.
 */
import type { Server } from 'bittorrent-tracker';
import { DchatError } from '../../errors.ts';

export interface RunningTracker {
  /** http://HOST:PORT/announce */
  announceUrl: string;
  port: number;
  /** Peers per info hash it knows now (seeders and leechers). */
  swarms(): Record<string, number>;
  close(): Promise<void>;
}

export async function startTracker(
  host: string,
  port: number,
  allow?: (infoHash: string) => boolean | Promise<boolean>,
): Promise<RunningTracker> {
  const { Server: TrackerServer } = await import('bittorrent-tracker');
  const server: Server = new TrackerServer({
    udp: false,
    ws: false,
    stats: false,
    interval: 10_000,
    ...(allow
      ? {
          filter: (infoHash: string, _params: unknown, cb: (err: Error | null) => void) =>
            void Promise.resolve(allow(infoHash)).then(
              (ok) => cb(ok ? null : new Error('torrent not tracked here')),
              () => cb(new Error('torrent not tracked here')),
            ),
        }
      : {}),
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      server.close();
      reject(
        new DchatError(
          (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'E_ADDR_IN_USE' : 'E_NETWORK',
          `tracker cannot listen on ${host}:${port}: ${err.message}`,
          { cause: err },
        ),
      );
    };
    server.once('error', onError);
    server.once('listening', () => {
      server.removeListener('error', onError);
      resolve();
    });
    server.listen(port, host);
  });
  // Bad announces from clients are answered with a failure reason; they must not end the process.
  server.on('error', () => {});
  server.on('warning', () => {});
  const addr = server.http?.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  const h = host.includes(':') ? `[${host}]` : host;
  return {
    announceUrl: `http://${h}:${bound}/announce`,
    port: bound,
    swarms: () =>
      Object.fromEntries(Object.entries(server.torrents).map(([ih, t]) => [ih, t.complete + t.incomplete])),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
