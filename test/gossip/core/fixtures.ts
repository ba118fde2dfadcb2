/**
 * Shared pieces of the gossip core tests: announcements with a stand-in for the TUF check, and a
 * small harness that wires GossipNodes together in memory (a hand-pumped network, no clock).
 */
import type { GossipAction, ValidateAnnouncement } from '../../../src/gossip/core/actions.ts';
import type { GossipConfig } from '../../../src/gossip/core/config.ts';
import { GOSSIP_FORMAT, type GossipMessage } from '../../../src/gossip/core/messages.ts';
import { GossipNode } from '../../../src/gossip/core/node.ts';
import { Rng } from '../../../src/gossip/core/rng.ts';
import { ANNOUNCE_FORMAT, type VersionAnnouncement } from '../../../src/model/announcement.ts';

const GOOD = 'Z29vZA=='; // "good": the stand-in for metadata that passes the TUF check
const BAD = 'YmFk'; // "bad"

const ids = new Rng(4242);

export function announcement(
  version: string,
  ttl: number,
  opts: { valid?: boolean; id?: string } = {},
): VersionAnnouncement {
  return {
    format: ANNOUNCE_FORMAT,
    id: opts.id ?? ids.uuid(),
    node_id: 'test-publisher',
    version,
    metadata: { roots: [], timestamp: GOOD, snapshot: GOOD, targets: opts.valid === false ? BAD : GOOD },
    sources: [],
    timestamp: '2025-01-01T00:00:00.000Z',
    ttl,
  };
}

/** The TUF stand-in: genuine iff the targets document is the good marker. */
export const validate: ValidateAnnouncement = (a) =>
  a.metadata.targets === GOOD ? { ok: true } : { ok: false, code: 'E_SIGNATURE', reason: 'bad signature' };

export function node(
  config: Partial<GossipConfig> = {},
  seed = 1,
  initialHighest = '1.0.0',
): GossipNode<string> {
  return new GossipNode<string>({ now: 0, validate, config, seed, initialHighest });
}

export function announceMsg(a: VersionAnnouncement): GossipMessage {
  return { format: GOSSIP_FORMAT, type: 'announce', kind: 'release', announcement: a };
}

export type Sent = { to: string; message: GossipMessage };

export function sends(actions: readonly GossipAction<string>[]): Sent[] {
  return actions.flatMap((a) => (a.type === 'send' ? [{ to: a.to, message: a.message }] : []));
}

/** Sends of one message type; for `announce` and `bundle`, those carrying a release. */
export function sentOfType<T extends GossipMessage['type']>(
  actions: readonly GossipAction<string>[],
  type: T,
) {
  return sends(actions).filter((s): s is { to: string; message: SentOf<T> } => {
    const m = s.message;
    if (m.type !== type) return false;
    return (m.type !== 'announce' && m.type !== 'bundle') || m.kind === 'release';
  });
}
type SentOf<T extends GossipMessage['type']> = T extends 'announce' | 'bundle'
  ? Extract<GossipMessage, { type: T; kind: 'release' }>
  : Extract<GossipMessage, { type: T }>;

/** Connects `n` to each of `peers` (as the dialer) and drops the handshake it queued. */
export function connectAll(n: GossipNode<string>, peers: readonly string[], now = 0): void {
  for (const p of peers) n.connected(now, p);
  n.drain();
}

/**
 * A tiny in-memory network: messages go into a FIFO and are delivered one by one with a fixed
 * delay; `run` pumps deliveries and timeouts in time order until nothing is left before `until`.
 */
export class Pump {
  readonly nodes = new Map<string, GossipNode<string>>();
  readonly accepted = new Map<string, number>();
  readonly log: { from: string; to: string; message: GossipMessage; at: number }[] = [];
  private queue: { at: number; from: string; to: string; message: GossipMessage }[] = [];
  now = 0;
  private readonly delayMs: number;

  constructor(delayMs = 10) {
    this.delayMs = delayMs;
  }

  add(id: string, n: GossipNode<string>): GossipNode<string> {
    this.nodes.set(id, n);
    return n;
  }

  connect(a: string, b: string): void {
    this.get(a).connected(this.now, b, 'outbound');
    this.get(b).connected(this.now, a, 'inbound');
    this.flush(a);
    this.flush(b);
  }

  disconnect(a: string, b: string): void {
    this.get(a).disconnected(this.now, b);
    this.get(b).disconnected(this.now, a);
    this.queue = this.queue.filter((m) => !((m.from === a && m.to === b) || (m.from === b && m.to === a)));
  }

  publish(id: string, a: VersionAnnouncement): void {
    this.get(id).publish(this.now, a);
    this.flush(id);
  }

  get(id: string): GossipNode<string> {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Runs until no delivery and no timeout is due before `until`. */
  run(until: number): void {
    for (;;) {
      const nextMsg = this.queue[0]?.at ?? Number.POSITIVE_INFINITY;
      let nextTimer = Number.POSITIVE_INFINITY;
      let timerNode: string | undefined;
      for (const [id, n] of this.nodes) {
        const t = n.pollTimeout();
        if (t < nextTimer) {
          nextTimer = t;
          timerNode = id;
        }
      }
      const t = Math.min(nextMsg, nextTimer);
      if (t > until) break;
      this.now = Math.max(this.now, t);
      if (nextMsg <= nextTimer) {
        const m = this.queue.shift() as { at: number; from: string; to: string; message: GossipMessage };
        this.log.push({ ...m, at: this.now });
        this.get(m.to).receive(this.now, m.from, m.message, 100);
        this.flush(m.to);
      } else if (timerNode !== undefined) {
        this.get(timerNode).timeout(this.now);
        this.flush(timerNode);
      }
    }
    this.now = Math.max(this.now, until);
  }

  private flush(id: string): void {
    const n = this.get(id);
    for (let a = n.poll(); a !== undefined; a = n.poll()) {
      if (a.type === 'send') {
        if (this.nodes.has(a.to))
          this.queue.push({ at: this.now + this.delayMs, from: id, to: a.to, message: a.message });
      } else if (a.type === 'accepted' && !this.accepted.has(id)) this.accepted.set(id, this.now);
      else if (a.type === 'disconnect') this.disconnect(id, a.peer);
    }
    this.queue.sort((x, y) => x.at - y.at);
  }
}
