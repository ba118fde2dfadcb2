/**
 * What `dchat governance status` shows of one proposal: tally against quorum and threshold,
 * approving stake, blocks and time left, the certificate once held, and the stake ready (signed
 * readiness notes, notes.ts). A certified proposal shows the certificate's own tally, so every
 * node holding the certificate shows the same.
 */

import type { Readiness, RollbackNote } from '../model/activation-notes.ts';
import {
  type AnyProposal,
  type Approval,
  type Certificate,
  isGenesisProposal,
  type Vote,
} from '../model/governance.ts';
import type { ProposalStatus } from '../model/governance-control.ts';
import { approvingStake } from './approval.ts';
import type { ApprovedPlan } from './certificate.ts';
import { genesisHash, type TrustedGenesis } from './genesis.ts';
import { readyStake } from './notes.ts';
import { type ChainPoint, votingEnd, votingEnded } from './proposal.ts';
import { type TallyResult, tally } from './tally.ts';
import { heldCommitment } from './tally-commitment.ts';

export interface HeldCertificate {
  id: string;
  certificate: Certificate;
  plan: ApprovedPlan;
}

/** A held certificate as status shows it (an upgrade's or a genesis change's). */
export interface CertifiedView {
  id: string;
  certificate: Certificate;
  plan: { tally: TallyResult; approving_stake: number };
}

/**
 * A genesis change shows as a proposal of kind `genesis` that names no release (version 0.0.0 at
 * height 0, as its approvals sign) and the proposed genesis version and hash.
 */
function shape(p: AnyProposal) {
  if (isGenesisProposal(p))
    return {
      kind: 'genesis' as const,
      version: '0.0.0',
      fork: 'hard' as const,
      min_compatible_version: '0.0.0',
      activation_height: 0,
      ipfs_cid: '',
      mirrors: [],
      genesis: { version: p.genesis.signed.version, hash: genesisHash(p.genesis.signed) },
    };
  return {
    kind: 'upgrade' as const,
    version: p.version,
    fork: p.fork,
    min_compatible_version: p.min_compatible_version,
    activation_height: p.activation_height,
    ipfs_cid: p.ipfs_cid,
    mirrors: p.mirrors.map((m) => m.uri),
    genesis: null,
  };
}

export function proposalStatus(
  g: TrustedGenesis,
  p: AnyProposal,
  id: string,
  votes: readonly Vote[],
  approvals: readonly Approval[],
  cert: CertifiedView | undefined,
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
  // A genesis change names no release: nobody is ready for one.
  const ready = isGenesisProposal(p)
    ? readyStake(g, { version: '0.0.0', release_sha256: '', activation_height: 0 }, id, [])
    : readyStake(g, p, id, readiness, rollbacks);
  return {
    id,
    title: p.title,
    ...shape(p),
    proposer: p.proposer,
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
