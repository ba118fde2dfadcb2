/**
 * What the release path (release-path.ts) and the signed-object path (object-path.ts) do alike
 * with something they hold: push it to the mesh, and answer IWANT/WANT for it at most once per
 * peer and connection. Releases and objects differ in their replay rule and message shape only.
 */
import type { GossipMessage } from './messages.ts';
import type { NodeState } from './node-state.ts';
import { currentScore } from './peer-state.ts';

/** The per-peer marks a held release or object carries. */
export interface PeerMarks<P> {
  /** Hops put on every copy sent; -1: held quietly, never pushed. */
  relayTtl: number;
  knownHave: Set<P>;
  sentTo: Set<P>;
  bundledTo: Set<P>;
}

/**
 * May `peer` be sent `held` in answer to IWANT (`announce`) or WANT (`bundle`)? Marks it when yes.
 * A peer gets it at most once by push or IWANT (which obeys the hop bound) and once more by WANT
 * (anti-entropy repair between direct peers, always answered) per connection, so requests cannot
 * make us repeat large messages (an amplification attack).
 */
export function mayServe<P>(held: PeerMarks<P>, peer: P, as: 'announce' | 'bundle'): boolean {
  if (as === 'announce') {
    if (held.sentTo.has(peer) || held.relayTtl < 0) return false;
    held.sentTo.add(peer);
  } else {
    if (held.bundledTo.has(peer)) return false;
    held.bundledTo.add(peer);
  }
  held.knownHave.add(peer);
  return true;
}

/**
 * Eager push of `message` (carrying `held`, id `id`): flooding sends it to every peer, the mesh
 * protocol to the mesh (or everyone, for our own publish), skipping peers whose score is below
 * zero, and queues it for lazy IHAVE.
 */
export function pushHeld<P>(
  s: NodeState<P>,
  now: number,
  held: PeerMarks<P>,
  id: string,
  message: GossipMessage,
  except: P | undefined,
  everyone: boolean,
): void {
  const all = everyone || s.config.mode === 'flood';
  for (const [p, st] of s.peers) {
    if (p === except || !(all || st.inMesh)) continue;
    if (st.score < 0 && currentScore(st, now, s.config) < 0) continue;
    held.sentTo.add(p);
    held.knownHave.add(p);
    s.send(p, message);
  }
  if (s.config.mode === 'mesh' && s.config.gossipHistory > 0) s.recent.set(id, s.config.gossipHistory);
}
