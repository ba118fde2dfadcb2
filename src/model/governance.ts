/**
 * Governance formats (DESIGN.md `governance/`): the network genesis that every node pins, and the
 * four signed objects that ride the gossip core: proposal, vote, approval, certificate. Each is a
 * versioned JSON object (`dchat.<name>/1`, snake_case); each list has a cap so that a certificate
 * always fits in one gossip message. Parsing is all that happens here: signatures, weights and
 * the tally rules are the pure core in src/governance/.
 *
 * Signing (same for every object): the signer's Ed25519 signature over the canonical JSON
 * (TUF/OLPC canonical form) of the object without its `signature` field. The `format` field is in
 * the signed bytes, so a vote can never pass for an approval; `network_id` is in every signed
 * object, so nothing signed for one network counts on another.
 *
 * Where the issue is silent the rules are Cosmos SDK x/gov's: quorum is the share of all token
 * weight that voted (>=), the threshold is yes / (yes + no) among the non-abstaining votes (>),
 * and x/upgrade's plan (name = version, height) is what an approved proposal carries.
 */
import { z } from 'zod';
import { DownloadSourceSchema } from './download-source.ts';
import { LIMITS } from './limits.ts';
import { boundedString, hex64, hex128, isoDate, safeUint, versionString } from './schema-util.ts';

export const GENESIS_FORMAT = 'dchat.genesis/1';
export const PROPOSAL_FORMAT = 'dchat.proposal/1';
export const GENESIS_PROPOSAL_FORMAT = 'dchat.genesis-proposal/1';
export const VOTE_FORMAT = 'dchat.vote/1';
export const APPROVAL_FORMAT = 'dchat.approval/1';
export const CERTIFICATE_FORMAT = 'dchat.certificate/1';

/** Token holders in a genesis snapshot: a certificate lists at most one vote per holder. */
export const MAX_HOLDERS = 512;
/** Validators in a genesis. */
export const MAX_VALIDATORS = 64;
/** Root keys that sign a genesis. */
export const MAX_ROOT_KEYS = 16;
/** Mirrors a proposal may name. */
export const MAX_PROPOSAL_MIRRORS = 16;
/** A genesis file on disk or on the command line. */
export const MAX_GENESIS_BYTES = 256 * 1024;
/** The longest voting period a network may set (1 year): time arithmetic stays far from overflow. */
export const MAX_VOTING_PERIOD_MS = 366 * 24 * 3600 * 1000;

/** The seed's 14 days. */
export const DEFAULT_VOTING_PERIOD_MS = 14 * 24 * 3600 * 1000;

export const networkId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'expected a network id like dchat-mainnet (a-z 0-9 . _ -)');
/** An Ed25519 public key, raw 32 bytes as hex (what `dchat-sign` key files hold, as TUF shows it). */
export const publicKeyHex = hex64;
/** An Ed25519 signature as hex. */
export const signatureHex = hex128;
/**
 * A share in [0, 1] as a decimal string with at most 4 decimals ("0.67"), as Cosmos SDK writes its
 * gov params: signed bytes are canonical JSON, which has no floats, and comparisons are exact.
 */
const share = z
  .string()
  .regex(/^(0(\.\d{1,4})?|1(\.0{1,4})?)$/, 'expected a share like "0.67" (0 to 1, at most 4 decimals)');

/** A share string in basis points (1 = 10000), for exact integer comparisons. */
export function shareBps(s: string): number {
  const [int, frac = ''] = s.split('.');
  return Number(int) * 10_000 + Number(frac.padEnd(4, '0'));
}
const blockHeight = safeUint;
const timeMs = safeUint;

export const VOTE_OPTIONS = ['yes', 'no', 'abstain'] as const;
export type VoteOption = (typeof VOTE_OPTIONS)[number];
export const FORK_TYPES = ['hard', 'soft'] as const;
export type ForkType = (typeof FORK_TYPES)[number];

// ---- genesis ------------------------------------------------------------------------------------

