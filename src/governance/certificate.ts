/**
 * The approved-upgrade certificate: built by any node that holds a passing vote (and, for a hard
 * fork, enough approvals) once voting has ended; verified by any node alone, offline, against the
 * genesis it pinned. `verifyCertificate` is a pure function of (genesis, certificate): a
 * certificate verifies on every node that pinned the same genesis, or on none.
 *
 * What it proves: the proposal was signed by a holder with the minimum deposit; the votes in it
 * are genuine, one per holder, dated within the period, and reach quorum and the threshold; and
 * validators holding at least the approval share of stake signed this very proposal, version and
 * height together with the commitment of exactly these votes (tally-commitment.ts): for a hard
 * fork that is their consent and their attestation of the tally, for a soft fork the attestation.
 * It is bound to one network and one genesis (by hash) and names its version, so it cannot be
 * replayed for another network or version. Votes a node holds beyond those listed do not change
 * the verdict: the tally is the one 2/3 of stake attested (the trust assumption is written down
 * in tally-commitment.ts), so every node that pinned the genesis reaches the same verdict.
 */

import type { DownloadSource } from '../model/download-source.ts';
import {
  type AnyProposal,
  type Approval,
  CERTIFICATE_FORMAT,
  type Certificate,
  type ForkType,
  isGenesisProposal,
  type Proposal,
  type Vote,
} from '../model/governance.ts';
import { type ApprovalResult, approvingStake, expandApproval } from './approval.ts';
import type { TrustedGenesis } from './genesis.ts';
import { type ChainPoint, checkProposal, votingEnded } from './proposal.ts';
import { objectId } from './signing.ts';
import { countedVotes, expandVote, type TallyResult, tallyCounted } from './tally.ts';
import { tallyCommitment } from './tally-commitment.ts';
import { refuse, type Verdict } from './verdict.ts';

/**
 * What an approved upgrade tells the activation supervisor (x/upgrade's Plan, plus what dchat
 * needs to fetch and check the release): everything comes from the signed proposal.
 */
export interface ApprovedPlan {
  network_id: string;
  genesis_hash: string;
  proposal_id: string;
  certificate_id: string;
  version: string;
  fork: ForkType;
  activation_height: number;
  min_compatible_version: string;
  targets_hash: string;
  release_sha256: string;
  ipfs_cid: string;
  mirrors: DownloadSource[];
  tally: TallyResult;
  approving_stake: number;
  total_stake: number;
}

export type CertificateVerdict = { ok: true; plan: ApprovedPlan } | Extract<Verdict, { ok: false }>;

/** What the caller expects the certificate to be for (e.g. the version it is about to install). */
export interface CertificateExpectation {
  version?: string;
  proposal_id?: string;
}

/** Whether a proposal can be certified now, and the certificate if so. */
export type BuildResult =
  | { ok: true; certificate: Certificate; id: string; plan: ApprovedPlan }
  | Extract<Verdict, { ok: false }>;

/**
 * Builds the certificate of `proposal` from the votes and approvals a node holds, if voting has
 * ended at `now`, the vote passed, and validators holding enough stake attested the tally of
 * exactly the votes this node counts. Votes and approvals are listed in holder and validator
 * order, so builders holding the same objects build the same certificate.
 */
export function buildCertificate(
  g: TrustedGenesis,
  proposal: Proposal,
  votes: readonly Vote[],
  approvals: readonly Approval[],
  now: ChainPoint,
): BuildResult {
  const b = buildSigned(g, proposal, votes, approvals, now);
  if (!b.ok) return b;
  return {
    ok: true,
    certificate: b.certificate,
    id: b.id,
    plan: planOf(g, proposal, b.id, b.proposalId, b.tally, b.approval),
  };
}

/** A certificate of any proposal kind, with the counts that carry it. */
export type SignedBuild =
  | {
      ok: true;
      certificate: Certificate;
      id: string;
      proposalId: string;
      tally: TallyResult;
      approval: ApprovalResult;
    }
  | Extract<Verdict, { ok: false }>;

/** `buildCertificate` for any proposal kind (genesis-change.ts builds on it too). */
export function buildSigned(
  g: TrustedGenesis,
  proposal: AnyProposal,
  votes: readonly Vote[],
  approvals: readonly Approval[],
  now: ChainPoint,
): SignedBuild {
  const pc = checkProposal(g, proposal);
  if (!pc.ok) return pc;
  if (!votingEnded(proposal, now)) return refuse('E_BUSY', 'voting has not ended');
  const pid = objectId(proposal);
  const counted = countedVotes(g, proposal, pid, votes);
  const t = tallyCounted(g, counted);
  if (!t.passed) return refuse('E_THRESHOLD', rejectionReason(t));
  const ap = approvingStake(g, proposal, pid, approvals, tallyCommitment(counted, t));
  if (!ap.approved) return refuse('E_THRESHOLD', stakeReason(ap));
  const certificate: Certificate = {
    format: CERTIFICATE_FORMAT,
    network_id: g.networkId,
    genesis_hash: g.hash,
    proposal,
    votes: counted.map((c) => ({
      holder: c.holder,
      option: c.vote.option,
      time_ms: c.vote.time_ms,
      height: c.vote.height,
      signature: c.vote.signature,
    })),
    approvals: ap.validators.map((validator, i) => {
      const a = ap.approvals[i] as Approval;
      return { validator, time_ms: a.time_ms, signature: a.signature };
    }),
  };
  const id = objectId(certificate);
  return { ok: true, certificate, id, proposalId: pid, tally: t, approval: ap };
}

