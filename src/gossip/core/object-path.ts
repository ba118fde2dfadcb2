/**
 * The signed-object path of a gossip node (node.ts): governance objects, attestations, beacons.
 * It is the release path (release-path.ts) with the kind's replay rule (object-kinds.ts) in place
 * of "newer version": dedupe by id -> replay (the slot holds an object this one does not
 * supersede: ignore) -> validation budget -> validate -> accept (the superseded one is dropped)
 * -> relay ttl-1. Also what a node checks of an object it offers itself, and how it answers
 * IWANT/WANT for objects.
 */
import { isSecurityCode } from '../../errors.ts';
import type { AcceptedVia, ValidationResult } from './actions.ts';
import { mayServe, pushHeld } from './held-push.ts';
import {
  GOSSIP_FORMAT,
  type GossipMessage,
  type ObjectMessage,
  type SignedObject,
  type SignedObjectKind,
} from './messages.ts';
import type { NodeState } from './node-state.ts';
import type { HeldObject } from './objects.ts';
import { addScore, admitValidation, type PeerState } from './peer-state.ts';

export function onObject<P>(
  s: NodeState<P>,
  now: number,
  from: P,
  st: PeerState,
  m: ObjectMessage,
  via: AcceptedVia,
): void {
  if (s.promised.size > 0) s.settlePromise(m.id);
  // An answer with the successor of what we asked for keeps the promise, unless it fails its check.
  const answered = () => {
    if (m.answers !== undefined && s.promised.size > 0) s.settleAnswer(m.answers, from);
  };
  if (s.seen.has(m.id, now) || s.objects.get(m.id)) {
    s.stats.duplicates++;
    if (s.config.mode === 'mesh') s.objects.get(m.id)?.knownHave.add(from);
    answered();
    return;
  }
  if (!s.validateObject) return;
  if (s.objects.standing(m.kind, m.object, m.id) === 'replay') {
    s.stats.replaysIgnored++;
    answered();
    return;
  }
  const c = s.config;
  if (!admitValidation(st, now, c)) {
    s.stats.validateRateLimited++;
    s.penalize(now, from, st, c.scoreRateLimited, 'E_BUSY', 'validate-rate-limited');
    return;
  }
  const v = s.checkObject(m.kind, m.id, m.object);
  if (!v.ok) {
    s.stats.invalid++;
    if (isSecurityCode(v.code)) s.penalize(now, from, st, c.scoreInvalid, v.code, 'invalid');
    return;
  }
  answered();
  if (st.firstDeliveries < c.scoreFirstDeliveryCap) {
    st.firstDeliveries++;
    addScore(st, now, c.scoreFirstDelivery, c);
  }
  const ttl = Math.min(m.ttl, c.maxTtl);
  const h = acceptObject(s, now, m.kind, m.id, m.object, ttl - 1, from, via, v.proof);
  h.knownHave.add(from);
  if (h.relayTtl >= 0) relayObject(s, now, h, from, false);
}

/** What `publishObject` and `adoptObject` check of an object the node itself offers: an id not
 * used before, not superseded by what it holds, then the full check. */
export function checkLocalObject<P>(
  s: NodeState<P>,
  now: number,
  kind: SignedObjectKind,
  id: string,
  object: SignedObject,
): ValidationResult {
  if (s.seen.has(id, now) || s.objects.get(id))
    return { ok: false, code: 'E_MALFORMED', reason: `${kind} ${id} already held` };
  if (s.objects.standing(kind, object, id) === 'replay')
    return { ok: false, code: 'E_ROLLBACK', reason: `a newer ${kind} for the same slot is held` };
  return s.checkObject(kind, id, object);
}

/**
 * `serveReleases` for signed objects: the same once-per-connection rules. An id we held but which
 * was superseded since (a height beacon every block interval) is answered with its successor,
 * naming the id asked for, once per peer: so the asker's promise holds and it gets the newer one.
 */
export function serveObjects<P>(
  s: NodeState<P>,
  peer: P,
  ids: readonly string[],
  as: 'announce' | 'bundle',
): void {
  for (const id of ids) {
    const held = s.objects.get(id);
    if (!held) {
      const next = s.objects.successor(id);
      if (!next || next.answeredTo.has(peer)) continue;
      next.answeredTo.add(peer);
      next.knownHave.add(peer);
      s.send(peer, { ...objectMessage(as, next, Math.max(0, next.relayTtl)), answers: id } as GossipMessage);
      continue;
    }
    if (!mayServe(held, peer, as)) continue;
    s.send(peer, objectMessage(as, held, Math.max(0, held.relayTtl)));
  }
}

export function acceptObject<P>(
  s: NodeState<P>,
  now: number,
  kind: SignedObjectKind,
  id: string,
  object: SignedObject,
  relayTtl: number,
  from: P | undefined,
  via: AcceptedVia,
  proof: unknown,
): HeldObject<P> {
  s.seen.add(id, now);
  const slot = s.objects.slotOf(kind, object, id);
  const replaced = s.objects.list(kind).find((h) => h.slot === slot)?.id;
  const held = s.objects.add(kind, id, object, relayTtl, now);
  s.stats.accepted++;
  s.emit({ type: 'object', kind, id, object, replaced, from, via, proof });
  return held;
}

/** `relayRelease` for signed objects. */
export function relayObject<P>(
  s: NodeState<P>,
  now: number,
  held: HeldObject<P>,
  except: P | undefined,
  everyone: boolean,
): void {
  pushHeld(s, now, held, held.id, objectMessage('announce', held, held.relayTtl), except, everyone);
}

/** A held object on the wire with `ttl` hops. */
function objectMessage<P>(type: 'announce' | 'bundle', held: HeldObject<P>, ttl: number): GossipMessage {
  return {
    format: GOSSIP_FORMAT,
    type,
    kind: held.kind,
    id: held.id,
    object: held.object,
    ttl,
  } as GossipMessage;
}
