/**
 * A small network for governance tests: root, holder and validator keys, a signed genesis, and
 * makers of signed proposals, votes and approvals (real Ed25519 signatures throughout).
 */
import type { KeyObject } from 'node:crypto';
import { generateEd25519, rawPublicKeyHex, signEd25519 } from '../../src/crypto/ed25519.ts';
import { approvalTarget } from '../../src/governance/approval.ts';
import { genesisSignedBytes, type TrustedGenesis, trustGenesis } from '../../src/governance/genesis.ts';
import { periodBlocks } from '../../src/governance/proposal.ts';
import { objectId, signObject } from '../../src/governance/signing.ts';
import { heldCommitment } from '../../src/governance/tally-commitment.ts';
import {
  APPROVAL_FORMAT,
  type Approval,
  GENESIS_FORMAT,
  type Genesis,
  type GenesisBody,
  type GovernanceParams,
  PROPOSAL_FORMAT,
  type Proposal,
  VOTE_FORMAT,
  type Vote,
  type VoteOption,
} from '../../src/model/governance.ts';

export interface Key {
  priv: KeyObject;
  pub: string;
}
export function key(): Key {
  const k = generateEd25519();
  return { priv: k.privateKey, pub: rawPublicKeyHex(k.publicKey) };
}

export const T0 = 1_700_000_000_000;
export const DAY = 24 * 3600 * 1000;

export interface Net {
  root: Key[];
  holders: Key[];
  weights: number[];
  validators: Key[];
  stakes: number[];
  genesis: Genesis;
  g: TrustedGenesis;
}

export const PARAMS: GovernanceParams = {
  quorum: '0.67',
  threshold: '0.5',
  approval_threshold: '0.67',
  voting_period_ms: 14 * DAY,
  min_voting_period_ms: 1000,
  min_deposit: 10,
  block_interval_ms: 5000,
  max_clock_skew_ms: 60_000,
};

export function signGenesis(body: GenesisBody, signers: readonly Key[]): Genesis {
  const bytes = genesisSignedBytes(body);
  return {
    signed: body,
    signatures: signers.map((k) => ({
      public_key: k.pub,
      signature: signEd25519(k.priv, bytes).toString('hex'),
    })),
  };
}

/** A network of holders with `weights` and validators with `stakes` (default 100 x 4, 25 x 4). */
export function network(
  opts: {
    weights?: number[];
    stakes?: number[];
    params?: Partial<GovernanceParams>;
    networkId?: string;
  } = {},
): Net {
  const weights = opts.weights ?? [100, 100, 100, 100];
  const stakes = opts.stakes ?? [25, 25, 25, 25];
  const root = [key(), key()];
  const holders = weights.map(() => key());
  const validators = stakes.map(() => key());
  const body: GenesisBody = {
    format: GENESIS_FORMAT,
    network_id: opts.networkId ?? 'dchat-test',
    version: 1,
    created: '2026-01-01T00:00:00.000Z',
    params: { ...PARAMS, ...opts.params },
    root: { public_keys: root.map((k) => k.pub), threshold: 2 },
    holders: holders.map((k, i) => ({ public_key: k.pub, weight: weights[i] as number })),
    validators: validators.map((k, i) => ({
      key_id: `validator-${i}`,
      public_key: k.pub,
      stake: stakes[i] as number,
    })),
  };
  const genesis = signGenesis(body, root);
  return { root, holders, weights, validators, stakes, genesis, g: trustGenesis(genesis) };
}

export function proposal(net: Net, over: Partial<Omit<Proposal, 'signature'>> = {}, signer?: Key): Proposal {
  const period = over.voting_period_ms ?? 14 * DAY;
  const proposer = signer ?? (net.holders[0] as Key);
  const body: Omit<Proposal, 'signature'> = {
    format: PROPOSAL_FORMAT,
    network_id: net.g.networkId,
    version: '1.1.0',
    fork: 'hard',
    min_compatible_version: '1.0.0',
    targets_hash: 'a'.repeat(64),
    release_sha256: 'b'.repeat(64),
    ipfs_cid: 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi',
    mirrors: [],
    activation_height: 1000 + periodBlocks(net.g, period) + 100,
    submit_height: 1000,
    submit_time_ms: T0,
    voting_period_ms: period,
    voting_period_blocks: periodBlocks(net.g, period),
    title: 'upgrade to 1.1.0',
    proposer: proposer.pub,
    ...over,
  };
  return signObject(proposer.priv, body);
}

export function vote(
  net: Net,
  p: Proposal,
  voter: Key,
  option: VoteOption,
  at = 1000,
  over: Partial<Omit<Vote, 'signature'>> = {},
): Vote {
  return signObject(voter.priv, {
    format: VOTE_FORMAT,
    network_id: net.g.networkId,
    proposal_id: objectId(p),
    voter: voter.pub,
    option,
    time_ms: p.submit_time_ms + at,
    height: p.submit_height,
    ...over,
  } as Omit<Vote, 'signature'>);
}

export function approval(
  net: Net,
  p: Proposal,
  v: Key,
  over: Partial<Omit<Approval, 'signature'>> = {},
): Approval {
  return signObject(v.priv, {
    format: APPROVAL_FORMAT,
    network_id: net.g.networkId,
    proposal_id: objectId(p),
    ...approvalTarget(p),
    validator: v.pub,
    time_ms: p.submit_time_ms + 2000,
    tally: null,
    ...over,
  } as Omit<Approval, 'signature'>);
}

/** A validator's approval attesting the tally of `votes` (as its node signs it after voting ends). */
export function attestation(
  net: Net,
  p: Proposal,
  v: Key,
  votes: readonly Vote[],
  over: Partial<Omit<Approval, 'signature'>> = {},
): Approval {
  const { commitment } = heldCommitment(net.g, p, objectId(p), votes);
  return approval(net, p, v, {
    time_ms: p.submit_time_ms + p.voting_period_ms + 500,
    tally: commitment,
    ...over,
  });
}

/** A point after voting ended. */
export function after(p: Proposal) {
  return { time_ms: p.submit_time_ms + p.voting_period_ms + 1, height: null };
}