export const GovernanceParamsSchema = z.strictObject({
  /** Share of the total token weight that must vote (x/gov quorum; the seed's 67%). */
  quorum: share,
  /** yes / (yes + no) must be above this (x/gov threshold, 0.5). */
  threshold: share,
  /** Share of validator stake whose approvals a hard fork needs (the seed's 67%). */
  approval_threshold: share,
  /** Default voting period; a proposal may ask for another one within [min, max]. */
  voting_period_ms: timeMs.min(1000).max(MAX_VOTING_PERIOD_MS),
  min_voting_period_ms: timeMs.min(1000).max(MAX_VOTING_PERIOD_MS),
  /** Tokens the proposer must hold (x/gov min_deposit; held, not locked: there is no ledger). */
  min_deposit: safeUint,
  /** Expected time between blocks: turns a period in time into one in blocks. */
  block_interval_ms: timeMs.min(1).max(3_600_000),
  /** Votes and approvals dated further than this from a node's own clock are not taken. */
  max_clock_skew_ms: timeMs.max(3_600_000),
});
export type GovernanceParams = z.infer<typeof GovernanceParamsSchema>;

/** The seed's governance (67% quorum, 14 days, 67% of stake), x/gov's 0.5 threshold, 5 s blocks. */
export const DEFAULT_GOVERNANCE_PARAMS: GovernanceParams = {
  quorum: '0.67',
  threshold: '0.5',
  approval_threshold: '0.67',
  voting_period_ms: DEFAULT_VOTING_PERIOD_MS,
  min_voting_period_ms: 60_000,
  min_deposit: 1,
  block_interval_ms: 5000,
  max_clock_skew_ms: 60_000,
};

export const HolderSchema = z.strictObject({ public_key: publicKeyHex, weight: safeUint.min(1) });
export type Holder = z.infer<typeof HolderSchema>;
export const ValidatorSchema = z.strictObject({
  /** A short name for logs and status (e.g. validator-1); the key is what counts. */
  key_id: z.string().min(1).max(64),
  public_key: publicKeyHex,
  stake: safeUint.min(1),
});
export type Validator = z.infer<typeof ValidatorSchema>;

/** Builders a network names, at most. */
export const MAX_BUILDERS = 64;
export const ReproduciblePolicySchema = z.strictObject({
  builders: z.array(publicKeyHex).min(1).max(MAX_BUILDERS),
  min_attestations: z.number().int().min(0).max(MAX_BUILDERS),
});
export type ReproduciblePolicy = z.infer<typeof ReproduciblePolicySchema>;

export const GenesisBodySchema = z.strictObject({
  format: z.literal(GENESIS_FORMAT),
  network_id: networkId,
  /** Increases with every certified change of the genesis (holders, validators, params). */
  version: safeUint.min(1),
  /**
   * The hash of the network's first genesis, in every later one (absent in the first): the
   * network's identity across genesis changes (fork ids, the beacon chain's origin).
   */
  origin: hex64.optional(),
  created: isoDate,
  params: GovernanceParamsSchema,
  /** Keys that sign the genesis (the network's founders), like a TUF root's root role. */
  root: z.strictObject({
    public_keys: z.array(publicKeyHex).min(1).max(MAX_ROOT_KEYS),
    threshold: z.number().int().min(1).max(MAX_ROOT_KEYS),
  }),
  /** The token-holder snapshot: public key -> weight. */
  holders: z.array(HolderSchema).min(1).max(MAX_HOLDERS),
  validators: z.array(ValidatorSchema).max(MAX_VALIDATORS),
  /**
   * Reproducible builds: independent builders whose signed rebuild attestations count, and how
   * many distinct ones must match a release before a validator approves a hard fork to it.
   */
  reproducible: ReproduciblePolicySchema.optional(),
});
export type GenesisBody = z.infer<typeof GenesisBodySchema>;

