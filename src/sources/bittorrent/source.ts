/**
 * BitTorrent as a download Source (the seed's priority 40): one torrent, named by a magnet link or
 * the https URL of a .torrent (mirrors.toml), fetched with WebTorrent from the peers our trackers
 * name (the torrent's own, and those the operator configured; never public ones: client.ts) and
 * from its BEP 19 web seeds. A range is read through WebTorrent's file iterator, which fetches only
 * the pieces it covers, each checked against the torrent's SHA-1 piece hash before it is handed
 * out; the engine still checks every chunk against the signed table.
 *
 * A peer that sends blocks of a piece that then fails its hash is found (watchPeers: alone in the
 * piece, or its block differs from the verified one), reported (E_BAD_PIECE), disconnected and
 * refused for the rest of the operation; the pieces come from the others. A source without a stored chunk table (this one) can derive
 * it: when the engine passes the signed chunk size, the whole file is fetched and hashed, and the
 * engine checks that table against the signed Merkle root like any other.
 *
 * A target the torrent lacks (a patch of the release it names: issue 14) is fetched from the
 * torrent the release signed for that target (the request's `torrent` hint: signed info hash and
 * magnet), through the same trackers and peers, so a BitTorrent channel carries patches like
 * packages. A target the torrent holds by name is always read from it, trusted or not: its bytes
 * are checked like any.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Torrent, TorrentFile, WireLike } from 'webtorrent';
import { chunkHashHex } from '../../crypto/hash.ts';
import { DchatError, SourceError, toDchatError } from '../../errors.ts';
import { CHUNKS_FORMAT, serializeChunkTable } from '../../model/chunks.ts';
import { LIMITS } from '../../model/limits.ts';
import { isLoopbackHost } from '../../model/loopback.ts';
import type { PackageTarget } from '../../model/package.ts';
import {
  collectRange,
  type FetchOptions,
  type RangeRequest,
  type Source,
  servesByOwnAddress,
} from '../source.ts';
import { Agent, requestUrl } from '../undici-lite.ts';
import { createClient, destroyClient, type WebTorrent } from './client.ts';

/** A .torrent of one package is a few KiB to a few hundred (piece hashes): anything larger is refused. */
export const MAX_TORRENT_FILE_BYTES = 4 * 1024 * 1024;
/** How long we wait for a magnet's metadata (ut_metadata from a peer) or a .torrent download. */
const METADATA_TIMEOUT_MS = 30_000;
/** Signed torrents one source joins beside its own (a download asks for a package and its patches). */
const MAX_SIGNED_TORRENTS = 8;

type Opened = { client: WebTorrent; torrent: Torrent; dir: string; owned: boolean };

export interface Misbehaving {
  /** "address:port" and the peer id the peer gave in its handshake. */
  peer: string;
  code: 'E_BAD_PIECE';
  message: string;
}

export interface BitTorrentSourceInit {
  id: string;
  /** magnet:?xt=urn:btih:... or https://.../NAME.torrent */
  uri: string;
  /** Tracker announce URLs from configuration, added to the torrent's own. */
  announce?: readonly string[];
  /** Extra CA certificates for fetching an https .torrent. */
  ca?: string;
  /** Where piece data is kept while the operation runs (default: a fresh temp directory). */
  dir?: string;
  /** Peers to connect to directly ("host:port"), beside the trackers' (tests, static swarms). */
  peers?: readonly string[];
  onMisbehaviour?(m: Misbehaving): void;
}

export class BitTorrentSource implements Source {
  readonly id: string;
  readonly type = 'bittorrent' as const;
  readonly derivesChunkTable = true;
  readonly uri: string;
  /** Peers this source caught serving pieces that failed their hash. */
  readonly misbehaving: Misbehaving[] = [];

  get peerFailures(): readonly Misbehaving[] {
    return this.misbehaving;
  }
  private readonly init: BitTorrentSourceInit;
  private opened: Promise<Opened> | undefined;
  /** The signed torrents of targets the own torrent lacks, by info hash. */
  private readonly signed = new Map<string, Promise<Opened>>();
  private closed = false;
  /** Aborted by close(): a torrent still waiting for its metadata gives up at once. */
  private readonly closing = new AbortController();

  constructor(init: BitTorrentSourceInit) {
    this.init = init;
    this.id = init.id;
    this.uri = init.uri;
  }

  /** Joins the swarm now (tracker, peers, metadata), so the first range does not pay for it. */
  prepare(): void {
    this.open().catch(() => {
      // The first request reports the failure with its code.
    });
  }

  /**
   * A package, or an encoded target (a patch: no package name) with a torrent of its own: the
   * torrent a mirror names is a package's, which never holds a patch's bytes.
   */
  serves(target: PackageTarget): boolean {
    return servesByOwnAddress(target, target.custom.btih);
  }

