/**
 * `dchat-test distribute-update --method bittorrent`: the release reaches the nodes through a
 * BitTorrent swarm only. The origin node (it holds the verified package) runs the tracker
 * (`--tracker 127.0.0.1:P`) and seeds; every other node knows the release from the mirror's TUF
 * metadata but has no package and no libp2p peer, only the release's magnet (the signed info hash,
 * the origin's tracker) in its mirrors.toml; with `--prefetch` it downloads over BitTorrent from
 * the origin and from every node that verified before it (each seeds once verified), and verifies.
 */
import { trustUpdate } from '../download/trust-session.ts';
import { DchatError } from '../errors.ts';
import { loadRepo } from '../release/mirror-dir.ts';
import { DirectoryFetcher } from '../sources/directory-fetcher.ts';
import type { HomePaths } from '../store/home.ts';
import { addMirror, DEFAULT_SETTINGS, saveMirrors } from '../store/mirrors.ts';
import { freePort } from './free-port.ts';
import type { TestRelease } from './release.ts';

export interface Swarm {
  trackerPort: number;
  announceUrl: string;
  magnet: string;
}

/** The swarm of `rel`: the tracker the origin will run and the magnet of the signed info hash. */
export async function planSwarm(rel: TestRelease): Promise<Swarm> {
  const repo = await loadRepo(rel.repoDir);
  const name = `dchat-${rel.version}-${rel.platform}`;
  const btih = (repo.targets.signed.targets[name]?.custom as { btih?: string } | undefined)?.btih;
  if (!btih) throw new DchatError('E_INTERNAL', `${name} was published without a BitTorrent info hash`);
  const trackerPort = await freePort();
  const announceUrl = `http://127.0.0.1:${trackerPort}/announce`;
  const magnet = `magnet:?xt=urn:btih:${btih}&dn=${name}&tr=${encodeURIComponent(announceUrl)}`;
  return { trackerPort, announceUrl, magnet };
}

/** Node arguments of the origin: run the tracker, seed through it. */
export function originArgs(s: Swarm): string[] {
  return ['--tracker', `127.0.0.1:${s.trackerPort}`, '--bt-announce', s.announceUrl];
}

/**
 * A joining node's home: the release's metadata from the mirror directory (TUF update), the
 * magnet as its only mirror; its arguments seed what it verifies through the origin's tracker.
 */
export async function joinSwarm(paths: HomePaths, rel: TestRelease, s: Swarm, now: Date): Promise<string[]> {
  await trustUpdate(paths, new DirectoryFetcher(rel.repoDir), now);
  const { mirrors } = addMirror([], { url: s.magnet, mirrorType: 'bittorrent' });
  await saveMirrors(paths, { settings: { ...DEFAULT_SETTINGS }, mirrors });
  return ['--bt-announce', s.announceUrl];
}