export const KeySignatureSchema = z.strictObject({ public_key: publicKeyHex, signature: signatureHex });
export const GenesisSchema = z.strictObject({
  signed: GenesisBodySchema,
  signatures: z.array(KeySignatureSchema).max(MAX_ROOT_KEYS),
});
export type Genesis = z.infer<typeof GenesisSchema>;

/** What `dchat-sign genesis --spec` reads: the genesis without what the signing adds. */
export const GenesisSpecSchema = z.strictObject({
  network_id: networkId,
  version: safeUint.min(1).default(1),
  /** A later genesis: the first genesis's hash, and its creation time (the height clock's origin). */
  origin: hex64.optional(),
  created: isoDate.optional(),
  params: GovernanceParamsSchema.partial().default({}),
  holders: z.array(HolderSchema).min(1).max(MAX_HOLDERS),
  validators: z.array(ValidatorSchema).max(MAX_VALIDATORS).default([]),
  reproducible: ReproduciblePolicySchema.optional(),
});

// ---- proposal -----------------------------------------------------------------------------------

export const ProposalSchema = z.strictObject({
  format: z.literal(PROPOSAL_FORMAT),
  network_id: networkId,
  version: versionString,
  fork: z.enum(FORK_TYPES),
  /** Soft forks: versions at or above this keep talking to the new one. */
  min_compatible_version: versionString,
  /** SHA-256 of the signed TUF targets.json that lists the release. */
  targets_hash: hex64,
  /** SHA-256 of the release package as that targets.json lists it. */
  release_sha256: hex64,
  ipfs_cid: z.string().min(1).max(128),
  mirrors: z.array(DownloadSourceSchema).max(MAX_PROPOSAL_MIRRORS),
  activation_height: blockHeight,
  /** Height and time at submission, as the proposer's node knew them (height: null without a source). */
  submit_height: blockHeight.nullable(),
  submit_time_ms: timeMs,
  voting_period_ms: timeMs.min(1000).max(MAX_VOTING_PERIOD_MS),
  voting_period_blocks: safeUint,
  title: boundedString.max(256),
  proposer: publicKeyHex,
  signature: signatureHex,
});
export type Proposal = z.infer<typeof ProposalSchema>;

/** A genesis in a proposal, at most (canonical bytes): a certificate must fit in one gossip message. */
export const MAX_PROPOSED_GENESIS_BYTES = 96 * 1024;

/**
 * A proposal to change the network's genesis (token snapshot, validator set, parameters): the
 * new genesis itself, signed by its root keys, whose `version` is the pinned one's plus one.
 * Voted and approved like a hard fork; its certificate, verified against the genesis pinned now,
 * moves every node to the new one (a chain of geneses, each step certified under the one before,
 * like TUF root rotation). It takes effect as soon as a node holds the certificate.
 */
export const GenesisProposalSchema = z.strictObject({
  format: z.literal(GENESIS_PROPOSAL_FORMAT),
  network_id: networkId,
  genesis: GenesisSchema,
  submit_height: blockHeight.nullable(),
  submit_time_ms: timeMs,
  voting_period_ms: timeMs.min(1000).max(MAX_VOTING_PERIOD_MS),
  voting_period_blocks: safeUint,
  title: boundedString.max(256),
  proposer: publicKeyHex,
  signature: signatureHex,
});
export type GenesisProposal = z.infer<typeof GenesisProposalSchema>;

/** What the gossip kind `proposal` carries: an upgrade or a genesis change, told apart by `format`. */
export const AnyProposalSchema = z.discriminatedUnion('format', [ProposalSchema, GenesisProposalSchema]);
export type AnyProposal = z.infer<typeof AnyProposalSchema>;

export function isGenesisProposal(p: AnyProposal): p is GenesisProposal {
  return p.format === GENESIS_PROPOSAL_FORMAT;
}

// ---- vote and approval ----------------------------------------------------------------------------