  /** TUF metadata never travels by BitTorrent here: the mirrors or peers serve it. */
  async fetchMetadata(): Promise<Uint8Array | undefined> {
    return undefined;
  }

  /**
   * No table is stored in the torrent; with the signed chunk size (`opts.chunkSize`), the table
   * is derived from the whole file (see the header).
   */
  async fetchChunkTable(target: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    if (!opts.chunkSize) return undefined;
    const file = await this.file(target, opts.signal, opts.torrent);
    if (file.length > LIMITS.packageBytes) return undefined;
    const chunks: string[] = [];
    const size = file.length;
    for (let start = 0; start < size; start += opts.chunkSize) {
      const end = Math.min(size, start + opts.chunkSize);
      chunks.push(chunkHashHex(await this.read(file, start, end, opts.signal)));
    }
    return serializeChunkTable({
      format: CHUNKS_FORMAT,
      hash: 'blake3',
      chunk_size: opts.chunkSize,
      size,
      chunks,
    });
  }

  async fetchRange(req: RangeRequest): Promise<Uint8Array> {
    return collectRange(this.streamRange(req), req);
  }

  /**
   * The range as its pieces arrive verified: one file iterator for the whole run, so WebTorrent
   * selects every piece of it at once and asks its peers for many in parallel (a request per
   * chunk would leave the swarm idle between chunks), and the engine checks each chunk as soon as
   * its bytes are in.
   */
  async *streamRange(req: RangeRequest): AsyncGenerator<Uint8Array> {
    if (req.end - req.start > req.maxBytes)
      throw new SourceError(
        'E_TOO_LARGE',
        `${this.uri}: range of ${req.end - req.start} bytes asked, cap ${req.maxBytes}`,
      );
    const file = await this.file(req.target, req.signal, req.torrent);
    if (req.end > file.length)
      throw new SourceError(
        'E_SIZE_MISMATCH',
        `${this.uri}: ${file.name} has ${file.length} bytes, ${req.target} needs ${req.end}`,
      );
    yield* this.pieces(file, req.start, req.end, req.signal);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    for (const opening of [this.opened, ...this.signed.values()]) {
      const o = await opening?.catch(() => undefined);
      if (!o) continue;
      await new Promise<void>((resolve) => o.torrent.destroy({ destroyStore: true }, () => resolve()));
      await destroyClient(o.client);
      if (o.owned) await rm(o.dir, { recursive: true, force: true });
    }
  }

  /** Bytes [start, end) of `file`, whole. */
  private async read(
    file: TorrentFile,
    start: number,
    end: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    const out = Buffer.allocUnsafe(end - start);
    let off = 0;
    for await (const piece of this.pieces(file, start, end, signal)) {
      out.set(piece, off);
      off += piece.byteLength;
    }
    return out;
  }