/**
 * Checks a certificate against the pinned genesis, alone and offline, and returns the approved
 * plan; E_WRONG_NETWORK (another network or genesis), E_VERSION_MISMATCH (not what `expect`
 * names), E_SIGNATURE / E_UNTRUSTED_KEY (a part not genuinely signed by whom it must be),
 * E_MALFORMED (repeats, votes outside the period), E_THRESHOLD (quorum, threshold or stake not
 * reached).
 */
export function verifyCertificate(
  g: TrustedGenesis,
  cert: Certificate,
  expect: CertificateExpectation = {},
): CertificateVerdict {
  const p = cert.proposal;
  if (isGenesisProposal(p))
    return refuse('E_UNSUPPORTED', 'a certificate of a genesis change, not of an upgrade');
  if (expect.version !== undefined && p.version !== expect.version)
    return refuse('E_VERSION_MISMATCH', `certificate approves ${p.version}, not ${expect.version}`);
  const v = verifySigned(g, cert, expect);
  if (!v.ok) return v;
  return { ok: true, plan: planOf(g, p, objectId(cert), v.proposalId, v.tally, v.approval) };
}

/** What a verified certificate of any kind proves: its proposal's id and the counts. */
export type SignedVerdict =
  | { ok: true; proposalId: string; tally: TallyResult; approval: ApprovalResult }
  | Extract<Verdict, { ok: false }>;

/** `verifyCertificate` for any proposal kind, without the plan. */
export function verifySigned(
  g: TrustedGenesis,
  cert: Certificate,
  expect: { proposal_id?: string } = {},
): SignedVerdict {
  if (cert.network_id !== g.networkId || cert.proposal.network_id !== g.networkId)
    return refuse(
      'E_WRONG_NETWORK',
      `certificate is for network ${cert.proposal.network_id}, this is ${g.networkId}`,
    );
  if (cert.genesis_hash !== g.hash)
    return refuse('E_WRONG_NETWORK', 'certificate counts against another genesis than the one pinned');
  const p = cert.proposal;
  const pid = objectId(p);
  if (expect.proposal_id !== undefined && pid !== expect.proposal_id)
    return refuse('E_VERSION_MISMATCH', 'certificate is for another proposal');
  const pc = checkProposal(g, p);
  if (!pc.ok) return pc;
  const votes: Vote[] = [];
  const holders = new Set<number>();
  for (const c of cert.votes) {
    if (holders.has(c.holder)) return refuse('E_MALFORMED', `certificate lists holder ${c.holder} twice`);
    holders.add(c.holder);
    const v = expandVote(g, pid, c);
    if (!v) return refuse('E_UNTRUSTED_KEY', `certificate names holder ${c.holder}, not in the snapshot`);
    votes.push(v);
  }
  const ignored: TallyResult['ignored'] = {
    forged: 0,
    non_holder: 0,
    other_network: 0,
    other_proposal: 0,
    outside_period: 0,
    superseded: 0,
  };
  const counted = countedVotes(g, p, pid, votes, ignored);
  const t = tallyCounted(g, counted, ignored);
  const bad = t.ignored;
  if (bad.forged > 0)
    return refuse('E_SIGNATURE', `${bad.forged} vote signature(s) in the certificate do not verify`);
  if (bad.outside_period > 0)
    return refuse(
      'E_MALFORMED',
      `${bad.outside_period} vote(s) in the certificate are dated outside the period`,
    );
  if (!t.passed) return refuse('E_THRESHOLD', rejectionReason(t));
  const commitment = tallyCommitment(counted, t);
  const approvals: Approval[] = [];
  const validators = new Set<number>();
  for (const c of cert.approvals) {
    if (validators.has(c.validator))
      return refuse('E_MALFORMED', `certificate lists validator ${c.validator} twice`);
    validators.add(c.validator);
    const a = expandApproval(g, p, pid, c, commitment);
    if (!a)
      return refuse('E_UNTRUSTED_KEY', `certificate names validator ${c.validator}, not in the genesis`);
    approvals.push(a);
  }
  const ap = approvingStake(g, p, pid, approvals, commitment);
  if (ap.validators.length !== approvals.length)
    return refuse(
      'E_SIGNATURE',
      `${approvals.length - ap.validators.length} approval signature(s) do not verify over the certificate's tally`,
    );
  if (!ap.approved) return refuse('E_THRESHOLD', stakeReason(ap));
  return { ok: true, proposalId: pid, tally: t, approval: ap };
}

function planOf(
  g: TrustedGenesis,
  p: Proposal,
  certificateId: string,
  proposalId: string,
  t: TallyResult,
  ap: ApprovalResult,
): ApprovedPlan {
  return {
    network_id: g.networkId,
    genesis_hash: g.hash,
    proposal_id: proposalId,
    certificate_id: certificateId,
    version: p.version,
    fork: p.fork,
    activation_height: p.activation_height,
    min_compatible_version: p.min_compatible_version,
    targets_hash: p.targets_hash,
    release_sha256: p.release_sha256,
    ipfs_cid: p.ipfs_cid,
    mirrors: p.mirrors,
    tally: t,
    approving_stake: ap.approving_stake,
    total_stake: ap.total_stake,
  };
}

function rejectionReason(t: TallyResult): string {
  if (!t.quorum_reached) return `quorum not reached: ${t.voted} of ${t.total_weight} token weight voted`;
  return `the vote did not pass: ${t.yes} yes, ${t.no} no`;
}

function stakeReason(ap: ApprovalResult): string {
  return `validator approval too low: ${ap.approving_stake} of ${ap.total_stake} stake attested this tally`;
}
