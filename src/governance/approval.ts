/**
 * Validator approval: validators of the genesis sign the proposal's id, version and activation
 * height, and, once voting has ended, the tally they saw (tally-commitment.ts). While voting is
 * open a hard fork's approval is consent only (`tally: null`); a certificate needs approvals that
 * attest its own tally from validators holding at least `approval_threshold` (the seed's 67%) of
 * all stake, for a hard fork (consent and commit) and a soft fork (commit) alike. The approving
 * stake is the sum of distinct validators' stakes.
 */
import {
  type AnyProposal,
  APPROVAL_FORMAT,
  type Approval,
  isGenesisProposal,
  type TallyCommitment,
} from '../model/governance.ts';
import { atLeastShare, type TrustedGenesis } from './genesis.ts';
import { objectId, verifyObject } from './signing.ts';
import { sameCommitment } from './tally-commitment.ts';
import { OK, refuse, type Verdict } from './verdict.ts';

export function checkApproval(g: TrustedGenesis, a: Approval): Verdict {
  if (a.network_id !== g.networkId)
    return refuse('E_WRONG_NETWORK', `approval is for network ${a.network_id}, this is ${g.networkId}`);
  if (!g.validatorIndex.has(a.validator))
    return refuse('E_UNTRUSTED_KEY', 'the approver is not a validator of the genesis');
  if (!verifyObject(a.validator, a)) return refuse('E_SIGNATURE', "the approval's signature does not verify");
  return OK;
}

/**
 * What an approval names besides the proposal id: an upgrade's version and activation height; a
 * genesis change names no release (0.0.0 at height 0): its proposal id binds the new genesis.
 */
export function approvalTarget(p: AnyProposal): { version: string; activation_height: number } {
  return isGenesisProposal(p)
    ? { version: '0.0.0', activation_height: 0 }
    : { version: p.version, activation_height: p.activation_height };
}

/** Whether a genuine approval is for exactly this proposal (id, version and height). */
export function approvalMatches(p: AnyProposal, proposalId: string, a: Approval): Verdict {
  if (a.proposal_id !== proposalId) return refuse('E_WRONG_TARGET', 'the approval is for another proposal');
  const t = approvalTarget(p);
  if (a.version !== t.version || a.activation_height !== t.activation_height)
    return refuse('E_VERSION_MISMATCH', 'the approval names another version or activation height');
  return OK;
}

export interface ApprovalResult {
  approving_stake: number;
  total_stake: number;
  approved: boolean;
  /** Validator indexes that approved, ascending. */
  validators: number[];
  /** The approval of each, in the same order. */
  approvals: Approval[];
}

/**
 * Approving stake of `approvals` (any order; forged, foreign and repeated ones count nothing).
 * With `commitment`, only approvals attesting exactly that tally count; without, any approval.
 */
export function approvingStake(
  g: TrustedGenesis,
  p: AnyProposal,
  proposalId: string,
  approvals: readonly Approval[],
  commitment?: TallyCommitment,
): ApprovalResult {
  const by = new Map<number, { a: Approval; id: string }>();
  for (const a of approvals) {
    if (commitment !== undefined && !sameCommitment(a.tally, commitment)) continue;
    if (!checkApproval(g, a).ok || !approvalMatches(p, proposalId, a).ok) continue;
    const i = g.validatorIndex.get(a.validator) as number;
    const id = objectId(a);
    const held = by.get(i);
    // One per validator; which one is kept is decided like votes, so the result is order-free.
    if (!held || a.time_ms > held.a.time_ms || (a.time_ms === held.a.time_ms && id < held.id))
      by.set(i, { a, id });
  }
  const validators = [...by.keys()].sort((x, y) => x - y);
  let stake = 0;
  for (const i of validators) stake += g.body.validators[i]?.stake ?? 0;
  return {
    approving_stake: stake,
    total_stake: g.totalStake,
    approved: g.totalStake > 0 && atLeastShare(stake, g.totalStake, g.approvalBps),
    validators,
    approvals: validators.map((i) => (by.get(i) as { a: Approval }).a),
  };
}

/** An approval as signed, rebuilt from its compact form in a certificate. */
export function expandApproval(
  g: TrustedGenesis,
  p: AnyProposal,
  proposalId: string,
  c: { validator: number; time_ms: number; signature: string },
  tally: TallyCommitment,
): Approval | undefined {
  const v = g.body.validators[c.validator];
  if (!v) return undefined;
  return {
    format: APPROVAL_FORMAT,
    network_id: g.networkId,
    proposal_id: proposalId,
    ...approvalTarget(p),
    validator: v.public_key,
    time_ms: c.time_ms,
    tally,
    signature: c.signature,
  };
}
