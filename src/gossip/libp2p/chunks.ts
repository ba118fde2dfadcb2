/**
 * Peer transfer, `/dchat/chunks/1`: a request/response protocol that serves what a node has
 * verified: TUF metadata bytes it trusts, chunk tables and byte ranges of its verified packages
 * (PackageStore re-hashes every chunk before it leaves). Requests are JSON frames, answers a JSON
 * header plus one byte frame; every frame is capped and every peer rate-limited (requests and
 * bytes per second). The client side (ChunkClient) is what sources/peer.ts uses.
 */
import type { PeerId, Stream } from '@libp2p/interface';
import { z } from 'zod';
import { DchatError, type ErrorCode } from '../../errors.ts';
import { LIMITS, MAX_CHUNK_SIZE } from '../../model/limits.ts';
import { parseWith } from '../../model/schema-util.ts';
import { type ProtocolHost, rpcCall, rpcServe, type ServerReply } from './rpc.ts';
import { type BucketConfig, PeerBuckets } from './token-bucket.ts';

export const CHUNKS_PROTOCOL = '/dchat/chunks/1';
export const CHUNKS_WIRE_FORMAT = 'dchat.chunks-rpc/1';
/** Largest range served in one request: one chunk of the largest allowed chunk size. */
export const MAX_RANGE_BYTES = MAX_CHUNK_SIZE;
export const MAX_HOLDINGS = 64;

const name = z.string().min(1).max(256);
export const ChunkRequestSchema = z.discriminatedUnion('type', [
  z.object({ format: z.literal(CHUNKS_WIRE_FORMAT), type: z.literal('have') }),
  z.object({
    format: z.literal(CHUNKS_WIRE_FORMAT),
    type: z.literal('metadata'),
    name: name.regex(/^(?:\d{1,12}\.)?(?:root|timestamp|snapshot|targets)\.json$/),
  }),
  z.object({ format: z.literal(CHUNKS_WIRE_FORMAT), type: z.literal('chunk-table'), target: name }),
  z.object({
    format: z.literal(CHUNKS_WIRE_FORMAT),
    type: z.literal('range'),
    target: name,
    start: z.number().int().nonnegative().max(LIMITS.packageBytes),
    end: z.number().int().positive().max(LIMITS.packageBytes),
  }),
]);
export type ChunkRequest = z.infer<typeof ChunkRequestSchema>;

const HoldingSchema = z.object({
  target: name,
  version: z.string().max(64),
  platform: z.string().max(64),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative().max(LIMITS.packageBytes),
});

/** A verified package a node offers to peers. */
export interface Holding {
  target: string;
  version: string;
  platform: string;
  sha256: string;
  size: number;
}

/** What the server reads from: the node's verified packages and trusted metadata. */
export interface ChunkServerBackend {
  holdings(): Holding[];
  metadata(name: string): Promise<Uint8Array | undefined>;
  chunkTable(target: string): Uint8Array | undefined;
  readRange(target: string, start: number, end: number): Promise<Uint8Array>;
}

export interface ChunkServerInit {
  limits?: Partial<BucketConfig>;
  maxInboundStreams?: number;
  /** Range bytes being read or sent at once, over all peers (default DEFAULT_MAX_BYTES_IN_FLIGHT). */
  maxBytesInFlight?: number;
  /** Called for every refused request (rate limit, malformed), for the node's counters. */
  onRefused?: (peer: PeerId, code: string) => void;
  /**
   * Test harness only (dchat-test chaos-byzantine): rewrites the bytes of a range before it is
   * sent, to play a peer that serves corrupted chunks. Never set by `dchat node start`.
   */
  tamper?: (target: string, start: number, bytes: Uint8Array) => Uint8Array;
  now?: () => number;
}

export const DEFAULT_CHUNK_LIMITS: BucketConfig = {
  requestsPerSec: 200,
  requestBurst: 400,
  bytesPerSec: 64 * 1024 * 1024,
  byteBurst: 128 * 1024 * 1024,
};

/** Four of the largest chunks: what all peers together may have the server hold in memory. */
export const DEFAULT_MAX_BYTES_IN_FLIGHT = 4 * MAX_RANGE_BYTES;

export class ChunkServer {
  private readonly host: ProtocolHost;
  private readonly backend: ChunkServerBackend;
  private readonly init: ChunkServerInit;
  private readonly buckets: PeerBuckets;
  private readonly now: () => number;
  private bytesInFlight = 0;
  served = 0;
  servedBytes = 0;
  refused = 0;

  constructor(host: ProtocolHost, backend: ChunkServerBackend, init: ChunkServerInit = {}) {
    this.host = host;
    this.backend = backend;
    this.init = init;
    this.buckets = new PeerBuckets({ ...DEFAULT_CHUNK_LIMITS, ...init.limits });
    this.now = init.now ?? Date.now;
  }

  async start(): Promise<void> {
    await this.host.handle(
      CHUNKS_PROTOCOL,
      (stream, connection) => this.onStream(stream, connection.remotePeer),
      {
        maxInboundStreams: this.init.maxInboundStreams ?? 16,
      },
    );
  }

  async stop(): Promise<void> {
    await this.host.unhandle(CHUNKS_PROTOCOL).catch(() => {});
  }

