/**
 * Type shims for the BitTorrent libraries (webtorrent, bittorrent-tracker, create-torrent,
 * parse-torrent ship no types): only the parts dchat calls, as their READMEs document them.
 */
declare module 'webtorrent' {
  import type { EventEmitter } from 'node:events';

  export interface WireLike extends EventEmitter {
    peerId: string;
    remoteAddress?: string;
    remotePort?: number;
    type: string;
    destroy(): void;
  }

  export interface TorrentFile {
    name: string;
    path: string;
    length: number;
    offset: number;
    [Symbol.asyncIterator](opts?: { start?: number; end?: number }): AsyncIterator<Uint8Array>;
  }

  export interface Torrent extends EventEmitter {
    infoHash: string;
    magnetURI: string;
    /** Tracker URLs the torrent announces to (its own and those added). */
    announce?: string[];
    torrentFile: Uint8Array;
    name: string;
    length: number;
    pieceLength: number;
    files: TorrentFile[];
    wires: WireLike[];
    ready: boolean;
    done: boolean;
    destroyed: boolean;
    downloaded: number;
    uploaded: number;
    numPeers: number;
    store: {
      get(
        index: number,
        opts: { offset: number; length: number },
        cb: (err: Error | null, buf?: Uint8Array) => void,
      ): void;
    };
    addPeer(peer: string): boolean;
    removePeer(peer: string | WireLike): void;
    destroy(opts?: { destroyStore?: boolean }, cb?: (err?: Error) => void): void;
  }

  export interface AddOptions {
    path?: string;
    announce?: string[];
    urlList?: string[];
    skipVerify?: boolean;
    deselect?: boolean;
    maxWebConns?: number;
    /** Pieces kept in memory for reads (default 20); 0: every read comes from the store. */
    storeCacheSlots?: number;
  }

  export interface ClientOptions {
    torrentPort?: number;
    dht?: boolean;
    lsd?: boolean;
    utPex?: boolean;
    natUpnp?: boolean;
    natPmp?: boolean;
    utp?: boolean;
    webSeeds?: boolean;
    tracker?: false | { wrtc?: boolean };
    peerId?: string;
    maxConns?: number;
  }

  export default class WebTorrent extends EventEmitter {
    constructor(opts?: ClientOptions);
    torrents: Torrent[];
    peerId: string;
    torrentPort: number;
    address(): { address: string; family: string; port: number } | null;
    add(id: string | Uint8Array, opts: AddOptions, ontorrent?: (t: Torrent) => void): Torrent;
    get(id: string | Uint8Array): Promise<Torrent | null>;
    remove(
      id: string | Torrent,
      opts?: { destroyStore?: boolean },
      cb?: (err?: Error) => void,
    ): Promise<void>;
    destroy(cb?: (err?: Error) => void): void;
  }
}

declare module 'bittorrent-tracker' {
  import type { EventEmitter } from 'node:events';

  export interface ServerOptions {
    udp?: boolean;
    http?: boolean;
    ws?: boolean;
    stats?: boolean;
    trustProxy?: boolean;
    interval?: number;
    filter?: (infoHash: string, params: unknown, cb: (err: Error | null) => void) => void;
  }

  export class Server extends EventEmitter {
    constructor(opts?: ServerOptions);
    torrents: Record<string, { complete: number; incomplete: number; peers: unknown }>;
    http: import('node:http').Server | null;
    listen(port: number, hostname: string, onlistening?: () => void): void;
    close(cb?: () => void): void;
  }
}

declare module 'create-torrent' {
  export interface CreateOptions {
    name?: string;
    creationDate?: Date;
    comment?: string;
    createdBy?: string;
    private?: boolean;
    pieceLength?: number;
    announceList?: string[][];
    urlList?: string[];
  }
  export default function createTorrent(
    input: string | Uint8Array | (string | Uint8Array)[],
    opts: CreateOptions,
    cb: (err: Error | null, torrent: Uint8Array) => void,
  ): void;
}

declare module 'parse-torrent' {
  export interface ParsedTorrent {
    infoHash: string;
    name?: string;
    announce?: string[];
    urlList?: string[];
    length?: number;
    pieceLength?: number;
    pieces?: string[];
    files?: { path: string; name: string; length: number; offset: number }[];
    private?: boolean;
    info?: unknown;
  }
  export default function parseTorrent(id: string | Uint8Array): Promise<ParsedTorrent>;
  export function toMagnetURI(parsed: Partial<ParsedTorrent> & { infoHash: string; xs?: string }): string;
  export function toTorrentFile(parsed: ParsedTorrent): Uint8Array;
}
