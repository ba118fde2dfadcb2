import type { GossipAction, GossipActionSink } from './actions.ts';
import { GOSSIP_FORMAT, type GossipMessage } from './messages.ts';

/** Every action but a send (sends are queued as bare messages). */
export type HostAction<P> = Exclude<GossipAction<P>, { type: 'send' }>;

/**
 * The node's outbox, in order. A send is kept as its message with the destination beside it, so
 * queuing one allocates nothing: `poll()` builds the action object on demand, `drainTo()` hands
 * sends to a sink without building anything (the simulator sends millions).
 */
export class ActionQueue<P> {
  private readonly items: (HostAction<P> | GossipMessage)[] = [];
  private readonly to: (P | undefined)[] = [];
  private head = 0;

  send(to: P, message: GossipMessage): void {
    this.items.push(message);
    this.to.push(to);
  }

  emit(action: HostAction<P>): void {
    this.items.push(action);
    this.to.push(undefined);
  }

  poll(): GossipAction<P> | undefined {
    if (this.head < this.items.length) {
      const k = this.head++;
      const x = this.items[k] as HostAction<P> | GossipMessage;
      return isMessage(x) ? { type: 'send', to: this.to[k] as P, message: x } : x;
    }
    if (this.head > 0) this.clear();
    return undefined;
  }

  drainTo(sink: GossipActionSink<P>): void {
    // Indexed, not iterated: a sink may make the node queue more, which is delivered too.
    for (let k = this.head; k < this.items.length; k++) {
      const x = this.items[k] as HostAction<P> | GossipMessage;
      if (isMessage(x)) sink.send(this.to[k] as P, x);
      else sink.action(x);
    }
    this.clear();
  }

  private clear(): void {
    this.items.length = 0;
    this.to.length = 0;
    this.head = 0;
  }
}

/** Queued messages carry the wire format; actions never do. */
function isMessage<P>(x: HostAction<P> | GossipMessage): x is GossipMessage {
  return (x as { format?: unknown }).format === GOSSIP_FORMAT;
}
