/**
 * Votes and the tally (x/gov): a vote counts if a token holder of the genesis snapshot signed it,
 * for this proposal, within its voting period; a holder's latest vote counts once (later signed
 * time wins, equal times go to the lower id, the gossip core's replay rule). Quorum: the share of
 * all token weight that voted (yes, no or abstain) is at least `quorum`; pass: yes / (yes + no)
 * is above `threshold` (abstentions count for quorum only). The result does not depend on the
 * order in which votes arrive.
 */
import { type AnyProposal, VOTE_FORMAT, type Vote, type VoteOption } from '../model/governance.ts';
import { aboveShare, atLeastShare, type TrustedGenesis } from './genesis.ts';
import { withinPeriod } from './proposal.ts';
import { objectId, verifyObject } from './signing.ts';
import { OK, refuse, type Verdict } from './verdict.ts';

/** Who signed it and for which network: the checks that need no proposal. */
export function checkVote(g: TrustedGenesis, v: Vote): Verdict {
  if (v.network_id !== g.networkId)
    return refuse('E_WRONG_NETWORK', `vote is for network ${v.network_id}, this is ${g.networkId}`);
  if (!g.holderIndex.has(v.voter))
    return refuse('E_UNTRUSTED_KEY', 'the voter holds no tokens in the genesis snapshot');
  if (!verifyObject(v.voter, v)) return refuse('E_SIGNATURE', "the vote's signature does not verify");
  return OK;
}

/** Whether a (genuine) vote counts for `proposal`: the right proposal, within its period. */
export function voteCounts(proposal: AnyProposal, proposalId: string, v: Vote): Verdict {
  if (v.proposal_id !== proposalId) return refuse('E_WRONG_TARGET', 'the vote is for another proposal');
  if (!withinPeriod(proposal, { time_ms: v.time_ms, height: v.height }))
    return refuse('E_EXPIRED', 'the vote is dated outside the voting period');
  return OK;
}

/** True if vote `a` (id aId) is later than `b`: the order every node uses for "latest vote". */
export function laterVote(a: Vote, aId: string, b: Vote, bId: string): boolean {
  return a.time_ms > b.time_ms || (a.time_ms === b.time_ms && aId < bId);
}

export interface TallyResult {
  yes: number;
  no: number;
  abstain: number;
  /** Weight that voted (yes + no + abstain). */
  voted: number;
  total_weight: number;
  quorum_reached: boolean;
  /** Quorum reached and yes / (yes + no) above the threshold. */
  passed: boolean;
  /** Holders whose vote counted. */
  voters: number;
  /** Votes left out, by reason. */
  ignored: {
    forged: number;
    non_holder: number;
    other_network: number;
    other_proposal: number;
    outside_period: number;
    superseded: number;
  };
}

/** A vote that counts, with its holder's index. */
export interface CountedVote {
  vote: Vote;
  id: string;
  holder: number;
}

/** The latest counting vote of each holder, by holder index (the input order does not matter). */
export function countedVotes(
  g: TrustedGenesis,
  proposal: AnyProposal,
  proposalId: string,
  votes: readonly Vote[],
  ignored: TallyResult['ignored'] = emptyIgnored(),
): CountedVote[] {
  const latest = new Map<number, CountedVote>();
  const seen = new Set<string>();
  for (const v of votes) {
    // The same vote twice is one vote (it may arrive by several paths).
    const id = objectId(v);
    if (seen.has(id)) continue;
    seen.add(id);
    const c = checkVote(g, v);
    if (!c.ok) {
      if (c.code === 'E_WRONG_NETWORK') ignored.other_network++;
      else if (c.code === 'E_UNTRUSTED_KEY') ignored.non_holder++;
      else ignored.forged++;
      continue;
    }
    const k = voteCounts(proposal, proposalId, v);
    if (!k.ok) {
      if (k.code === 'E_WRONG_TARGET') ignored.other_proposal++;
      else ignored.outside_period++;
      continue;
    }
    const holder = g.holderIndex.get(v.voter) as number;
    const held = latest.get(holder);
    ignored.superseded += held ? 1 : 0;
    if (!held || laterVote(v, id, held.vote, held.id)) latest.set(holder, { vote: v, id, holder });
  }
  return [...latest.values()].sort((a, b) => a.holder - b.holder);
}

/** Weights of counted votes against the genesis parameters. */
export function tallyCounted(
  g: TrustedGenesis,
  counted: readonly CountedVote[],
  ignored = emptyIgnored(),
): TallyResult {
  const sum: Record<VoteOption, number> = { yes: 0, no: 0, abstain: 0 };
  for (const c of counted) sum[c.vote.option] += g.body.holders[c.holder]?.weight ?? 0;
  const voted = sum.yes + sum.no + sum.abstain;
  const quorum = atLeastShare(voted, g.totalWeight, g.quorumBps);
  const decisive = sum.yes + sum.no;
  const passed = quorum && decisive > 0 && aboveShare(sum.yes, decisive, g.thresholdBps);
  return {
    ...sum,
    voted,
    total_weight: g.totalWeight,
    quorum_reached: quorum,
    passed,
    voters: counted.length,
    ignored,
  };
}

/** The tally of `votes` (any order, any mix of genuine, forged, late and repeated) for one proposal. */
export function tally(
  g: TrustedGenesis,
  proposal: AnyProposal,
  proposalId: string,
  votes: readonly Vote[],
): TallyResult {
  const ignored = emptyIgnored();
  return tallyCounted(g, countedVotes(g, proposal, proposalId, votes, ignored), ignored);
}

/** A vote as signed, rebuilt from its compact form in a certificate. */
export function expandVote(
  g: TrustedGenesis,
  proposalId: string,
  c: { holder: number; option: VoteOption; time_ms: number; height: number | null; signature: string },
): Vote | undefined {
  const holder = g.body.holders[c.holder];
  if (!holder) return undefined;
  return {
    format: VOTE_FORMAT,
    network_id: g.networkId,
    proposal_id: proposalId,
    voter: holder.public_key,
    option: c.option,
    time_ms: c.time_ms,
    height: c.height,
    signature: c.signature,
  };
}

function emptyIgnored(): TallyResult['ignored'] {
  return { forged: 0, non_holder: 0, other_network: 0, other_proposal: 0, outside_period: 0, superseded: 0 };
}
