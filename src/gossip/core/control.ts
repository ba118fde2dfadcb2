/**
 * The control messages of the mesh protocol (node.ts dispatches to these): admission of a message
 * (size cap, rate limit, graylist), IHAVE (pull what we lack), HELLO (the connection handshake),
 * GRAFT/PRUNE (mesh membership), DIGEST (anti-entropy: ask for what we lack, answer with ours if
 * we hold more) and MIRRORS. Flooding (the seed's protocol) never gets here past admission.
 */
import type { DownloadSource } from '../../model/download-source.ts';
import { type Digest, GOSSIP_FORMAT, type MessageOf, type SignedObjectKind } from './messages.ts';
import { GRAFT, type NodeState, PRUNE } from './node-state.ts';
import { admit, currentScore, type PeerState } from './peer-state.ts';

/** Size cap, rate limit and graylist, before anything is looked at. */
export function admitFrom<P>(s: NodeState<P>, now: number, peer: P, bytes: number): PeerState | undefined {
  const st = s.peers.get(peer);
  if (!st) {
    s.stats.strangers++;
    return undefined;
  }
  const c = s.config;
  if (bytes > c.maxMessageBytes) {
    s.stats.tooLarge++;
    s.penalize(now, peer, st, c.scoreTooLarge, 'E_TOO_LARGE', 'too-large');
    return undefined;
  }
  if (!admit(st, now, bytes, c)) {
    s.stats.rateLimited++;
    s.penalize(now, peer, st, c.scoreRateLimited, 'E_BUSY', 'rate-limited');
    return undefined;
  }
  if (st.score !== 0 && currentScore(st, now, c) < c.graylistThreshold) {
    s.stats.graylisted++;
    return undefined;
  }
  return st;
}

export function onIhave<P>(
  s: NodeState<P>,
  now: number,
  peer: P,
  st: PeerState,
  m: MessageOf<'ihave'>,
): void {
  if (currentScore(st, now, s.config) < s.config.gossipThreshold) return;
  let ids: string[] | undefined;
  let objectIds: Map<SignedObjectKind, string[]> | undefined;
  for (const it of m.items) {
    if (it.kind !== undefined && it.kind !== 'release') {
      const heldObject = s.objects.get(it.id);
      if (heldObject) {
        heldObject.knownHave.add(peer);
        continue;
      }
      if (!s.validateObject || s.promised.has(it.id) || s.seen.has(it.id, now)) continue;
      if (!s.promise(now, peer, st, it.id)) break;
      objectIds ??= new Map();
      const list = objectIds.get(it.kind) ?? [];
      list.push(it.id);
      objectIds.set(it.kind, list);
      continue;
    }
    const held = s.releases.get(it.id);
    if (held) {
      held.knownHave.add(peer);
      continue;
    }
    if (s.promised.has(it.id) || s.seen.has(it.id, now) || !s.releases.isNewer(it.version)) continue;
    if (!s.promise(now, peer, st, it.id)) break;
    ids ??= [];
    ids.push(it.id);
  }
  if (ids) s.send(peer, { format: GOSSIP_FORMAT, type: 'iwant', ids });
  if (objectIds)
    for (const [kind, list] of objectIds)
      s.send(peer, { format: GOSSIP_FORMAT, type: 'iwant', kind, ids: list });
}

export function onHello<P>(
  s: NodeState<P>,
  now: number,
  peer: P,
  st: PeerState,
  m: MessageOf<'hello'>,
): void {
  if (m.graft) onGraft(s, now, peer, st);
  if (m.mirrors.length > 0) learnMirrors(s, peer, m.mirrors);
  if (st.helloSent) {
    // Both sides sent a HELLO: each already told the other everything; nothing to answer.
    onDigest(s, now, peer, st, m.digest, true);
    return;
  }
  // We are the listener: say only what the dialer does not know. Our own mesh intent...
  const c = s.config;
  if (!st.inMesh && !m.graft && s.meshSize < c.meshDegree && now >= st.backoffUntil) {
    s.joinMesh(st);
    s.send(peer, GRAFT);
  }
  // ...our mirrors, if we use any worth passing on...
  const mirrors = s.book.shareable();
  if (mirrors.length > 0) s.send(peer, { format: GOSSIP_FORMAT, type: 'mirrors', sources: [...mirrors] });
  // ...and our digest only if we hold something newer than the dialer (onDigest decides).
  onDigest(s, now, peer, st, m.digest, false);
}

export function onGraft<P>(s: NodeState<P>, now: number, peer: P, st: PeerState): void {
  if (st.inMesh) return;
  const c = s.config;
  if (now < st.backoffUntil || s.meshSize >= c.meshDegreeHigh || currentScore(st, now, c) < 0) {
    s.send(peer, PRUNE);
    return;
  }
  s.joinMesh(st);
}

export function onPrune<P>(s: NodeState<P>, now: number, st: PeerState): void {
  if (st.inMesh) s.leaveMesh(st);
  st.backoffUntil = now + s.config.pruneBackoffMs;
}

export function onDigest<P>(
  s: NodeState<P>,
  now: number,
  peer: P,
  st: PeerState,
  d: Digest,
  isReply: boolean,
): void {
  let ids: string[] | undefined;
  for (const id of s.releases.missingFrom(d)) {
    if (s.promised.has(id) || s.seen.has(id, now)) continue;
    if (!s.promise(now, peer, st, id)) break;
    ids ??= [];
    ids.push(id);
  }
  if (ids) s.send(peer, { format: GOSSIP_FORMAT, type: 'want', ids });
  if (s.validateObject && d.objects && d.objects.length > 0) {
    const wanted = new Map<SignedObjectKind, string[]>();
    for (const o of d.objects) {
      if (s.objects.get(o.id) || s.promised.has(o.id) || s.seen.has(o.id, now)) continue;
      if (!s.promise(now, peer, st, o.id)) break;
      const list = wanted.get(o.kind) ?? [];
      list.push(o.id);
      wanted.set(o.kind, list);
    }
    for (const [kind, list] of wanted) s.send(peer, { format: GOSSIP_FORMAT, type: 'want', kind, ids: list });
  }
  if (!isReply && (s.releases.hasNewerThan(d) || s.objects.hasUnlisted(d.objects)))
    s.send(peer, { format: GOSSIP_FORMAT, type: 'digest', digest: s.digest(), reply: true });
}

export function learnMirrors<P>(s: NodeState<P>, peer: P, sources: readonly DownloadSource[]): void {
  if (s.book.learn(peer, sources) > 0) s.emit({ type: 'mirrors-changed' });
}
