/**
 * The check the gossip core runs on every governance object before it is accepted or relayed
 * (the core's ValidateObject, built on the rules of this directory). The id must be the object's
 * hash; then each kind's rules against the pinned genesis. A vote or approval whose proposal the
 * node does not hold yet is refused with E_NOT_FOUND, which costs the sender nothing: it is
 * fetched again by anti-entropy once the proposal is here. A certificate is verified offline
 * (verifyCertificate) alone: votes the node holds beyond those it lists do not make it refuse a
 * certificate whose tally 2/3 of stake attested (tally-commitment.ts), so honest nodes agree.
 */
import {
  type AnyProposal,
  type Approval,
  type Certificate,
  type GovernanceKind,
  isGenesisProposal,
  type Vote,
} from '../model/governance.ts';
import { approvalMatches, checkApproval } from './approval.ts';
import { verifyCertificate } from './certificate.ts';
import { genesisHash, type TrustedGenesis } from './genesis.ts';
import { type GenesisChange, verifyGenesisChange } from './genesis-change.ts';
import { type ChainPoint, checkProposal, checkReleaseBinding, type SignedTargets } from './proposal.ts';
import { objectId } from './signing.ts';
import { checkVote, voteCounts } from './tally.ts';
import { refuse, type Verdict } from './verdict.ts';

export interface ObjectCheckContext {
  /** The held proposal of this id, if any. */
  proposal(id: string): AnyProposal | undefined;
  /** A genesis this node pinned before the current one, by hash (the chain of genesis changes). */
  pastGenesis?(hash: string): TrustedGenesis | undefined;
  /** True if a key held tokens or stake in a genesis this node pinned before, not in the current one. */
  pastMember?(publicKey: string): boolean;
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
        const p = object as AnyProposal;
        const v = checkProposal(g, p);
        if (!v.ok) return stale(v, v.code === 'E_ROLLBACK' && isPastStep(g, ctx, p)) ?? v;
        if (future(p.submit_time_ms)) return refuse('E_BUSY', 'proposal dated in the future; taken later');
        if (isGenesisProposal(p)) return { ok: true };
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
        if (!c.ok) return stale(c, c.code === 'E_UNTRUSTED_KEY' && ctx.pastMember?.(v.voter) === true) ?? c;
        const p = ctx.proposal(v.proposal_id);
        if (!p) return refuse('E_NOT_FOUND', 'vote for a proposal not held yet');
        if (future(v.time_ms)) return refuse('E_BUSY', 'vote dated in the future; taken later');
        return voteCounts(p, v.proposal_id, v);
      }
      case 'approval': {
        const a = object as Approval;
        const c = checkApproval(g, a);
        if (!c.ok)
          return stale(c, c.code === 'E_UNTRUSTED_KEY' && ctx.pastMember?.(a.validator) === true) ?? c;
        const p = ctx.proposal(a.proposal_id);
        if (!p) return refuse('E_NOT_FOUND', 'approval for a proposal not held yet');
        if (future(a.time_ms)) return refuse('E_BUSY', 'approval dated in the future; taken later');
        return approvalMatches(p, a.proposal_id, a);
      }
      case 'certificate': {
        const cert = object as Certificate;
        if (isGenesisProposal(cert.proposal)) return checkGenesisStep(g, ctx, cert);
        const r = verifyCertificate(g, cert);
        if (!r.ok) return stale(r, ctx.pastGenesis?.(cert.genesis_hash) !== undefined) ?? r;
        return { ok: true, proof: r.plan };
      }
      default:
        return refuse('E_UNSUPPORTED', `not a governance object kind: ${String(kind).slice(0, 20)}`);
    }
  };
}

/**
 * An object of a genesis this node has moved past (an earlier genesis proposal, a vote by a
 * removed holder, a certificate counted against an older genesis): honest peers that saw it
 * before the change still hold and offer it, so it is dropped as E_CHAIN_MISMATCH, which is not
 * held against them, instead of a security refusal that would cost them their score.
 */
/** A genesis proposal of a step this node already took (its genesis is pinned now or was before). */
function isPastStep(g: TrustedGenesis, ctx: ObjectCheckContext, p: AnyProposal): boolean {
  if (!isGenesisProposal(p) || !ctx.pastGenesis) return false;
  const h = genesisHash(p.genesis.signed);
  return h === g.hash || ctx.pastGenesis(h) !== undefined;
}

function stale(v: Extract<Verdict, { ok: false }>, isStale: boolean): ObjectVerdict | undefined {
  return isStale
    ? refuse('E_CHAIN_MISMATCH', `of a genesis this node has moved past: ${v.reason}`)
    : undefined;
}

/** What the check proves of a genesis-change certificate (the node moves on `current` ones). */
export interface GenesisStepProof {
  genesisStep: GenesisChange;
  /** True: the step from the pinned genesis (move on); false: an earlier step of this node's chain. */
  current: boolean;
}

/**
 * A genesis-change certificate: the step from the pinned genesis is verified against it; an
 * earlier step of this node's own chain (certified under a genesis it pinned before, to one it
 * pinned since) is held and relayed, so nodes still behind can walk the chain; any other is
 * E_NOT_FOUND (this node does not hold that genesis, at least not yet), which costs nobody.
 */
function checkGenesisStep(g: TrustedGenesis, ctx: ObjectCheckContext, cert: Certificate): ObjectVerdict {
  if (cert.network_id !== g.networkId)
    return refuse('E_WRONG_NETWORK', `certificate is for network ${cert.network_id}, this is ${g.networkId}`);
  const current = cert.genesis_hash === g.hash;
  const base = current ? g : ctx.pastGenesis?.(cert.genesis_hash);
  if (!base)
    return refuse('E_NOT_FOUND', 'a genesis change certified under a genesis this node does not hold');
  const r = verifyGenesisChange(base, cert);
  if (!r.ok) return r;
  if (!current && r.change.next.hash !== g.hash && !ctx.pastGenesis?.(r.change.next.hash))
    return refuse('E_NOT_FOUND', 'a genesis change off the chain this node followed');
  const proof: GenesisStepProof = { genesisStep: r.change, current };
  return { ok: true, proof };
}
