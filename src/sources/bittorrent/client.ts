/**
 * The WebTorrent clients dchat runs (one per BitTorrent source of a download, one for the node's
 * seeder: WebTorrent refuses the same torrent twice in one client, and two mirrors may name it). Configured for our network
 * only (NOTES.md "BitTorrent"): no DHT, no local service discovery, no peer exchange, no UPnP or
 * NAT-PMP, no uTP, no WebRTC; peers come only from the trackers the torrent or the operator names.
 * WebTorrent is loaded at the first use: an idle node that never touches BitTorrent does not pay
 * for its modules.
 */
import type WebTorrentType from 'webtorrent';
import type { ClientOptions } from 'webtorrent';
import { DchatError } from '../../errors.ts';

export type WebTorrent = WebTorrentType;

/** Options that keep the client off every public network (dchat's default). */
export const PRIVATE_CLIENT_OPTIONS: ClientOptions = {
  dht: false,
  lsd: false,
  utPex: false,
  natUpnp: false,
  natPmp: false,
  utp: false,
  tracker: { wrtc: false },
};

/**
 * webtorrent and bittorrent-tracker, loaded at first use. An installation without them (a trimmed
 * or broken node_modules) misses the BitTorrent channel only: a coded error, not a crash.
 */
export async function loadOptional<T>(name: 'webtorrent' | 'bittorrent-tracker'): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (cause) {
    throw new DchatError(
      'E_NO_SOURCE',
      `BitTorrent is not available in this installation (${name} is not installed); the other channels work`,
      { cause },
    );
  }
}

export async function createClient(port = 0): Promise<WebTorrent> {
  const { default: WebTorrent } = await loadOptional<typeof import('webtorrent')>('webtorrent');
  const client = new WebTorrent({ ...PRIVATE_CLIENT_OPTIONS, torrentPort: port });
  // The listening socket is bound asynchronously: wait for it so a taken port is a coded error.
  await new Promise<void>((resolve, reject) => {
    if (client.address()) return resolve();
    const onError = (err: Error) => {
      client.destroy();
      reject(
        new DchatError(
          (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'E_ADDR_IN_USE' : 'E_NETWORK',
          `BitTorrent client cannot listen on port ${port}: ${err.message}`,
          { cause: err },
        ),
      );
    };
    client.once('error', onError);
    client.once('listening', () => {
      client.removeListener('error', onError);
      resolve();
    });
  });
  // Later errors (a torrent's own errors are handled per torrent) must not crash the process.
  client.on('error', () => {});
  return client;
}

export function destroyClient(client: WebTorrent): Promise<void> {
  return new Promise((resolve) => client.destroy(() => resolve()));
}
