/**
 * Peers the node refuses until their ban ends: the gossip core decides a ban (its `disconnect`
 * action), the adapter records it here, and the libp2p connection gater (node/libp2p.ts) enforces
 * it both ways, so a banned peer cannot even finish a handshake. Capped (util/lru.ts): the oldest
 * ban is forgotten first, so invented peer ids cannot grow memory.
 */
import { Lru } from '../../util/lru.ts';

const MAX_BANS = 4096;

export class BanList {
  private readonly until = new Lru<string, number>(MAX_BANS);
  ban(peer: string, untilMs: number): void {
    this.until.set(peer, untilMs);
  }
  isBanned(peer: string, now = Date.now()): boolean {
    // peek: asking about a ban must not keep it from being the first forgotten.
    const u = this.until.peek(peer);
    if (u === undefined) return false;
    if (u > now) return true;
    this.until.delete(peer);
    return false;
  }
  list(now = Date.now()): string[] {
    return [...this.until.entries()].filter(([, u]) => u > now).map(([p]) => p);
  }
}
