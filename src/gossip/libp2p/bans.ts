/**
 * Peers the node refuses until their ban ends: the gossip core decides a ban (its `disconnect`
 * action), the adapter records it here, and the libp2p connection gater (node/libp2p.ts) enforces
 * it both ways, so a banned peer cannot even finish a handshake.
 */
const MAX_BANS = 4096;

export class BanList {
  private readonly until = new Map<string, number>();
  ban(peer: string, untilMs: number): void {
    this.until.set(peer, untilMs);
    if (this.until.size > MAX_BANS) this.until.delete(this.until.keys().next().value as string);
  }
  isBanned(peer: string, now = Date.now()): boolean {
    const u = this.until.get(peer);
    if (u === undefined) return false;
    if (u > now) return true;
    this.until.delete(peer);
    return false;
  }
  list(now = Date.now()): string[] {
    return [...this.until.entries()].filter(([, u]) => u > now).map(([p]) => p);
  }
}
