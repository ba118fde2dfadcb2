/**
 * What each connected peer says it holds (the chunk protocol's `have`), asked at most once a second
 * per peer and forgotten when the peer leaves: which peers a download can ask for a package.
 */
import type { PeerId } from '@libp2p/interface';
import type { BanList } from '../gossip/libp2p/adapter.ts';
import type { ChunkClient, Holding } from '../gossip/libp2p/chunks.ts';
import type { DchatLibp2p } from './libp2p.ts';

/** A peer's answer is reused for this long (ms) before it is asked again. */
const FRESH_MS = 1000;
/** How long one peer may take to answer (ms); no answer counts as holding nothing. */
const ASK_TIMEOUT_MS = 5000;

export class PeerHoldings {
  private readonly byPeer = new Map<string, { at: number; list: Holding[] }>();

  /** Connected, unbanned peers holding `target` (every connected, unbanned peer without one). */
  holding(node: DchatLibp2p, bans: BanList, target?: string): PeerId[] {
    const peers = node.getPeers().filter((p) => !bans.isBanned(p.toString()));
    if (!target) return peers;
    return peers.filter((p) => this.byPeer.get(p.toString())?.list.some((h) => h.target === target));
  }

  /** Asks every connected peer what it holds (bounded time; failures just mean "nothing"). */
  async refresh(node: DchatLibp2p, client: ChunkClient, now: number): Promise<void> {
    await Promise.all(
      node.getPeers().map(async (p) => {
        const key = p.toString();
        const cached = this.byPeer.get(key);
        if (cached && now - cached.at < FRESH_MS) return;
        try {
          this.byPeer.set(key, { at: now, list: await client.have(p, AbortSignal.timeout(ASK_TIMEOUT_MS)) });
        } catch {
          this.byPeer.set(key, { at: now, list: [] });
        }
      }),
    );
    for (const key of this.byPeer.keys())
      if (!node.getPeers().some((p) => p.toString() === key)) this.byPeer.delete(key);
  }
}
