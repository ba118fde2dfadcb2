/**
 * Making signed governance objects (the CLI does this with the holder's or validator's key; the
 * node only checks and gossips them). Pure: the current point and the release hashes come in
 * from the node (control method `governance_context`).
 */
import type { KeyObject } from 'node:crypto';
import { rawPublicKeyHex } from '../crypto/ed25519.ts';
import { DchatError } from '../errors.ts';
import type { DownloadSource } from '../model/download-source.ts';
import {
  APPROVAL_FORMAT,
  type Approval,
  type ForkType,
  type GovernanceParams,
  PROPOSAL_FORMAT,
  type Proposal,
  type TallyCommitment,
  VOTE_FORMAT,
  type Vote,
  type VoteOption,
} from '../model/governance.ts';
import type { ChainPoint } from './proposal.ts';
import { signObject } from './signing.ts';

export interface GovernanceContext {
  network_id: string;
  params: GovernanceParams;
  now: ChainPoint;
  release: { targets_hash: string; release_sha256: string } | null;
}

export interface ProposalInput {
  version: string;
  ipfs_cid: string;
  mirrors: DownloadSource[];
  fork: ForkType;
  activation_height?: number;
  voting_period_ms?: number;
  min_compatible_version?: string;
  title?: string;
}

/**
 * Blocks between the end of voting and the default activation height: the seed's grace period
 * for nodes to fetch and verify the release (x/upgrade plans name a height well after the vote).
 */
export function defaultGraceBlocks(votingBlocks: number): number {
  return Math.max(10, Math.ceil(votingBlocks / 10));
}

export function buildProposal(ctx: GovernanceContext, key: KeyObject, input: ProposalInput): Proposal {
  if (!ctx.release)
    throw new DchatError(
      'E_NOT_FOUND',
      `the node trusts no signed release ${input.version}: publish it and let the node see it first`,
    );
  const period = input.voting_period_ms ?? ctx.params.voting_period_ms;
  const blocks = Math.ceil(period / ctx.params.block_interval_ms);
  let height = input.activation_height;
  if (height === undefined) {
    if (ctx.now.height === null)
      throw new DchatError('E_USAGE', '--activation-height: required while the node knows no block height', {
        details: { flag: '--activation-height' },
      });
    height = ctx.now.height + blocks + defaultGraceBlocks(blocks);
  }
  return signObject(key, {
    format: PROPOSAL_FORMAT,
    network_id: ctx.network_id,
    version: input.version,
    fork: input.fork,
    min_compatible_version: input.min_compatible_version ?? input.version,
    targets_hash: ctx.release.targets_hash,
    release_sha256: ctx.release.release_sha256,
    ipfs_cid: input.ipfs_cid,
    mirrors: input.mirrors,
    activation_height: height,
    submit_height: ctx.now.height,
    submit_time_ms: ctx.now.time_ms,
    voting_period_ms: period,
    voting_period_blocks: blocks,
    title: input.title ?? `upgrade to ${input.version}`,
    proposer: rawPublicKeyHex(key),
  });
}

export function buildVote(
  ctx: GovernanceContext,
  key: KeyObject,
  proposalId: string,
  option: VoteOption,
): Vote {
  return signObject(key, {
    format: VOTE_FORMAT,
    network_id: ctx.network_id,
    proposal_id: proposalId,
    voter: rawPublicKeyHex(key),
    option,
    time_ms: ctx.now.time_ms,
    height: ctx.now.height,
  });
}

export function buildApproval(
  ctx: GovernanceContext,
  key: KeyObject,
  proposalId: string,
  p: { version: string; activation_height: number },
  tally: TallyCommitment | null,
): Approval {
  return signObject(key, {
    format: APPROVAL_FORMAT,
    network_id: ctx.network_id,
    proposal_id: proposalId,
    version: p.version,
    activation_height: p.activation_height,
    validator: rawPublicKeyHex(key),
    time_ms: ctx.now.time_ms,
    tally,
  });
}
