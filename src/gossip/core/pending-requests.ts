/**
 * IWANT and WANT requests we sent and expect answered (gossipsub's promises, P7): one per
 * announcement id, so the same id is never asked of two peers at once; an answer from anyone
 * settles it; one left unanswered past its deadline is a broken promise that costs the peer
 * who advertised the id. The promiser also keeps its promise by sending, in answer, a valid
 * object that superseded the one asked for (object-path.ts): it had what it advertised, and
 * something newer replaced it meanwhile, which is no fault of the peer's.
 */
export class PendingRequests<P> {
  private readonly byId = new Map<string, { peer: P; deadline: number }>();

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  add(id: string, peer: P, deadline: number): void {
    this.byId.set(id, { peer, deadline });
  }

  /** The id arrived: returns who had promised it, if anyone. */
  settle(id: string): P | undefined {
    const pr = this.byId.get(id);
    if (!pr) return undefined;
    this.byId.delete(id);
    return pr.peer;
  }

  /** Like `settle`, but only if `peer` is the one who promised `id`. */
  settleFrom(id: string, peer: P): boolean {
    const pr = this.byId.get(id);
    if (!pr || pr.peer !== peer) return false;
    this.byId.delete(id);
    return true;
  }

  /** Removes the requests past their deadline; returns their promisers, one entry per request. */
  expire(now: number): P[] {
    const broken: P[] = [];
    for (const [id, pr] of this.byId) {
      if (pr.deadline > now) continue;
      this.byId.delete(id);
      broken.push(pr.peer);
    }
    return broken;
  }

  /** The peer left: its requests are dropped, so the ids can be asked of someone else. */
  forgetPeer(peer: P): void {
    for (const [id, pr] of this.byId) if (pr.peer === peer) this.byId.delete(id);
  }
}
