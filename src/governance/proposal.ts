/**
 * Proposal rules (x/gov MsgSubmitProposal with an x/upgrade plan): signed by a token holder who
 * holds at least the network's minimum deposit, for this network, with a voting period the
 * network allows (in time, and the same period in blocks), an activation height after the vote
 * ends, and a release hash that matches the signed TUF targets. A genesis change (x/gov's
 * parameter change, for dchat's snapshot, validators and params) carries the next genesis.
 */

import canonicalJson from '@tufjs/canonical-json';
import {
  type AnyProposal,
  type GenesisProposal,
  isGenesisProposal,
  MAX_PROPOSED_GENESIS_BYTES,
  type Proposal,
} from '../model/governance.ts';
import { compareVersions } from '../model/version.ts';
import { type TrustedGenesis, trustGenesis } from './genesis.ts';
import { verifyObject } from './signing.ts';
import { OK, refuse, type Verdict } from './verdict.ts';

/** A point on the network's timeline: a height when the node knows one, and its time. */
export interface ChainPoint {
  height: number | null;
  time_ms: number;
}

/** Blocks in a voting period of `ms` at the network's block interval (rounded up). */
export function periodBlocks(g: TrustedGenesis, ms: number): number {
  return Math.ceil(ms / g.body.params.block_interval_ms);
}

/** When voting ends: the submit point plus the period, in time and (if known) in blocks. */
export function votingEnd(p: AnyProposal): ChainPoint {
  return {
    time_ms: p.submit_time_ms + p.voting_period_ms,
    height: p.submit_height === null ? null : p.submit_height + p.voting_period_blocks,
  };
}

/** True once `now` is past the end of voting, by time or by height (whichever comes first). */
export function votingEnded(p: AnyProposal, now: ChainPoint): boolean {
  const end = votingEnd(p);
  if (now.time_ms > end.time_ms) return true;
  return end.height !== null && now.height !== null && now.height > end.height;
}

/** True if a point (a vote's date) lies within the proposal's voting period. */
export function withinPeriod(p: AnyProposal, at: ChainPoint): boolean {
  const end = votingEnd(p);
  if (at.time_ms < p.submit_time_ms || at.time_ms > end.time_ms) return false;
  if (at.height !== null && p.submit_height !== null && end.height !== null)
    return at.height >= p.submit_height && at.height <= end.height;
  return true;
}

/** Everything about a proposal (an upgrade or a genesis change) that the genesis decides. */
export function checkProposal(g: TrustedGenesis, p: AnyProposal): Verdict {
  const terms = checkVotingTerms(g, p);
  if (!terms.ok) return terms;
  return isGenesisProposal(p) ? checkGenesisChange(g, p) : checkUpgrade(g, p);
}

/** What every proposal must meet: network, a proposer with the deposit, its signature, the period. */
function checkVotingTerms(g: TrustedGenesis, p: AnyProposal): Verdict {
  if (p.network_id !== g.networkId)
    return refuse('E_WRONG_NETWORK', `proposal is for network ${p.network_id}, this is ${g.networkId}`);
  const at = g.holderIndex.get(p.proposer);
  if (at === undefined)
    return refuse('E_UNTRUSTED_KEY', 'the proposer holds no tokens in the genesis snapshot');
  if (!verifyObject(p.proposer, p)) return refuse('E_SIGNATURE', "the proposal's signature does not verify");
  const weight = g.body.holders[at]?.weight ?? 0;
  const deposit = g.body.params.min_deposit;
  if (weight < deposit)
    return refuse('E_THRESHOLD', `the proposer holds ${weight} tokens, the minimum deposit is ${deposit}`);
  const params = g.body.params;
  if (p.voting_period_ms < params.min_voting_period_ms)
    return refuse(
      'E_MALFORMED',
      `voting period ${p.voting_period_ms} ms is shorter than the network's minimum ${params.min_voting_period_ms} ms`,
    );
  if (p.voting_period_blocks !== periodBlocks(g, p.voting_period_ms))
    return refuse(
      'E_MALFORMED',
      `voting period of ${p.voting_period_blocks} blocks does not match ${p.voting_period_ms} ms at ${params.block_interval_ms} ms a block`,
    );
  return OK;
}

