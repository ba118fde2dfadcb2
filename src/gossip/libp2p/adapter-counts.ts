/**
 * What the gossip adapter counts of the core's actions (node status, metrics): accepted releases
 * by how they came, messages sent by type, forged announcements, refused peers and rejections per
 * peer (capped: a flood of fresh peer ids cannot grow it without bound).
 */
import type { AcceptedVia } from '../core/index.ts';
import type { AdapterStats } from './host.ts';

const MAX_REJECTED_PEERS = 1024;

export class AdapterCounts {
  private readonly c = {
    forgedAnnouncements: 0,
    acceptedVia: { push: 0, sync: 0, local: 0 } as Record<AcceptedVia, number>,
    sentByType: {} as Record<string, number>,
    refusedPeers: 0,
    rejectedBy: {} as Record<string, number>,
  };

  sent(type: string): void {
    this.c.sentByType[type] = (this.c.sentByType[type] ?? 0) + 1;
  }

  accepted(via: AcceptedVia): void {
    this.c.acceptedVia[via]++;
  }

  rejected(from: string, reason: string): void {
    if (reason === 'invalid') this.c.forgedAnnouncements++;
    const r = this.c.rejectedBy;
    if (r[from] !== undefined || Object.keys(r).length < MAX_REJECTED_PEERS) r[from] = (r[from] ?? 0) + 1;
  }

  refused(): void {
    this.c.refusedPeers++;
  }

  /** The counts, with the wire's own (frames dropped, frames received). */
  snapshot(wire: { dropped: number; received: number }): AdapterStats {
    return { ...this.c, sendDropped: wire.dropped, received: wire.received };
  }
}
