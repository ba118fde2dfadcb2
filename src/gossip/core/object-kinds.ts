/**
 * The replay rule of each signed object kind (releases have theirs in releases.ts: only a newer
 * version is taken). Every object sits in a slot; a slot holds one object, and a newcomer for a
 * taken slot is accepted only if it supersedes the holder (then the holder is dropped). A copy
 * that does not supersede is a replay: ignored without penalty, never relayed. Because every
 * rule is a total order, nodes that saw the same objects in any order hold the same one per slot.
 */

import { MAX_NOTES_HELD } from '../../model/activation-notes.ts';
import { attestationSlotOf } from '../../model/attestation.ts';
import { MAX_VALIDATORS } from '../../model/beacon.ts';
import type { SignedObjectKind, SignedObjectOf } from './messages.ts';

/** The slot of the certified beacon: listed first in digests, so a late node catches up at once. */
export const BEACON_TIP_SLOT = 'tip';

export interface KindRule<K extends SignedObjectKind> {
  /** Objects of one slot compete; the key is only compared, never shown. */
  slot(object: SignedObjectOf<K>, id: string): string;
  /** True if `a` (id `aId`) replaces `b` (id `bId`) in their slot. */
  supersedes(a: SignedObjectOf<K>, aId: string, b: SignedObjectOf<K>, bId: string): boolean;
  /** Held at most (oldest dropped first): bounds memory whatever peers send. */
  maxHeld: number;
}

export type KindRules = { [K in SignedObjectKind]: KindRule<K> };

/** Later signed time wins; equal times are decided by the id, so every node decides alike. */
function later(aTime: number, aId: string, bTime: number, bId: string): boolean {
  return aTime > bTime || (aTime === bTime && aId < bId);
}

export const KIND_RULES: KindRules = {
  // Each proposal is its own slot: two proposals are two decisions.
  proposal: { slot: (_p, id) => id, supersedes: () => false, maxHeld: 256 },
  // A holder's latest vote on a proposal counts once (x/gov: a new vote replaces the old one).
  vote: {
    slot: (v) => `${v.proposal_id}:${v.voter}`,
    supersedes: (a, aId, b, bId) => later(a.time_ms, aId, b.time_ms, bId),
    maxHeld: 8192,
  },
  approval: {
    slot: (a) => `${a.proposal_id}:${a.validator}`,
    supersedes: (a, aId, b, bId) => later(a.time_ms, aId, b.time_ms, bId),
    maxHeld: 2048,
  },
  // One certificate per proposal: the one carrying more signatures wins (the most complete
  // record of the vote), then the lowest id, so all nodes settle on the same certificate.
  certificate: {
    slot: (c) => `${c.network_id}:${c.proposal.signature}`,
    supersedes: (a, aId, b, bId) => {
      const na = a.votes.length + a.approvals.length;
      const nb = b.votes.length + b.approvals.length;
      return na > nb || (na === nb && aId < bId);
    },
    maxHeld: 256,
  },
  // Height beacons (governance/beacon-book.ts): a validator's own beacon (one signature) sits in
  // that validator's slot, its latest height winning; a certified beacon (a quorum of signatures,
  // which the node's check requires) in the one tip slot: the highest height wins, then the one
  // with more signatures, then the lowest id.
  beacon: {
    slot: (b) => (b.signatures.length === 1 ? `v:${b.signatures[0]?.validator}` : BEACON_TIP_SLOT),
    supersedes: (a, aId, b, bId) =>
      a.height > b.height ||
      (a.height === b.height &&
        (a.signatures.length > b.signatures.length ||
          (a.signatures.length === b.signatures.length && aId < bId))),
    maxHeld: MAX_VALIDATORS + 1,
  },
  // Rebuild attestations: one per builder and package, the latest signed one winning (a builder
  // that rebuilt again replaces its older statement), then the lowest id.
  attestation: {
    slot: (e, id) => {
      const k = attestationSlotOf(e);
      return k ? `${k.target}:${k.builder}` : id;
    },
    supersedes: (a, aId, b, bId) => {
      const ta = attestationSlotOf(a)?.time ?? '';
      const tb = attestationSlotOf(b)?.time ?? '';
      return ta > tb || (ta === tb && aId < bId);
    },
    maxHeld: 4096,
  },
  // Activation notes (governance/notes.ts): one readiness and one rollback note per signer, its
  // latest signed one winning, then the lowest id. The host caps signers that are not validators
  // below maxHeld, so validators' notes are never the ones dropped.
  readiness: {
    slot: (r) => r.signer,
    supersedes: (a, aId, b, bId) => later(a.time_ms, aId, b.time_ms, bId),
    maxHeld: MAX_NOTES_HELD,
  },
  rollback: {
    slot: (r) => r.signer,
    supersedes: (a, aId, b, bId) => later(a.time_ms, aId, b.time_ms, bId),
    maxHeld: MAX_NOTES_HELD,
  },
};