  /** One request; the bytes of a range count against the global cap until the reply is sent. */
  private async onStream(stream: Stream, peer: PeerId): Promise<void> {
    let held = 0;
    const reserve = (bytes: number) => {
      const cap = this.init.maxBytesInFlight ?? DEFAULT_MAX_BYTES_IN_FLIGHT;
      if (this.bytesInFlight + bytes > cap) return false;
      this.bytesInFlight += bytes;
      held += bytes;
      return true;
    };
    try {
      await rpcServe(stream, (req) => this.answer(peer, req, reserve));
    } finally {
      this.bytesInFlight -= held;
    }
  }

  private refuse(peer: PeerId, code: ErrorCode, message: string): never {
    this.refused++;
    this.init.onRefused?.(peer, code);
    throw new DchatError(code, message);
  }

  private async answer(
    peer: PeerId,
    raw: Record<string, unknown>,
    reserve: (bytes: number) => boolean,
  ): Promise<ServerReply> {
    let req: ChunkRequest;
    try {
      req = parseWith(ChunkRequestSchema, raw, 'chunk request');
    } catch (err) {
      this.refuse(peer, 'E_MALFORMED', (err as Error).message);
    }
    const cost = req.type === 'range' ? req.end - req.start : 0;
    if (req.type === 'range' && (req.end <= req.start || cost > MAX_RANGE_BYTES))
      this.refuse(peer, 'E_TOO_LARGE', `a range is 1 to ${MAX_RANGE_BYTES} bytes`);
    if (!this.buckets.admit(peer.toString(), this.now(), cost))
      this.refuse(peer, 'E_BUSY', 'rate limit: slow down');
    switch (req.type) {
      case 'have':
        return { header: { ok: true, holdings: this.backend.holdings().slice(0, MAX_HOLDINGS) } };
      case 'metadata': {
        const body = await this.backend.metadata(req.name);
        if (!body) return { header: { ok: false, code: 'E_NOT_FOUND', message: `no ${req.name}` } };
        return this.sent({ header: { ok: true }, body });
      }
      case 'chunk-table': {
        const body = this.backend.chunkTable(req.target);
        if (!body) return { header: { ok: false, code: 'E_NOT_FOUND', message: 'no such verified package' } };
        return this.sent({ header: { ok: true }, body });
      }
      case 'range': {
        if (!reserve(cost)) this.refuse(peer, 'E_BUSY', 'busy: too many bytes in flight, retry later');
        let body = await this.backend.readRange(req.target, req.start, req.end);
        if (this.init.tamper) body = this.init.tamper(req.target, req.start, body);
        return this.sent({ header: { ok: true }, body });
      }
    }
  }

  private sent(r: ServerReply): ServerReply {
    this.served++;
    this.servedBytes += r.body?.byteLength ?? 0;
    return r;
  }
}

/** The client side: one call per request, each with its own stream, cap and deadline. */
export class ChunkClient {
  private readonly host: Pick<ProtocolHost, 'dialProtocol'>;
  private readonly timeoutMs: number;

  constructor(host: Pick<ProtocolHost, 'dialProtocol'>, timeoutMs = 15_000) {
    this.host = host;
    this.timeoutMs = timeoutMs;
  }

  private request(peer: PeerId, req: Record<string, unknown>, maxBody: number, signal?: AbortSignal) {
    return rpcCall(
      this.host,
      peer,
      CHUNKS_PROTOCOL,
      { format: CHUNKS_WIRE_FORMAT, ...req },
      { maxBody, timeoutMs: this.timeoutMs, ...(signal ? { signal } : {}) },
    );
  }

  private async call(
    peer: PeerId,
    req: Record<string, unknown>,
    maxBody: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array | undefined> {
    const r = await this.request(peer, req, maxBody, signal);
    if (!r.header.ok) {
      if (r.header.code === 'E_NOT_FOUND') return undefined;
      const code = r.header.code === 'E_BUSY' ? 'E_BUSY' : 'E_NETWORK';
      throw new DchatError(
        code,
        `peer ${peer.toString().slice(-8)}: ${String(r.header.message ?? r.header.code).slice(0, 200)}`,
      );
    }
    if (!r.body)
      throw new DchatError('E_MALFORMED', `peer ${peer.toString().slice(-8)} sent a header without bytes`);
    return r.body;
  }

  async have(peer: PeerId, signal?: AbortSignal): Promise<Holding[]> {
    const r = await this.request(peer, { type: 'have' }, 0, signal);
    if (!r.header.ok) throw new DchatError('E_NETWORK', `peer ${peer.toString().slice(-8)} refused 'have'`);
    return parseWith(z.array(HoldingSchema).max(MAX_HOLDINGS), r.header.holdings, 'holdings');
  }

  metadata(
    peer: PeerId,
    name: string,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array | undefined> {
    return this.call(peer, { type: 'metadata', name }, maxBytes, signal);
  }

  chunkTable(
    peer: PeerId,
    target: string,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array | undefined> {
    return this.call(peer, { type: 'chunk-table', target }, maxBytes, signal);
  }

  async range(
    peer: PeerId,
    target: string,
    start: number,
    end: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    const body = await this.call(peer, { type: 'range', target, start, end }, end - start, signal);
    if (!body)
      throw new DchatError('E_NOT_FOUND', `peer ${peer.toString().slice(-8)} does not have ${target}`);
    if (body.byteLength !== end - start)
      throw new DchatError(
        'E_SIZE_MISMATCH',
        `peer sent ${body.byteLength} bytes for a ${end - start}-byte range`,
      );
    return body;
  }
}
