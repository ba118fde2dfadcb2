/**
 * The tally commitment validators sign (the Cosmos answer to vote omission). Offline, a set of
 * signed votes cannot show that no other vote exists: two honest nodes holding different votes
 * could reach different verdicts on the same certificate. So, as a Cosmos chain's validators
 * commit the block whose state holds the tally, dchat's validators sign the tally they saw when
 * voting ended: the Merkle root over the counted votes and their totals. A certificate is valid
 * when validators holding the approval share (2/3) of stake signed the commitment of exactly the
 * votes it lists, whatever other votes a node may hold.
 *
 * Trust assumption (as CometBFT's): fewer than 1/3 of stake signs two different tallies for one
 * proposal. Honest validators sign the votes they hold; a vote that reached none of 2/3 of stake
 * by the end of voting (plus the settling delay) is left out, as a transaction that missed the
 * block. Two certificates with different tallies need validators holding >= 1/3 of stake to
 * have signed both; the gossip core then keeps one of them by its replay rule.
 */
import { merkleRootHex } from '../crypto/merkle.ts';
import type { AnyProposal, TallyCommitment, Vote } from '../model/governance.ts';
import type { TrustedGenesis } from './genesis.ts';
import { type CountedVote, countedVotes, type TallyResult, tallyCounted } from './tally.ts';

/** The commitment of counted votes (holder order, as countedVotes returns them) and their tally. */
export function tallyCommitment(counted: readonly CountedVote[], t: TallyResult): TallyCommitment {
  const ordered = [...counted].sort((a, b) => a.holder - b.holder);
  return {
    votes_root: merkleRootHex(ordered.map((c) => c.id)),
    voters: ordered.length,
    yes: t.yes,
    no: t.no,
    abstain: t.abstain,
  };
}

export function sameCommitment(a: TallyCommitment | null, b: TallyCommitment | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.votes_root === b.votes_root &&
    a.voters === b.voters &&
    a.yes === b.yes &&
    a.no === b.no &&
    a.abstain === b.abstain
  );
}

/** The commitment of the votes a node holds for a proposal, and whether that tally passes. */
export function heldCommitment(
  g: TrustedGenesis,
  p: AnyProposal,
  proposalId: string,
  votes: readonly Vote[],
): { commitment: TallyCommitment; passed: boolean } {
  const counted = countedVotes(g, p, proposalId, votes);
  const t = tallyCounted(g, counted);
  return { commitment: tallyCommitment(counted, t), passed: t.passed };
}
