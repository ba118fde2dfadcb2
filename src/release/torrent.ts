/**
 * The .torrent of a package (BitTorrent v1 metainfo, BEP 3; single file, named as the TUF target):
 * what `release publish` writes beside the package and what a node rebuilds to seed a package it
 * verified. Deterministic: the info dictionary depends only on the name, the bytes and the piece
 * length, so the seeder's rebuild has the info hash the signed target records. Trackers come only
 * from the caller (create-torrent adds eight public ones when none is passed, so an empty list is
 * passed explicitly); the HTTPS mirrors become BEP 19 web seeds (`url-list`, the package's URL).
 */
import { DchatError } from '../errors.ts';

// Loaded at the first torrent made: a node that never seeds does not pay for these modules.
const libs = async () => {
  const [{ default: createTorrent }, { default: parseTorrent, toMagnetURI }] = await Promise.all([
    import('create-torrent'),
    import('parse-torrent'),
  ]);
  return { createTorrent, parseTorrent, toMagnetURI };
};

/** Piece length of our torrents: 256 KiB (NOTES.md: 2-3x faster than 16 KiB on loopback) up to 4 MiB, at most ~4096 pieces. */
export function torrentPieceLength(size: number): number {
  let n = 256 * 1024;
  while (n < 4 * 1024 * 1024 && size / n > 4096) n *= 2;
  return n;
}

export interface TorrentInput {
  /** The package file. */
  file: string;
  /** The TUF target name (the torrent's `name`, the file name a client writes). */
  name: string;
  size: number;
  /** Tracker announce URLs (configuration only; none by default). */
  announce?: readonly string[];
  /** Mirror base URLs (`--base-url`): each becomes the web seed BASE/packages/NAME. */
  baseUrls?: readonly string[];
  creationDate?: Date;
}

export interface MadeTorrent {
  torrent: Uint8Array;
  /** v1 info hash, 40 lowercase hex digits. */
  infoHash: string;
  magnet: string;
  pieceLength: number;
}

/** Web seed URL of a package under a mirror base URL (mirror-dir.ts layout: packages/NAME). */
export function webSeedUrl(base: string, name: string): string {
  return `${base.replace(/\/+$/, '')}/packages/${encodeURIComponent(name)}`;
}

export async function makeTorrent(o: TorrentInput): Promise<MadeTorrent> {
  const { createTorrent, parseTorrent, toMagnetURI } = await libs();
  const pieceLength = torrentPieceLength(o.size);
  const announce = [...(o.announce ?? [])];
  const urlList = (o.baseUrls ?? []).map((b) => webSeedUrl(b, o.name));
  const torrent = await new Promise<Uint8Array>((resolve, reject) =>
    createTorrent(
      o.file,
      {
        name: o.name,
        pieceLength,
        createdBy: 'dchat',
        creationDate: o.creationDate ?? new Date(0),
        // An explicit (maybe empty) list: create-torrent adds public trackers otherwise.
        announceList: announce.map((u) => [u]),
        ...(urlList.length ? { urlList } : {}),
      },
      (err, buf) => (err ? reject(err) : resolve(buf)),
    ),
  ).catch((cause: unknown) => {
    throw new DchatError('E_IO', `cannot make the .torrent of ${o.file}: ${(cause as Error).message}`, {
      cause,
    });
  });
  const parsed = await parseTorrent(torrent);
  if (parsed.length !== o.size)
    throw new DchatError(
      'E_IO',
      `${o.file} changed while its .torrent was made (${parsed.length} != ${o.size})`,
    );
  return {
    torrent,
    infoHash: parsed.infoHash,
    // magnet:?xt=urn:btih:HASH&dn=NAME[&tr=...][&ws=...] (BEP 9; ws: the BEP 19 web seeds).
    magnet: toMagnetURI({ infoHash: parsed.infoHash, name: o.name, announce, urlList }),
    pieceLength,
  };
}