function checkUpgrade(_g: TrustedGenesis, p: Proposal): Verdict {
  const end = votingEnd(p);
  if (end.height !== null && p.activation_height <= end.height)
    return refuse(
      'E_MALFORMED',
      `activation height ${p.activation_height} is not after the end of voting (height ${end.height})`,
    );
  if (compareVersions(p.min_compatible_version, p.version) > 0)
    return refuse('E_MALFORMED', `min_compatible_version ${p.min_compatible_version} is above ${p.version}`);
  return OK;
}

/**
 * A genesis change: the proposed genesis is a valid one (its own root signatures meet its
 * threshold), of this network, and the very next version of the pinned one (never a skip, never
 * a rollback: each step is certified under the genesis before it).
 */
function checkGenesisChange(g: TrustedGenesis, p: GenesisProposal): Verdict {
  const size = Buffer.byteLength(canonicalJson.canonicalize(p.genesis));
  if (size > MAX_PROPOSED_GENESIS_BYTES)
    return refuse(
      'E_TOO_LARGE',
      `the proposed genesis is ${size} bytes, at most ${MAX_PROPOSED_GENESIS_BYTES}`,
    );
  let next: TrustedGenesis;
  try {
    next = trustGenesis(p.genesis);
  } catch (err) {
    const code = (err as { code?: string }).code;
    return refuse(
      code === 'E_SIGNATURE' || code === 'E_THRESHOLD' ? code : 'E_MALFORMED',
      `the proposed genesis: ${(err as Error).message}`,
    );
  }
  if (next.networkId !== g.networkId)
    return refuse('E_WRONG_NETWORK', `the proposed genesis is for network ${next.networkId}`);
  if (next.body.version > g.body.version + 1)
    return refuse(
      'E_NOT_FOUND',
      `the proposed genesis is version ${next.body.version}, beyond the next after the pinned ${g.body.version}: taken once this node has caught up`,
    );
  if (next.body.version !== g.body.version + 1)
    return refuse(
      'E_ROLLBACK',
      `the proposed genesis is version ${next.body.version}; the next after the pinned ${g.body.version} is ${g.body.version + 1}`,
    );
  // The same network: its origin, and the height clock (creation time, block interval) kept.
  if (next.origin !== g.origin)
    return refuse(
      'E_WRONG_NETWORK',
      `the proposed genesis names origin ${next.origin.slice(0, 16)}, not ${g.origin.slice(0, 16)}`,
    );
  if (
    next.body.created !== g.body.created ||
    next.body.params.block_interval_ms !== g.body.params.block_interval_ms
  )
    return refuse(
      'E_MALFORMED',
      'the proposed genesis changes the height clock (created or block_interval_ms)',
    );
  return OK;
}

/** What a node's trusted TUF state says about releases: the targets document's hash and its entries. */
export interface SignedTargets {
  /** SHA-256 of the signed targets.json bytes. */
  targets_hash: string;
  /** The releases it lists: version and package SHA-256. */
  releases: readonly { version: string; sha256: string }[];
}

/**
 * The release a proposal names must be the one the signed TUF targets list: same targets
 * document, and that document lists the proposal's version with the proposal's package hash.
 */
export function checkReleaseBinding(p: Proposal, t: SignedTargets): Verdict {
  if (p.targets_hash !== t.targets_hash)
    return refuse('E_HASH_MISMATCH', "the proposal's targets hash is not that of the signed targets");
  const listed = t.releases.filter((r) => r.version === p.version);
  if (listed.length === 0) return refuse('E_NOT_FOUND', `the signed targets list no release ${p.version}`);
  if (!listed.some((r) => r.sha256 === p.release_sha256))
    return refuse(
      'E_HASH_MISMATCH',
      `release ${p.version}: the proposal's package hash differs from the signed targets`,
    );
  return OK;
}
