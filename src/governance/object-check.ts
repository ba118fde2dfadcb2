/**
 * The check the gossip core runs on every governance object before it is accepted or relayed
 * (the core's ValidateObject, built on the rules of this directory). The id must be the object's
 * hash; then each kind's rules against the pinned genesis. A vote or approval whose proposal the
 * node does not hold yet is refused with E_NOT_FOUND, which costs the sender nothing: it is
 * fetched again by anti-entropy once the proposal is here. A certificate is verified offline
 * (verifyCertificate) alone: votes the node holds beyond those it lists do not make it refuse a
 * certificate whose tally 2/3 of stake attested (tally-commitment.ts), so honest nodes agree.
 */
import type { Approval, Certificate, GovernanceKind, Proposal, Vote } from '../model/governance.ts';
import { approvalMatches, checkApproval } from './approval.ts';
import { verifyCertificate } from './certificate.ts';
import type { TrustedGenesis } from './genesis.ts';
import { type ChainPoint, checkProposal, checkReleaseBinding, type SignedTargets } from './proposal.ts';
import { objectId } from './signing.ts';
import { checkVote, voteCounts } from './tally.ts';
import { refuse, type Verdict } from './verdict.ts';

export interface ObjectCheckContext {
  /** The held proposal of this id, if any. */
  proposal(id: string): Proposal | undefined;
  /** The node's current point (its clock; its height if it knows one). */
  now(): ChainPoint;
  /** The signed TUF targets the node trusts, if it has any (a proposal's release is checked against them). */
  targets?(): SignedTargets | undefined;
}

export type ObjectVerdict = { ok: true; proof?: unknown } | Extract<Verdict, { ok: false }>;

export function makeObjectCheck(
  g: TrustedGenesis,
  ctx: ObjectCheckContext,
): (kind: GovernanceKind, id: string, object: object) => ObjectVerdict {
  const skew = g.body.params.max_clock_skew_ms;
  const future = (t: number) => t > ctx.now().time_ms + skew;
  return (kind, id, object) => {
    if (objectId(object) !== id) return refuse('E_MALFORMED', `${kind} id is not the hash of the object`);
    switch (kind) {
      case 'proposal': {
        const p = object as Proposal;
        const v = checkProposal(g, p);
        if (!v.ok) return v;
        if (future(p.submit_time_ms)) return refuse('E_BUSY', 'proposal dated in the future; taken later');
        const t = ctx.targets?.();
        if (t) {
          const b = checkReleaseBinding(p, t);
          // A release newer than our trusted targets is taken (we cannot judge it yet); a mismatch is not.
          if (!b.ok && b.code === 'E_HASH_MISMATCH' && t.releases.some((r) => r.version === p.version))
            return b;
        }
        return { ok: true };
      }
      case 'vote': {
        const v = object as Vote;
        const c = checkVote(g, v);
        if (!c.ok) return c;
        const p = ctx.proposal(v.proposal_id);
        if (!p) return refuse('E_NOT_FOUND', 'vote for a proposal not held yet');
        if (future(v.time_ms)) return refuse('E_BUSY', 'vote dated in the future; taken later');
        return voteCounts(p, v.proposal_id, v);
      }
      case 'approval': {
        const a = object as Approval;
        const c = checkApproval(g, a);
        if (!c.ok) return c;
        const p = ctx.proposal(a.proposal_id);
        if (!p) return refuse('E_NOT_FOUND', 'approval for a proposal not held yet');
        if (future(a.time_ms)) return refuse('E_BUSY', 'approval dated in the future; taken later');
        return approvalMatches(p, a.proposal_id, a);
      }
      case 'certificate': {
        const cert = object as Certificate;
        const r = verifyCertificate(g, cert);
        if (!r.ok) return r;
        return { ok: true, proof: r.plan };
      }
      default:
        return refuse('E_UNSUPPORTED', `not a governance object kind: ${String(kind).slice(0, 20)}`);
    }
  };
}
