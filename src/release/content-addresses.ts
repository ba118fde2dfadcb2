/**
 * The content addresses `release publish` records in a target's `custom` and the files it writes
 * for them: the IPFS CIDs of the file and of its chunk table, as Kubo's default `ipfs add` gives
 * them, and the .torrent (BitTorrent v1, the mirrors as web seeds) with its info hash and magnet.
 * One function for packages and encoded targets (patches), so a node rebuilds and checks both the
 * same way (node/ipfs.ts, node/bittorrent.ts) and IPFS and BitTorrent carry both alike.
 */
import { LIMITS } from '../model/limits.ts';
import type { CidVersion } from '../sources/ipfs/kubo-cid.ts';
import { makeTorrent } from './torrent.ts';

export interface AddressInput {
  /** The file as published. */
  file: string;
  /** Its TUF target name. */
  name: string;
  size: number;
  /** The serialized chunk table (model/chunks.ts), published beside it. */
  tableBytes: Uint8Array;
}

/** The publish options that shape the addresses (`release publish` flags; shared by packages and patches). */
export interface AddressOptions {
  cidVersion?: CidVersion;
  announce?: readonly string[];
  baseUrls?: readonly string[];
  now: Date;
}

export interface ContentAddresses {
  custom: {
    ipfs_cid: string;
    ipfs_chunks_cid: string;
    btih: string;
    magnet?: string;
    sources?: string[];
  };
  /** The .torrent bytes, written as packages/NAME.torrent. */
  torrent: Uint8Array;
}

export async function contentAddresses(f: AddressInput, o: AddressOptions): Promise<ContentAddresses> {
  // Loaded here, not with the module: the IPFS importer is large, and most release commands
  // (rotate-keys, refresh, sign) never compute a CID.
  const { kuboCid, importBytesKubo } = await import('../sources/ipfs/kubo-cid.ts');
  const version = o.cidVersion ?? 0;
  const torrent = await makeTorrent({
    file: f.file,
    name: f.name,
    size: f.size,
    announce: o.announce ?? [],
    baseUrls: o.baseUrls ?? [],
    creationDate: o.now,
  });
  return {
    custom: {
      ipfs_cid: await kuboCid(f.file, version),
      // The chunk table over IPFS too, so a download through IPFS alone checks every chunk.
      ipfs_chunks_cid: (await importBytesKubo(f.tableBytes, { version })).toString(),
      btih: torrent.infoHash,
      // A magnet over the string cap (many trackers or web seeds) is left out; the .torrent stays.
      ...(torrent.magnet.length <= LIMITS.maxString ? { magnet: torrent.magnet } : {}),
      ...(o.baseUrls?.length ? { sources: [...o.baseUrls] } : {}),
    },
    torrent: torrent.torrent,
  };
}