  /**
   * Bytes [start, end) of `file` in order, as its pieces arrive verified (exactly end - start
   * bytes, or a SourceError). The pieces are fresh reads of the piece store (no cache shares them:
   * see start()), so a consumer may recycle them.
   */
  private async *pieces(
    file: TorrentFile,
    start: number,
    end: number,
    signal?: AbortSignal,
  ): AsyncGenerator<Uint8Array> {
    const want = end - start;
    if (want <= 0) return;
    const it = file[Symbol.asyncIterator]({ start, end: end - 1 });
    let off = 0;
    const aborted = new Promise<never>((_, reject) => {
      if (!signal) return;
      const onAbort = () =>
        reject(new SourceError('E_ABORTED', `${this.uri}: range ${start}-${end} aborted`));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => {});
    try {
      while (off < want) {
        const r = await Promise.race([it.next(), aborted]);
        if (r.done) break;
        // WebTorrent reads the whole file for a range ending at byte 0 (its `end: 0` is "no end"):
        // whatever lies past the range is dropped.
        const piece = r.value as Uint8Array;
        const take = Math.min(piece.byteLength, want - off);
        off += take;
        yield take === piece.byteLength ? piece : piece.subarray(0, take);
      }
    } finally {
      await it.return?.().catch(() => {});
    }
    if (off !== want) {
      if (this.closed) throw new SourceError('E_ABORTED', `${this.uri}: closed`);
      throw new SourceError('E_NETWORK', `${this.uri}: the torrent ended after ${off} of ${want} bytes`);
    }
  }

  /**
   * The file that holds `target`: the one named so in our torrent; else, when the target has a
   * signed torrent of its own (`hint`) that ours is not, that torrent's; else our only file (a
   * torrent someone else made of the package, under another name).
   */
  private async file(
    target: string,
    signal?: AbortSignal,
    hint?: FetchOptions['torrent'],
  ): Promise<TorrentFile> {
    let { torrent } = await this.open(signal);
    let file = torrent.files.find((f) => f.name === target);
    if (!file && hint && hint.btih !== torrent.infoHash) {
      // Through our torrent's trackers too: whoever seeds the release likely seeds its patches.
      ({ torrent } = await this.openSigned(hint, torrent.announce ?? [], signal));
      file = torrent.files.find((f) => f.name === target);
    }
    file ??= torrent.files.length === 1 ? torrent.files[0] : undefined;
    if (!file)
      throw new SourceError('E_NOT_FOUND', `${this.uri}: torrent ${torrent.infoHash} has no file ${target}`);
    return file;
  }

  private open(signal?: AbortSignal): Promise<Opened> {
    if (!this.opened) {
      const mine = this.start();
      this.opened = mine;
      mine.catch(() => {
        // A failed start (no metadata in time, a bad .torrent) is tried again by the next request.
        if (this.opened === mine) this.opened = undefined;
      });
    }
    return this.abortable(this.opened, signal);
  }

  /** The torrent the release signed for a target (joined once per info hash, retried on failure). */
  private openSigned(
    hint: NonNullable<FetchOptions['torrent']>,
    announce: readonly string[],
    signal?: AbortSignal,
  ): Promise<Opened> {
    let opening = this.signed.get(hint.btih);
    if (!opening) {
      if (this.signed.size >= MAX_SIGNED_TORRENTS)
        throw new SourceError('E_TOO_LARGE', `${this.uri}: more than ${MAX_SIGNED_TORRENTS} torrents joined`);
      const mine = this.start(hint.magnet ?? `magnet:?xt=urn:btih:${hint.btih}`, announce);
      this.signed.set(hint.btih, mine);
      mine.catch(() => {
        if (this.signed.get(hint.btih) === mine) this.signed.delete(hint.btih);
      });
      opening = mine;
    }
    return this.abortable(opening, signal);
  }

  private abortable(opening: Promise<Opened>, signal?: AbortSignal): Promise<Opened> {
    if (!signal) return opening;
    return Promise.race([
      opening,
      new Promise<never>((_, reject) => {
        const onAbort = () => reject(new SourceError('E_ABORTED', `${this.uri}: aborted`));
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  }

  /** Joins our torrent, or the signed `magnet` given. */
  private async start(magnet?: string, moreAnnounce: readonly string[] = []): Promise<Opened> {
    if (this.closed) throw new SourceError('E_ABORTED', `${this.uri}: closed`);
    const id = magnet ?? (this.uri.startsWith('magnet:') ? this.uri : await this.downloadTorrentFile());
    const announce = [...new Set([...(this.init.announce ?? []), ...moreAnnounce])];
    const owned = !this.init.dir;
    const dir = this.init.dir ?? (await mkdtemp(join(tmpdir(), 'dchat-bt-')));
    const client = await createClient(0);
    try {
      const torrent = await addTorrent(
        client,
        id,
        {
          path: dir,
          deselect: true,
          // No in-memory piece cache: each piece read is a buffer of its own, which the engine
          // may recycle once hashed and written (a cached piece would be overwritten under it).
          storeCacheSlots: 0,
          ...(announce.length ? { announce } : {}),
        },
        // Before the metadata: a magnet's first peers connect (and may send pieces) before 'ready'.
        (t) => this.watchPeers(t),
        this.closing.signal,
      );
      for (const p of this.init.peers ?? []) torrent.addPeer(p);
      return { client, torrent, dir, owned };
    } catch (err) {
      await destroyClient(client);
      if (owned) await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** The .torrent behind an https URL (plain http only on loopback), read against a cap. */
  private async downloadTorrentFile(): Promise<Uint8Array> {
    const u = new URL(this.uri);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackHost(u.hostname)))
      throw new SourceError('E_USAGE', `${this.uri}: a .torrent is fetched over https only`);
    const dispatcher = new Agent(this.init.ca ? { connect: { ca: this.init.ca } } : {});
    try {
      const res = await requestUrl(dispatcher, this.uri, {
        method: 'GET',
        signal: AbortSignal.timeout(METADATA_TIMEOUT_MS),
      }).catch((cause: unknown) => {
        throw new SourceError('E_NETWORK', `${this.uri}: ${(cause as Error).message}`, { cause });
      });
      if (res.statusCode !== 200) {
        await res.body.dump().catch(() => {});
        throw new SourceError('E_HTTP', `${this.uri}: HTTP ${res.statusCode}`, {
          details: { status: res.statusCode },
        });
      }
      const parts: Buffer[] = [];
      let n = 0;
      for await (const part of res.body) {
        n += (part as Buffer).byteLength;
        if (n > MAX_TORRENT_FILE_BYTES) {
          res.body.destroy();
          throw new SourceError(
            'E_TOO_LARGE',
            `${this.uri}: .torrent larger than ${MAX_TORRENT_FILE_BYTES} bytes`,
          );
        }
        parts.push(part as Buffer);
      }
      return Buffer.concat(parts);
    } finally {
      await dispatcher.close().catch(() => {});
    }
  }

  /**
   * Finds peers that sent bad blocks ("smart ban", as libtorrent does; WebTorrent itself only says
   * "Piece N failed verification"): the digest of every block each peer sends is kept until its
   * piece is verified. A piece that fails while one peer sent all of it convicts that peer at
   * once; otherwise, once the piece passes (from other peers), each kept block is compared with
   * the verified bytes, and a peer whose block differs is the one that lied. Caught peers are
   * reported (E_BAD_PIECE), disconnected and refused for the rest of the operation.
   */
  private watchPeers(torrent: Torrent): void {
    type Sent = { wire: WireLike; offset: number; length: number; digest: string };
    const sent = new Map<number, Sent[]>();
    const failed = new Set<number>();
    const banned = new Set<string>();
    const convict = (wire: WireLike, index: number) => {
      if (banned.has(wire.peerId)) return;
      banned.add(wire.peerId);
      const who = `${wire.remoteAddress ?? '?'}:${wire.remotePort ?? '?'}`;
      const bad: Misbehaving = {
        peer: `${who} (${wire.type} peer ${wire.peerId})`,
        code: 'E_BAD_PIECE',
        message: `${who} served piece ${index} of ${torrent.infoHash}, which fails its SHA-1; peer dropped`,
      };
      this.misbehaving.push(bad);
      this.init.onMisbehaviour?.(bad);
      wire.destroy();
    };
    const watch = (wire: WireLike) => {
      if (banned.has(wire.peerId)) return wire.destroy();
      wire.on('piece', (index: number, offset: number, block: Uint8Array) => {
        const list = sent.get(index) ?? [];
        // A piece is at most a few MiB of 16 KiB blocks; retries add a few more records.
        if (list.length >= 4096) return;
        sent.set(index, list);
        list.push({ wire, offset, length: block.byteLength, digest: sha1(block) });
      });
    };
    for (const w of torrent.wires) watch(w);
    torrent.on('wire', watch);
    torrent.on('warning', (err: Error) => {
      const m = /^Piece (\d+) failed verification/.exec(err.message);
      if (!m) return;
      const index = Number(m[1]);
      const list = sent.get(index) ?? [];
      const senders = new Set(list.map((s) => s.wire));
      if (senders.size === 1) {
        convict([...senders][0] as WireLike, index);
        sent.delete(index);
      } else failed.add(index);
    });
    torrent.on('verified', (index: number) => {
      const list = sent.get(index) ?? [];
      sent.delete(index);
      if (!failed.delete(index) || list.length === 0) return;
      for (const s of list) {
        if (banned.has(s.wire.peerId)) continue;
        torrent.store.get(index, { offset: s.offset, length: s.length }, (e, good) => {
          if (!e && good && sha1(good) !== s.digest) convict(s.wire, index);
        });
      }
    });
  }
}

function sha1(b: Uint8Array): string {
  return createHash('sha1').update(b).digest('hex');
}

/** Adds a torrent and waits until its metadata is known (at once for a .torrent). */
function addTorrent(
  client: WebTorrent,
  id: string | Uint8Array,
  opts: { path: string; deselect: boolean; storeCacheSlots: number; announce?: string[] },
  onAdded: (t: Torrent) => void,
  closing: AbortSignal,
): Promise<Torrent> {
  return new Promise<Torrent>((resolve, reject) => {
    let torrent: Torrent | undefined;
    const fail = (err: unknown) => {
      clearTimeout(timer);
      const e = toDchatError(err);
      torrent?.destroy();
      reject(
        e.code === 'E_INTERNAL'
          ? new SourceError('E_MALFORMED', `bad torrent: ${(err as Error).message}`, { cause: err })
          : e,
      );
    };
    const timer = setTimeout(
      () => fail(new SourceError('E_TIMEOUT', `no torrent metadata after ${METADATA_TIMEOUT_MS} ms`)),
      METADATA_TIMEOUT_MS,
    );
    const onClose = () =>
      fail(new SourceError('E_ABORTED', 'source closed before the torrent metadata came'));
    if (closing.aborted) return onClose();
    closing.addEventListener('abort', onClose, { once: true });
    try {
      torrent = client.add(id, opts);
    } catch (err) {
      fail(err);
      return;
    }
    const t = torrent;
    onAdded(t);
    t.once('error', fail);
    const ready = () => {
      clearTimeout(timer);
      closing.removeEventListener('abort', onClose);
      t.removeListener('error', fail);
      t.on('error', () => {});
      resolve(t);
    };
    if (t.ready) ready();
    else t.once('ready', ready);
  }).catch((err: unknown) => {
    throw err instanceof DchatError ? err : new SourceError('E_MALFORMED', String(err), { cause: err });
  });
}
