/**
 * Peer transfer as a download Source (the peers' default priority, model/source-kind.ts): metadata, chunk tables
 * and byte ranges fetched from other dchat nodes over /dchat/chunks/1. Concurrent requests are
 * spread over every peer that holds the package (least busy first), so one download pulls chunks
 * from several peers at once; a failing peer is skipped for the next attempt.
 *
 * Trust: a peer is transport only. When the caller registers the signed target (`expect`), the
 * source checks a chunk table against the signed Merkle root and each chunk-aligned range against
 * the checked table before returning it; a peer that sends a bad table or chunk is reported
 * (`onMisbehaviour`: the node scores it down and, past its threshold, disconnects it) and the
 * request goes to another peer. The caller still verifies every chunk and the whole file.
 */
import type { PeerId } from '@libp2p/interface';
import { chunkHashHex } from '../crypto/hash.ts';
import { DchatError, SourceError, toDchatError } from '../errors.ts';
import { type ChunkTable, chunkRange, parseChunkTable } from '../model/chunks.ts';
import type { PackageTarget } from '../model/package.ts';
import { defaultPriority } from '../model/source-kind.ts';
import { checkChunkTable } from '../trust/package-check.ts';
import type { FetchOptions, RangeRequest, Source, SourceType } from './source.ts';

export const PEER_SOURCE_PRIORITY = defaultPriority('peer');

