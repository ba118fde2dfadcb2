import type { GossipMessage } from '../gossip/core/messages.ts';
import type { Rng } from '../gossip/core/rng.ts';

/**
 * Link model: every node sits at a point of the unit square (a stand-in for geography), so
 * latency grows with distance and is consistent across a path; each node has one uplink that
 * sends one message at a time (bandwidth), so fanout costs time as well as messages; each message
 * is lost independently with probability `loss`.
 */
export interface LinkModel {
  /** One-way latency between co-located nodes. */
  baseLatencyMs: number;
  /** Added one-way latency per unit of distance (the square's diagonal is ~1.41). */
  distanceLatencyMs: number;
  /** Uniform extra delay per message, [0, jitterMs). */
  jitterMs: number;
  /** Uplink of every node. */
  uplinkMbps: number;
  /** Probability that a message is lost. */
  loss: number;
}

export class Network {
  readonly x: Float32Array;
  readonly y: Float32Array;
  private readonly model: LinkModel;
  private readonly rng: Rng;
  /** When each node's uplink is free again. */
  private readonly uplinkFreeAt: Float64Array;
  private readonly msPerByte: number;

  constructor(n: number, model: LinkModel, positionsRng: Rng, rng: Rng) {
    this.model = model;
    this.rng = rng;
    this.x = new Float32Array(n);
    this.y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      this.x[i] = positionsRng.next();
      this.y[i] = positionsRng.next();
    }
    this.uplinkFreeAt = new Float64Array(n);
    this.msPerByte = 8 / (model.uplinkMbps * 1000);
  }

  /**
   * Puts `bytes` on the uplink of `from` at `now`; returns the arrival time at `to`, or -1 if the
   * message is lost (it still used the uplink: loss happens on the way).
   */
  transmit(now: number, from: number, to: number, bytes: number): number {
    const start = Math.max(now, this.uplinkFreeAt[from] as number);
    const done = start + bytes * this.msPerByte;
    this.uplinkFreeAt[from] = done;
    const m = this.model;
    if (m.loss > 0 && this.rng.next() < m.loss) return -1;
    const dx = (this.x[from] as number) - (this.x[to] as number);
    const dy = (this.y[from] as number) - (this.y[to] as number);
    return (
      done +
      m.baseLatencyMs +
      Math.sqrt(dx * dx + dy * dy) * m.distanceLatencyMs +
      this.rng.next() * m.jitterMs
    );
  }

  /** Forget queued uplink work (a node that left and came back starts with an idle link). */
  resetUplink(node: number, now: number): void {
    this.uplinkFreeAt[node] = now;
  }
}

/**
 * Size of a message on the wire, estimated from its shape rather than by encoding it (encoding
 * every simulated message would dominate the run). Announcements are given their size, since
 * theirs is the embedded TUF metadata; the rest is close to their JSON length.
 */
export function estimateBytes(m: GossipMessage, announcementBytes: number): number {
  switch (m.type) {
    case 'announce':
    case 'bundle':
      return announcementBytes;
    case 'ihave':
      return 60 + 62 * m.items.length;
    case 'iwant':
    case 'want':
      return 60 + 39 * m.ids.length;
    case 'hello':
      return (
        80 + 62 * m.digest.releases.length + 90 * (m.digest.objects?.length ?? 0) + 220 * m.mirrors.length
      );
    case 'digest':
      return 75 + 62 * m.digest.releases.length + 90 * (m.digest.objects?.length ?? 0);
    case 'mirrors':
      return 60 + 220 * m.sources.length;
    case 'graft':
    case 'prune':
      return 42;
  }
}