export const VoteSchema = z.strictObject({
  format: z.literal(VOTE_FORMAT),
  network_id: networkId,
  proposal_id: hex64,
  voter: publicKeyHex,
  option: z.enum(VOTE_OPTIONS),
  /** When the vote was cast (the voter's clock; a node refuses dates beyond its clock skew). */
  time_ms: timeMs,
  height: blockHeight.nullable(),
  signature: signatureHex,
});
export type Vote = z.infer<typeof VoteSchema>;

/**
 * The tally a validator saw when voting ended, which its approval signs (Cosmos: validators commit
 * the block whose state holds the tally). `votes_root` is the RFC 6962 Merkle root over the ids of
 * the counted votes (one per holder, in holder order); the totals are the token weights they carry.
 */
export const TallyCommitmentSchema = z.strictObject({
  votes_root: hex64,
  voters: safeUint,
  yes: safeUint,
  no: safeUint,
  abstain: safeUint,
});
export type TallyCommitment = z.infer<typeof TallyCommitmentSchema>;

export const ApprovalSchema = z.strictObject({
  format: z.literal(APPROVAL_FORMAT),
  network_id: networkId,
  proposal_id: hex64,
  /** Signed again so an approval names what it approves without its proposal at hand. */
  version: versionString,
  activation_height: blockHeight,
  validator: publicKeyHex,
  time_ms: timeMs,
  /**
   * null: consent only (a hard fork's approval given while voting is open). Set: the validator
   * attests this tally as final (signed once voting has ended); a certificate needs such
   * attestations of its own tally from validators holding the approval share of stake.
   */
  tally: TallyCommitmentSchema.nullable(),
  signature: signatureHex,
});
export type Approval = z.infer<typeof ApprovalSchema>;

// ---- certificate --------------------------------------------------------------------------------

/** An index into a genesis list of `n` entries. */
const indexBelow = (n: number) =>
  z
    .number()
    .int()
    .min(0)
    .max(n - 1);

/** A vote in a certificate: the holder by index into the genesis snapshot (compact form). */
export const CertificateVoteSchema = z.strictObject({
  holder: indexBelow(MAX_HOLDERS),
  option: z.enum(VOTE_OPTIONS),
  time_ms: timeMs,
  height: blockHeight.nullable(),
  signature: signatureHex,
});
export type CertificateVote = z.infer<typeof CertificateVoteSchema>;
export const CertificateApprovalSchema = z.strictObject({
  validator: indexBelow(MAX_VALIDATORS),
  time_ms: timeMs,
  signature: signatureHex,
});
export type CertificateApproval = z.infer<typeof CertificateApprovalSchema>;

/**
 * The approved-upgrade certificate: the signed proposal and the votes and approvals that carry it,
 * bound to one genesis by its hash. Nobody signs it as a whole: every part is signed by whoever
 * counts, so any node checks it alone against the genesis it pinned.
 */
export const CertificateSchema = z.strictObject({
  format: z.literal(CERTIFICATE_FORMAT),
  network_id: networkId,
  /** SHA-256 of the canonical genesis (signed part) whose snapshot and validators it counts against. */
  genesis_hash: hex64,
  proposal: AnyProposalSchema,
  votes: z.array(CertificateVoteSchema).max(MAX_HOLDERS),
  approvals: z.array(CertificateApprovalSchema).max(MAX_VALIDATORS),
});
export type Certificate = z.infer<typeof CertificateSchema>;

// ---- gossip -------------------------------------------------------------------------------------

/** The governance objects the gossip core carries, by kind. */
export const GOVERNANCE_OBJECT_SCHEMAS = {
  proposal: AnyProposalSchema,
  vote: VoteSchema,
  approval: ApprovalSchema,
  certificate: CertificateSchema,
} as const;
export type GovernanceKind = keyof typeof GOVERNANCE_OBJECT_SCHEMAS;
export type GovernanceObjectOf<K extends GovernanceKind> = z.infer<(typeof GOVERNANCE_OBJECT_SCHEMAS)[K]>;

/** Largest governance object (a full certificate) on the wire: one gossip message. */
export const MAX_GOVERNANCE_OBJECT_BYTES = LIMITS.gossipMessageBytes;
