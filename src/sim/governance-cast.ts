/**
 * The cast of the governance simulation (governance.ts): the keys of the genesis root, the token
 * holders and the validators, drawn from the scenario's seeded Rng; the genesis of the simulated
 * network and of a foreign one (for replayed certificates); the proposal and votes as the real
 * signing code makes them; and the object check every simulated node runs, memoised per object.
 * Verdicts are memoised because verification is a pure function of the genesis and the object
 * (the property "a certificate verifies on every node or on none"), so 10,000 nodes cost each
 * signature check once; the per-node part (is the proposal held, is the vote in its period)
 * runs on every node.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { rawPublicKeyHex, signEd25519 } from '../crypto/ed25519.ts';
import type { ValidateObject, ValidationResult } from '../gossip/core/actions.ts';
import type { Rng } from '../gossip/core/rng.ts';
import { approvalMatches, checkApproval } from '../governance/approval.ts';
import { verifyCertificate } from '../governance/certificate.ts';
import { genesisSignedBytes, type TrustedGenesis, trustGenesis } from '../governance/genesis.ts';
import { checkProposal } from '../governance/proposal.ts';
import { objectId, signObject } from '../governance/signing.ts';
import { checkVote, voteCounts } from '../governance/tally.ts';
import {
  type Approval,
  type Certificate,
  GENESIS_FORMAT,
  type GenesisBody,
  type GovernanceKind,
  PROPOSAL_FORMAT,
  type Proposal,
  VOTE_FORMAT,
  type Vote,
} from '../model/governance.ts';

/** Time origin of the scenario's signed dates (virtual ms 0). */
export const T_BASE = 1_800_000_000_000;
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface SimKey {
  priv: KeyObject;
  pub: string;
}

function keyFrom(rng: Rng): SimKey {
  const seed = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) seed[i] = rng.int(256);
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
  return { priv, pub: rawPublicKeyHex(priv) };
}

export interface GovernanceCast {
  holders: SimKey[];
  validators: SimKey[];
  /** The simulated network's genesis, and another network's (whose certificates must not pass). */
  genesis: TrustedGenesis;
  elsewhere: TrustedGenesis;
  /** The upgrade proposal, by holder 0, submitted at `publishAt`, on `network`. */
  proposalFor(network: string): Proposal;
  /** Holder `h`'s vote on `p`, dated `at` (virtual ms). */
  vote(h: number, option: Vote['option'], at: number, p: Proposal, network?: string): Vote;
}

/**
 * Draws the keys from `rng` (root, then holders, then validators, then holder weights: the order
 * fixes what a seed produces) and signs both geneses.
 */
export function buildCast(
  rng: Rng,
  o: { holders: number; validators: number; votingMs: number },
  publishAt: number,
): GovernanceCast {
  const keys = (k: number) => Array.from({ length: k }, () => keyFrom(rng));
  const root = keyFrom(rng);
  const holders = keys(o.holders);
  const validators = keys(o.validators);
  const weights = holders.map(() => 50 + rng.int(101));
  const genesisFor = (network: string): TrustedGenesis => {
    const body: GenesisBody = {
      format: GENESIS_FORMAT,
      network_id: network,
      version: 1,
      created: '2027-01-01T00:00:00.000Z',
      params: {
        quorum: '0.67',
        threshold: '0.5',
        approval_threshold: '0.67',
        voting_period_ms: o.votingMs,
        min_voting_period_ms: 1000,
        min_deposit: 10,
        block_interval_ms: 1000,
        max_clock_skew_ms: 60_000,
      },
      root: { public_keys: [root.pub], threshold: 1 },
      holders: holders.map((h, i) => ({ public_key: h.pub, weight: weights[i] as number })),
      validators: validators.map((v, i) => ({ key_id: `validator-${i}`, public_key: v.pub, stake: 100 })),
    };
    const sig = signEd25519(root.priv, genesisSignedBytes(body)).toString('hex');
    return trustGenesis({ signed: body, signatures: [{ public_key: root.pub, signature: sig }] });
  };
  const proposalFor = (network: string): Proposal =>
    signObject((holders[0] as SimKey).priv, {
      format: PROPOSAL_FORMAT,
      network_id: network,
      version: '1.1.0',
      fork: 'hard',
      min_compatible_version: '1.0.0',
      targets_hash: 'a'.repeat(64),
      release_sha256: 'b'.repeat(64),
      ipfs_cid: 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi',
      mirrors: [],
      activation_height: 1_000_000,
      submit_height: null,
      submit_time_ms: T_BASE + Math.round(publishAt),
      voting_period_ms: o.votingMs,
      voting_period_blocks: Math.ceil(o.votingMs / 1000),
      title: 'simulated upgrade',
      proposer: (holders[0] as SimKey).pub,
    });
  const vote = (h: number, option: Vote['option'], at: number, p: Proposal, network = 'dchat-sim'): Vote =>
    signObject((holders[h] as SimKey).priv, {
      format: VOTE_FORMAT,
      network_id: network,
      proposal_id: objectId(p),
      voter: (holders[h] as SimKey).pub,
      option,
      time_ms: T_BASE + Math.round(at),
      height: null,
    });
  return {
    holders,
    validators,
    genesis: genesisFor('dchat-sim'),
    elsewhere: genesisFor('dchat-elsewhere'),
    proposalFor,
    vote,
  };
}

/**
 * The object check of node `i`: the memoised verdict on the object itself, then, for votes and
 * approvals, the per-node part against the proposals that node holds (`nodeProposals[i]`).
 */
export function objectChecks(
  g: TrustedGenesis,
  nodeProposals: readonly (Map<string, Proposal> | undefined)[],
): (i: number) => ValidateObject {
  const base = new WeakMap<object, ValidationResult>();
  const baseCheck = (kind: GovernanceKind, id: string, obj: object): ValidationResult => {
    let v = base.get(obj);
    if (v) return v;
    if (objectId(obj) !== id) v = { ok: false, code: 'E_MALFORMED', reason: 'id' };
    else if (kind === 'proposal') v = checkProposal(g, obj as Proposal);
    else if (kind === 'vote') v = checkVote(g, obj as Vote);
    else if (kind === 'approval') v = checkApproval(g, obj as Approval);
    else {
      const r = verifyCertificate(g, obj as Certificate);
      v = r.ok ? { ok: true, proof: r.plan } : r;
    }
    base.set(obj, v);
    return v;
  };
  return (i) => (kind, id, obj) => {
    const v = baseCheck(kind as GovernanceKind, id, obj);
    if (!v.ok || (kind !== 'vote' && kind !== 'approval')) return v;
    const ref = obj as Vote | Approval;
    const p = nodeProposals[i]?.get(ref.proposal_id);
    if (!p) return { ok: false, code: 'E_NOT_FOUND', reason: 'proposal not held' };
    return kind === 'vote'
      ? voteCounts(p, ref.proposal_id, obj as Vote)
      : approvalMatches(p, ref.proposal_id, obj as Approval);
  };
}
