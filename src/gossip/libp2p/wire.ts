/**
 * `/dchat/gossip/1`: the gossip core's messages (gossip/core/messages.ts, format dchat.gossip/1)
 * between two connected peers. Each side opens one long-lived stream to the other and writes
 * length-prefixed frames (lpStream), one message per frame; the reader hands every frame to the
 * core as bytes. Frames are capped (twice the core's message cap is read, so the core itself sees
 * and penalises a message just over its cap; past that the stream is aborted). A new protocol
 * version is a new protocol id. This file moves bytes only: what to send, and what a frame means,
 * is the core's decision.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils';
import type { ProtocolHost } from './rpc.ts';

export const GOSSIP_PROTOCOL = '/dchat/gossip/1';
/**
 * Frames queued per peer while its stream opens or drains, and bytes queued over all peers; past
 * either, new frames are dropped (anti-entropy repairs the loss). Without the byte cap, 64 peers
 * x 256 frames x a 256 KiB message would be 4 GiB.
 */
const MAX_QUEUED_FRAMES = 256;
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;
const OPEN_TIMEOUT_MS = 10_000;
/** Streams a peer may hold open to us at once (one in use, one replacing a broken one...). */
const MAX_INBOUND_STREAMS = 4;

/** Our side of one peer: the frames waiting, and the stream they go on once it is open. */
interface Outbound {
  peer: PeerId;
  queue: Uint8Array[];
  writing: boolean;
  stream?: Stream | undefined;
  lp?: LengthPrefixedStream<Stream> | undefined;
}

export interface WireEvents {
  /** One frame from `peer` (at most twice `maxFrameBytes`). */
  frame(peer: PeerId, bytes: Uint8Array): void;
  /** A send failed (stream broke, peer gone): for logs. */
  sendFailed(peer: string, error: Error): void;
}

export class GossipWire {
  /** Frames sent, and frames dropped because a peer's queue was full. */
  sent = 0;
  dropped = 0;
  received = 0;
  private queuedBytes = 0;
  private readonly host: ProtocolHost;
  private readonly events: WireEvents;
  private readonly maxFrameBytes: number;
  private readonly out = new Map<string, Outbound>();
  private readonly inbound = new Set<Stream>();
  private running = false;

  constructor(host: ProtocolHost, maxFrameBytes: number, events: WireEvents) {
    this.host = host;
    this.maxFrameBytes = maxFrameBytes;
    this.events = events;
  }

  async start(): Promise<void> {
    this.running = true;
    await this.host.handle(GOSSIP_PROTOCOL, (stream, conn) => this.read(stream, conn), {
      maxInboundStreams: MAX_INBOUND_STREAMS,
      maxOutboundStreams: MAX_INBOUND_STREAMS,
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.host.unhandle(GOSSIP_PROTOCOL).catch(() => {});
    for (const o of this.out.values()) o.stream?.abort(new Error('gossip stopping'));
    for (const s of this.inbound) s.abort(new Error('gossip stopping'));
    this.out.clear();
    this.inbound.clear();
    this.queuedBytes = 0;
  }

  /**
   * A peer connected: open our stream to it now, so the first message that matters (a release
   * pushed hop by hop) does not wait for a protocol negotiation on every hop.
   */
  open(peer: PeerId): void {
    if (this.running) this.kick(peer, undefined);
  }

  /** Queues `bytes` (one encoded message) for `peer`; written in order on our stream to it. */
  send(peer: PeerId, bytes: Uint8Array): void {
    if (this.running) this.kick(peer, bytes);
  }

  private kick(peer: PeerId, bytes: Uint8Array | undefined): void {
    const key = peer.toString();
    let o = this.out.get(key);
    if (!o) {
      o = { peer, queue: [], writing: false };
      this.out.set(key, o);
    }
    if (bytes) {
      if (o.queue.length >= MAX_QUEUED_FRAMES || this.queuedBytes + bytes.byteLength > MAX_QUEUED_BYTES) {
        this.dropped++;
        return;
      }
      o.queue.push(bytes);
      this.queuedBytes += bytes.byteLength;
    }
    if (!o.writing) void this.write(key, o);
  }

  /** The peer disconnected: forget our stream to it and whatever was still queued. */
  forget(peer: string): void {
    const o = this.out.get(peer);
    if (!o) return;
    this.clear(o);
    o.stream?.abort(new Error('peer disconnected'));
    this.out.delete(peer);
  }

  private async write(key: string, o: Outbound) {
    o.writing = true;
    try {
      do {
        if (o.stream?.status !== 'open' || !o.lp) {
          o.stream = await this.host.dialProtocol(o.peer, GOSSIP_PROTOCOL, {
            signal: AbortSignal.timeout(OPEN_TIMEOUT_MS),
          });
          o.lp = lpStream(o.stream, { maxDataLength: this.maxFrameBytes * 2 });
        }
        if (o.queue.length === 0) break;
        const frames = o.queue.splice(0, o.queue.length);
        const size = frames.reduce((n, f) => n + f.byteLength, 0);
        try {
          await o.lp.writeV(frames);
        } finally {
          this.queuedBytes -= size;
        }
        this.sent += frames.length;
      } while (o.queue.length > 0 && this.running);
    } catch (err) {
      // A broken stream loses what was in flight; the next send opens a new one.
      o.stream?.abort(err instanceof Error ? err : new Error(String(err)));
      o.stream = undefined;
      o.lp = undefined;
      this.clear(o);
      if (this.out.get(key) === o) this.out.delete(key);
      this.events.sendFailed(key, err instanceof Error ? err : new Error(String(err)));
    } finally {
      o.writing = false;
    }
  }

  private clear(o: Outbound): void {
    for (const f of o.queue) this.queuedBytes -= f.byteLength;
    o.queue.length = 0;
  }

  /** Reads frames from a peer's stream until it ends or breaks a rule (then it is aborted). */
  private async read(stream: Stream, conn: Connection): Promise<void> {
    if (!this.running) {
      stream.abort(new Error('gossip not running'));
      return;
    }
    this.inbound.add(stream);
    const lp = lpStream(stream, { maxDataLength: this.maxFrameBytes * 2 });
    try {
      for (;;) {
        const frame = await lp.read();
        this.received++;
        this.events.frame(conn.remotePeer, frame.subarray());
      }
    } catch {
      // End of stream, or a frame over twice the cap: either way this stream is done.
      if (stream.status === 'open') stream.abort(new Error('gossip stream closed'));
    } finally {
      this.inbound.delete(stream);
    }
  }
}