/** The wire client this source drives (gossip/libp2p/chunks.ts ChunkClient has this shape). */
export interface PeerTransport {
  metadata(
    peer: PeerId,
    name: string,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array | undefined>;
  chunkTable(
    peer: PeerId,
    target: string,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array | undefined>;
  range(peer: PeerId, target: string, start: number, end: number, signal?: AbortSignal): Promise<Uint8Array>;
}

export type Misbehaviour = 'bad-chunk' | 'bad-table';

export interface PeerSourceInit {
  transport: PeerTransport;
  /** Peers to ask, best first; for a package, those known to hold it (`target` given). */
  peers(target?: string): PeerId[];
  onMisbehaviour?(peer: PeerId, kind: Misbehaviour, detail: string): void;
  onFailure?(peer: PeerId, error: DchatError): void;
  /** Attempts per request across different peers (default: every candidate, at most 8). */
  maxAttempts?: number;
  priority?: number;
}

export class PeerSource implements Source {
  readonly id = 'peer';
  readonly type: SourceType = 'peer';
  readonly uri = 'libp2p:/dchat/chunks/1';
  readonly priority: number;
  private readonly init: PeerSourceInit;
  private readonly inFlight = new Map<string, number>();
  private readonly expected = new Map<string, { target: PackageTarget; table?: ChunkTable }>();
  private rr = 0;
  /** Bytes and chunks received, by peer (for reports: "fetched from several peers"). */
  readonly received = new Map<string, { bytes: number; ranges: number }>();
  badChunks = 0;

  constructor(init: PeerSourceInit) {
    this.init = init;
    this.priority = init.priority ?? PEER_SOURCE_PRIORITY;
  }

  /** Registers the signed target of a download, so tables and chunks are checked on arrival. */
  expect(target: PackageTarget, table?: ChunkTable): void {
    this.expected.set(target.path, table ? { target, table } : { target });
  }

  /** Peers in the order to try: least busy first, rotating among equals. */
  private order(target?: string): PeerId[] {
    const peers = this.init.peers(target);
    const n = peers.length;
    if (n === 0) return [];
    const start = this.rr++ % n;
    const rotated = [...peers.slice(start), ...peers.slice(0, start)];
    return rotated.sort(
      (a, b) => (this.inFlight.get(a.toString()) ?? 0) - (this.inFlight.get(b.toString()) ?? 0),
    );
  }

  private async tryPeers<T>(
    what: string,
    target: string | undefined,
    signal: AbortSignal | undefined,
    attempt: (peer: PeerId) => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const peers = this.order(target).slice(0, this.init.maxAttempts ?? 8);
    if (peers.length === 0)
      throw new SourceError(
        'E_NO_SOURCE',
        `no connected peer ${target ? `holds ${target}` : 'to ask'} for ${what}`,
      );
    let lastError: DchatError | undefined;
    let notFound = 0;
    for (const peer of peers) {
      signal?.throwIfAborted();
      const key = peer.toString();
      this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
      try {
        const r = await attempt(peer);
        if (r === undefined) {
          notFound++;
          continue;
        }
        return r;
      } catch (err) {
        if (signal?.aborted) throw toDchatError(err, 'E_ABORTED');
        lastError = toDchatError(err, 'E_NETWORK');
        this.init.onFailure?.(peer, lastError);
      } finally {
        const left = (this.inFlight.get(key) ?? 1) - 1;
        if (left <= 0) this.inFlight.delete(key);
        else this.inFlight.set(key, left);
      }
    }
    if (notFound === peers.length) return undefined;
    throw new SourceError(
      lastError?.code ?? 'E_NO_SOURCE',
      `every peer failed for ${what}: ${lastError?.message}`,
      {
        cause: lastError,
      },
    );
  }

  async fetchMetadata(name: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    return this.tryPeers(name, undefined, opts.signal, (peer) =>
      this.init.transport.metadata(peer, name, opts.maxBytes, opts.signal),
    );
  }

  async fetchChunkTable(target: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    const exp = this.expected.get(target);
    return this.tryPeers(`${target} chunk table`, target, opts.signal, async (peer) => {
      const bytes = await this.init.transport.chunkTable(peer, target, opts.maxBytes, opts.signal);
      if (!bytes || !exp) return bytes;
      try {
        const table = parseChunkTable(bytes);
        checkChunkTable(exp.target, table);
        exp.table = table;
        return bytes;
      } catch (err) {
        const e = toDchatError(err, 'E_CHUNK_MISMATCH');
        this.init.onMisbehaviour?.(peer, 'bad-table', e.message);
        throw e;
      }
    });
  }

  async fetchRange(req: RangeRequest): Promise<Uint8Array> {
    if (req.end - req.start > req.maxBytes)
      throw new DchatError(
        'E_TOO_LARGE',
        `range of ${req.end - req.start} bytes over the ${req.maxBytes} cap`,
      );
    const table = this.expected.get(req.target)?.table;
    const bytes = await this.tryPeers(
      `${req.target} [${req.start}, ${req.end})`,
      req.target,
      req.signal,
      async (peer) => {
        const data = await this.init.transport.range(peer, req.target, req.start, req.end, req.signal);
        if (table) {
          const bad = firstBadChunk(table, req.start, data);
          if (bad !== undefined) {
            this.badChunks++;
            this.init.onMisbehaviour?.(peer, 'bad-chunk', `${req.target} chunk ${bad}`);
            throw new DchatError(
              'E_CHUNK_MISMATCH',
              `peer ${peer.toString().slice(-8)} sent a bad chunk ${bad}`,
            );
          }
        }
        const stat = this.received.get(peer.toString()) ?? { bytes: 0, ranges: 0 };
        stat.bytes += data.byteLength;
        stat.ranges++;
        this.received.set(peer.toString(), stat);
        return data;
      },
    );
    if (!bytes) throw new SourceError('E_NO_SOURCE', `no peer holds ${req.target}`);
    return bytes;
  }
}

/**
 * Index of the first whole chunk in `data` (which starts at byte `start`) whose BLAKE3 differs
 * from the table, or undefined. Chunks only partly inside the range are left to the caller.
 */
export function firstBadChunk(table: ChunkTable, start: number, data: Uint8Array): number | undefined {
  const end = start + data.byteLength;
  const first = Math.ceil(start / table.chunk_size);
  for (let i = first; i < table.chunks.length; i++) {
    const r = chunkRange(table, i);
    if (r.end > end) break;
    if (chunkHashHex(data.subarray(r.start - start, r.end - start)) !== table.chunks[i]) return i;
  }
  return undefined;
}
