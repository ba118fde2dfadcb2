/**
 * The periodic work of a gossip node (node.ts `timeout`): the heartbeat (expire seen ids,
 * promises and bans; mesh upkeep; lazy IHAVE gossip), anti-entropy with one random peer, and
 * the heartbeat's phase grid. All of it runs at the `now` the host passes in; when it is next
 * due is `pollTimeout` in node.ts.
 */
import { GOSSIP_FORMAT, MAX_IDS_PER_MESSAGE, type MessageOf } from './messages.ts';
import { GRAFT, type NodeState, PRUNE } from './node-state.ts';
import { currentScore, type PeerState } from './peer-state.ts';

/** Runs whatever is due at `now`: heartbeat (mesh upkeep, IHAVE, expiries) and anti-entropy. */
export function runDueWork<P>(s: NodeState<P>, now: number): void {
  const hb = s.config.heartbeatMs;
  if (now >= s.nextHeartbeat) {
    heartbeat(s, now);
    s.nextHeartbeat += hb;
    if (s.nextHeartbeat <= now) s.nextHeartbeat = now + hb;
  }
  const ae = s.config.antiEntropyMs;
  if (ae > 0 && now >= s.nextAntiEntropy) {
    antiEntropy(s, now);
    s.nextAntiEntropy = now + ae * (0.75 + 0.5 * s.rng.next());
  }
}

/**
 * Heartbeats stay on their phase grid even when skipped while idle: work that appears at `now`
 * waits for the next grid point instead of firing a stale heartbeat at once (which would, for
 * one, send IHAVE for a release the mesh is still delivering).
 */
export function alignHeartbeat<P>(s: NodeState<P>, now: number): void {
  if (s.nextHeartbeat >= now) return;
  const hb = s.config.heartbeatMs;
  s.nextHeartbeat += Math.ceil((now - s.nextHeartbeat) / hb) * hb;
}

function heartbeat<P>(s: NodeState<P>, now: number): void {
  s.seen.prune(now);
  expirePromises(s, now);
  expireBans(s, now);
  maintainMesh(s, now);
  lazyGossip(s, now);
}

/** gossipsub mesh upkeep: drop peers that scored below zero, graft up to D below D_lo, prune to D above D_hi. */
function maintainMesh<P>(s: NodeState<P>, now: number): void {
  const c = s.config;
  s.meshDirty = false;
  for (const [p, st] of s.peers) {
    if (st.inMesh && st.score < 0 && currentScore(st, now, c) < 0) {
      s.leaveMesh(st);
      st.backoffUntil = now + c.pruneBackoffMs;
      s.send(p, PRUNE);
    }
  }
  if (s.meshSize < c.meshDegreeLow) {
    const candidates: P[] = [];
    for (const [p, st] of s.peers)
      if (!st.inMesh && now >= st.backoffUntil && currentScore(st, now, c) >= 0) candidates.push(p);
    s.rng.shuffle(candidates);
    for (const p of candidates) {
      if (s.meshSize >= c.meshDegree) break;
      s.joinMesh(s.peers.get(p) as PeerState);
      s.send(p, GRAFT);
    }
  } else if (s.meshSize > c.meshDegreeHigh) {
    // Keep the best-scored D; equal scores are broken at random, not by connection order.
    const members = s.rng.shuffle(s.meshPeers());
    const score = new Map(members.map((p) => [p, currentScore(s.peers.get(p) as PeerState, now, c)]));
    members.sort((a, b) => (score.get(b) as number) - (score.get(a) as number));
    for (const p of members.slice(c.meshDegree)) {
      const st = s.peers.get(p) as PeerState;
      s.leaveMesh(st);
      st.backoffUntil = now + c.pruneBackoffMs;
      s.send(p, PRUNE);
    }
  }
}

/**
 * Lazy push: tell up to D_lazy non-mesh peers, not known to have it, which recent releases we
 * hold; they pull with IWANT what they miss. This is what repairs the holes left by lost
 * messages and by mesh peers that swallow announcements.
 */
function lazyGossip<P>(s: NodeState<P>, now: number): void {
  if (s.recent.size === 0) return;
  const c = s.config;
  let batches: Map<P, MessageOf<'ihave'>['items']> | undefined;
  for (const [id, left] of s.recent) {
    if (left <= 1) s.recent.delete(id);
    else s.recent.set(id, left - 1);
    const held = s.releases.get(id) ?? s.objects.get(id);
    if (!held || held.relayTtl < 0) continue;
    const candidates: P[] = [];
    for (const [p, st] of s.peers)
      if (!st.inMesh && !held.knownHave.has(p) && currentScore(st, now, c) >= c.gossipThreshold)
        candidates.push(p);
    for (const p of s.rng.sample(candidates, c.lazyDegree)) {
      held.knownHave.add(p);
      batches ??= new Map();
      let items = batches.get(p);
      if (!items) {
        items = [];
        batches.set(p, items);
      }
      if (items.length < MAX_IDS_PER_MESSAGE)
        items.push(
          'announcement' in held ? { id, version: held.announcement.version } : { kind: held.kind, id },
        );
    }
  }
  if (batches) for (const [p, items] of batches) s.send(p, { format: GOSSIP_FORMAT, type: 'ihave', items });
}

/** Push-pull with one random peer: our digest out; the peer asks for what it lacks and answers
 * with its own digest if it holds something newer, which we then ask for. */
function antiEntropy<P>(s: NodeState<P>, now: number): void {
  const n = s.peers.size;
  if (n === 0) return;
  let k = s.rng.int(n);
  for (const [p, st] of s.peers) {
    if (k-- > 0) continue;
    // A peer we no longer listen to is not asked either; the next period picks another.
    if (st.score < 0 && currentScore(st, now, s.config) < s.config.gossipThreshold) return;
    s.objects.rotate();
    s.send(p, { format: GOSSIP_FORMAT, type: 'digest', digest: s.digest(), reply: false });
    return;
  }
}

function expirePromises<P>(s: NodeState<P>, now: number): void {
  if (s.promised.size === 0) return;
  for (const peer of s.promised.expire(now)) {
    const st = s.peers.get(peer);
    if (!st) continue;
    st.promises--;
    s.stats.brokenPromises++;
    s.penalize(now, peer, st, s.config.scoreBrokenPromise, 'E_TIMEOUT', 'broken-promise');
  }
}

function expireBans<P>(s: NodeState<P>, now: number): void {
  if (!s.banned) return;
  for (const [p, until] of s.banned.entries()) if (until <= now) s.banned.delete(p);
}
