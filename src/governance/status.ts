/**
 * What `dchat governance status` shows of one proposal: tally against quorum and threshold,
 * approving stake, blocks and time left, the certificate once held, and the stake ready (signed
 * readiness notes, notes.ts). A certified proposal shows the certificate's own tally, so every
 * node holding the certificate shows the same.
 */

import type { Readiness, RollbackNote } from '../model/activation-notes.ts';
import type { Approval, Certificate, Proposal, Vote } from '../model/governance.ts';
import type { ProposalStatus } from '../model/governance-control.ts';
import { approvingStake } from './approval.ts';
import type { ApprovedPlan } from './certificate.ts';
import type { TrustedGenesis } from './genesis.ts';
import { readyStake } from './notes.ts';
import { type ChainPoint, votingEnd, votingEnded } from './proposal.ts';
import { type TallyResult, tally } from './tally.ts';
import { heldCommitment } from './tally-commitment.ts';

export interface HeldCertificate {
  id: string;
  certificate: Certificate;
  plan: ApprovedPlan;
}

export function proposalStatus(
  g: TrustedGenesis,
  p: Proposal,
  id: string,
  votes: readonly Vote[],
  approvals: readonly Approval[],
  cert: HeldCertificate | undefined,
  now: ChainPoint,
  readiness: readonly Readiness[] = [],
  rollbacks: readonly RollbackNote[] = [],
): ProposalStatus {
  const end = votingEnd(p);
  const params = g.body.params;
  let t: TallyResult;
  let stake: number;
  if (cert) {
    t = cert.plan.tally;
    stake = cert.plan.approving_stake;
  } else {
    t = tally(g, p, id, votes);
    stake = approvingStake(g, p, id, approvals).approving_stake;
  }
  const approvalReached =
    g.totalStake > 0 && BigInt(stake) * 10_000n >= BigInt(g.approvalBps) * BigInt(g.totalStake);
  const ended = votingEnded(p, now);
  const commitment = ended && !cert ? heldCommitment(g, p, id, votes).commitment : null;
  const attesting = cert
    ? cert.plan.approving_stake
    : commitment
      ? approvingStake(g, p, id, approvals, commitment).approving_stake
      : 0;
  const ready = readyStake(g, p, id, readiness, rollbacks);
  return {
    id,
    title: p.title,
    version: p.version,
    fork: p.fork,
    min_compatible_version: p.min_compatible_version,
    proposer: p.proposer,
    activation_height: p.activation_height,
    ipfs_cid: p.ipfs_cid,
    mirrors: p.mirrors.map((m) => m.uri),
    status: cert ? 'approved' : !ended ? 'voting' : t.passed ? 'passed' : 'rejected',
    submit_time_ms: p.submit_time_ms,
    submit_height: p.submit_height,
    voting_end_time_ms: end.time_ms,
    voting_end_height: end.height,
    blocks_left: end.height !== null && now.height !== null ? Math.max(0, end.height - now.height) : null,
    time_left_ms: Math.max(0, end.time_ms - now.time_ms),
    tally: {
      yes: t.yes,
      no: t.no,
      abstain: t.abstain,
      voted: t.voted,
      total_weight: t.total_weight,
      voters: t.voters,
      quorum: params.quorum,
      threshold: params.threshold,
      quorum_reached: t.quorum_reached,
      passed: t.passed,
    },
    approving_stake: stake,
    total_stake: g.totalStake,
    approval_threshold: params.approval_threshold,
    approval_reached: approvalReached,
    tally_commitment: commitment,
    attesting_stake: attesting,
    certificate: cert ? { id: cert.id, certificate: cert.certificate } : null,
    ready_stake: ready.ready_stake,
    ready_share: ready.ready_share,
    ready_validators: ready.validators,
  };
}
