/**
 * BitTorrent test fixtures: a loopback tracker (ours), seeders on WebTorrent clients configured as
 * the product's (no DHT, LSD, PEX, UPnP), and packages with their torrents.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type MadeTorrent, makeTorrent } from '../../../src/release/torrent.ts';
import { createClient, destroyClient, type WebTorrent } from '../../../src/sources/bittorrent/client.ts';
import { type RunningTracker, startTracker } from '../../../src/sources/bittorrent/tracker.ts';
import { packageBytes } from '../../helpers/repo.ts';

export { type RunningTracker, startTracker };

export interface TestPackage {
  dir: string;
  name: string;
  file: string;
  bytes: Buffer;
  torrent: MadeTorrent;
}

/** A package file named as a TUF target, and its .torrent announcing to `announce`. */
export async function makePackage(
  dir: string,
  name: string,
  size: number,
  announce: string[],
  seed = name,
): Promise<TestPackage> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, name);
  const bytes = packageBytes(seed, size);
  await writeFile(file, bytes);
  const torrent = await makeTorrent({ file, name, size, announce });
  return { dir, name, file, bytes, torrent };
}

export interface Seeder {
  client: WebTorrent;
  port: number;
  stop(): Promise<void>;
}

/**
 * A WebTorrent seeding `torrent` from the files in `dir`. `trustData` skips the piece check, so a
 * seeder holding corrupted bytes claims every piece (a lying peer).
 */
export async function startSeeder(torrent: Uint8Array, dir: string, trustData = false): Promise<Seeder> {
  const client = await createClient(0);
  await new Promise<void>((resolve, reject) => {
    const t = client.add(torrent, { path: dir, ...(trustData ? { skipVerify: true } : {}) });
    t.once('error', reject);
    t.once('ready', () => resolve());
  });
  return { client, port: client.address()?.port as number, stop: () => destroyClient(client) };
}
