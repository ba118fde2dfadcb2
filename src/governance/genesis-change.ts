/**
 * Changing the network's genesis by a certified governance decision (issue 10: the genesis
 * "changes only by a certified governance decision"), like TUF root rotation: a genesis proposal
 * carries the next genesis (version + 1, signed by its own root keys); holders vote on it and
 * validators consent and attest the tally as for a hard fork; its certificate, verified against
 * the genesis pinned now, is the step to the next one. Steps are never skipped (a certificate
 * counts against exactly the pinned genesis, and the proposed one must be its next version), so
 * a node pinned at an old genesis walks the chain one certificate at a time. Pure.
 */
import type { KeyObject } from 'node:crypto';
import { rawPublicKeyHex } from '../crypto/ed25519.ts';
import {
  type Approval,
  type Certificate,
  GENESIS_PROPOSAL_FORMAT,
  type Genesis,
  type GenesisProposal,
  isGenesisProposal,
  type Vote,
} from '../model/governance.ts';
import type { ApprovalResult } from './approval.ts';
import type { GovernanceContext } from './builders.ts';
import { buildSigned, verifySigned } from './certificate.ts';
import { type TrustedGenesis, trustGenesis } from './genesis.ts';
import type { ChainPoint } from './proposal.ts';
import { objectId, signObject } from './signing.ts';
import type { TallyResult } from './tally.ts';
import { refuse, type Verdict } from './verdict.ts';

/** A verified step of the chain: the genesis to move to, and what certified it. */
export interface GenesisChange {
  /** The genesis the certificate counts against (pinned now). */
  from_hash: string;
  next: TrustedGenesis;
  proposal_id: string;
  certificate_id: string;
  tally: TallyResult;
  approving_stake: number;
  total_stake: number;
}

export type GenesisChangeVerdict = { ok: true; change: GenesisChange } | Extract<Verdict, { ok: false }>;

function changeOf(
  g: TrustedGenesis,
  p: GenesisProposal,
  proposalId: string,
  certificateId: string,
  t: TallyResult,
  ap: ApprovalResult,
): GenesisChange {
  return {
    from_hash: g.hash,
    next: trustGenesis(p.genesis),
    proposal_id: proposalId,
    certificate_id: certificateId,
    tally: t,
    approving_stake: ap.approving_stake,
    total_stake: ap.total_stake,
  };
}

/** Checks a genesis-change certificate against the pinned genesis, alone and offline. */
export function verifyGenesisChange(g: TrustedGenesis, cert: Certificate): GenesisChangeVerdict {
  const p = cert.proposal;
  if (!isGenesisProposal(p))
    return refuse('E_UNSUPPORTED', 'a certificate of an upgrade, not of a genesis change');
  const v = verifySigned(g, cert);
  if (!v.ok) return v;
  return { ok: true, change: changeOf(g, p, v.proposalId, objectId(cert), v.tally, v.approval) };
}

export type GenesisBuildResult =
  | { ok: true; certificate: Certificate; id: string; change: GenesisChange }
  | Extract<Verdict, { ok: false }>;

/** Builds the certificate of a genesis proposal (the rules of buildCertificate). */
export function buildGenesisCertificate(
  g: TrustedGenesis,
  p: GenesisProposal,
  votes: readonly Vote[],
  approvals: readonly Approval[],
  now: ChainPoint,
): GenesisBuildResult {
  const b = buildSigned(g, p, votes, approvals, now);
  if (!b.ok) return b;
  return {
    ok: true,
    certificate: b.certificate,
    id: b.id,
    change: changeOf(g, p, b.proposalId, b.id, b.tally, b.approval),
  };
}

/** A holder's genesis proposal (the CLI signs it; the node checks it like any peer's). */
export function buildGenesisProposal(
  ctx: GovernanceContext,
  key: KeyObject,
  genesis: Genesis,
  input: { voting_period_ms?: number; title?: string },
): GenesisProposal {
  const period = input.voting_period_ms ?? ctx.params.voting_period_ms;
  return signObject(key, {
    format: GENESIS_PROPOSAL_FORMAT,
    network_id: ctx.network_id,
    genesis,
    submit_height: ctx.now.height,
    submit_time_ms: ctx.now.time_ms,
    voting_period_ms: period,
    voting_period_blocks: Math.ceil(period / ctx.params.block_interval_ms),
    title: input.title ?? `genesis version ${genesis.signed.version}`,
    proposer: rawPublicKeyHex(key),
  });
}
