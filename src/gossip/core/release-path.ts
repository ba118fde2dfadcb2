/**
 * The release-announcement path of a gossip node (node.ts), in order, cheapest check first:
 *   dedupe by id -> replay (version <= highest: ignore) -> the sender's validation budget ->
 *   validate (the TUF check, synchronous; failure: drop, no relay, score down) -> accept ->
 *   relay ttl-1 (the hop rule: a copy received with ttl t goes on with t-1; one received with
 *   ttl 0 is kept, never passed on).
 * Also what a node checks of a release it offers itself, and how it answers IWANT/WANT for one.
 * Rate limit, size cap and graylist come before this, in GossipNode.receive.
 */
import { isSecurityCode } from '../../errors.ts';
import type { VersionAnnouncement } from '../../model/announcement.ts';
import type { AcceptedVia, ValidationResult } from './actions.ts';
import { mayServe, pushHeld } from './held-push.ts';
import { GOSSIP_FORMAT, type GossipMessage } from './messages.ts';
import type { NodeState } from './node-state.ts';
import { addScore, admitValidation, type PeerState } from './peer-state.ts';
import type { HeldRelease } from './releases.ts';

export function onAnnouncement<P>(
  s: NodeState<P>,
  now: number,
  from: P,
  st: PeerState,
  a: VersionAnnouncement,
  via: AcceptedVia,
): void {
  // Any copy settles an IWANT/WANT for this id, even a duplicate: the promiser did answer.
  if (s.promised.size > 0) s.settlePromise(a.id);
  // Duplicates are most of the traffic: one lookup in `seen` (accepted ids are in it too).
  if (s.seen.has(a.id, now)) {
    s.stats.duplicates++;
    if (s.config.mode === 'mesh') s.releases.get(a.id)?.knownHave.add(from);
    return;
  }
  if (s.releases.get(a.id)) {
    s.stats.duplicates++;
    return;
  }
  if (!s.releases.isNewer(a.version)) {
    // A replay of an old or equal release: harmless, so ignored without penalty. Not added to
    // `seen` (it was not validated): an old version under a new release's id must not make us
    // drop the new release as a duplicate when it arrives.
    s.stats.replaysIgnored++;
    return;
  }
  const c = s.config;
  if (!admitValidation(st, now, c)) {
    s.stats.validateRateLimited++;
    s.penalize(now, from, st, c.scoreRateLimited, 'E_BUSY', 'validate-rate-limited');
    return;
  }
  const v = s.check(a);
  if (!v.ok) {
    // Not added to `seen`: an attacker who sends a forgery under a genuine announcement's id
    // must not make us drop the genuine one when it arrives.
    s.stats.invalid++;
    if (isSecurityCode(v.code)) s.penalize(now, from, st, s.config.scoreInvalid, v.code, 'invalid');
    return;
  }
  if (st.firstDeliveries < s.config.scoreFirstDeliveryCap) {
    st.firstDeliveries++;
    addScore(st, now, s.config.scoreFirstDelivery, s.config);
  }
  // Hop counting (seed: "TTL=5" at A becomes "TTL=4" at B): a copy received with ttl t is
  // passed on with t-1, and one received with ttl 0 is kept but never passed on.
  const ttl = Math.min(a.ttl, s.config.maxTtl);
  const h = acceptRelease(s, now, a, ttl - 1, from, via, v.proof);
  h.knownHave.add(from);
  if (h.relayTtl >= 0) relayRelease(s, now, h, from, false);
}

/**
 * What `publish` and `adopt` check of a release the node itself offers: newer than what it
 * holds, an id not used before, then the full check.
 */
export function checkLocalRelease<P>(
  s: NodeState<P>,
  now: number,
  announcement: VersionAnnouncement,
): ValidationResult {
  if (!s.releases.isNewer(announcement.version))
    return { ok: false, code: 'E_ROLLBACK', reason: `not newer than ${s.releases.highest}` };
  // Ids name announcements network-wide; reusing one would be taken for a duplicate everywhere.
  if (s.seen.has(announcement.id, now) || s.releases.get(announcement.id))
    return { ok: false, code: 'E_MALFORMED', reason: `announcement id ${announcement.id} already used` };
  return s.check(announcement);
}

/** Answers IWANT (with `announce`) or WANT (with `bundle`), once per peer each (held-push.ts). */
export function serveReleases<P>(
  s: NodeState<P>,
  peer: P,
  ids: readonly string[],
  as: 'announce' | 'bundle',
): void {
  for (const id of ids) {
    const held = s.releases.get(id);
    if (!held || !mayServe(held, peer, as)) continue;
    s.send(peer, {
      format: GOSSIP_FORMAT,
      type: as,
      kind: 'release',
      announcement: withTtl(held, Math.max(0, held.relayTtl)),
    });
  }
}

export function acceptRelease<P>(
  s: NodeState<P>,
  now: number,
  a: VersionAnnouncement,
  relayTtl: number,
  from: P | undefined,
  via: AcceptedVia,
  proof: unknown,
): HeldRelease<P> {
  s.seen.add(a.id, now);
  const held = s.releases.add(a, relayTtl, now);
  s.stats.accepted++;
  s.emit({ type: 'accepted', announcement: a, from, via, proof });
  return held;
}

/** Eager push of a newly accepted release: flooding sends it to every peer, the mesh protocol to
 * the mesh (or everyone, for our own publish), and queues it for lazy IHAVE. */
export function relayRelease<P>(
  s: NodeState<P>,
  now: number,
  held: HeldRelease<P>,
  except: P | undefined,
  everyone: boolean,
): void {
  const message: GossipMessage = {
    format: GOSSIP_FORMAT,
    type: 'announce',
    kind: 'release',
    announcement: withTtl(held, held.relayTtl),
  };
  pushHeld(s, now, held, held.announcement.id, message, except, everyone);
}

/** The announcement as we pass it on: same signed content, our hop budget. Cached per release. */
function withTtl<P>(held: HeldRelease<P>, ttl: number): VersionAnnouncement {
  const a = held.announcement;
  if (a.ttl === ttl) return a;
  const cached = held.outgoing;
  if (cached && cached.ttl === ttl) return cached;
  const copy = { ...a, ttl };
  held.outgoing = copy;
  return copy;
}
