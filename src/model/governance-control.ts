/**
 * The governance methods of the control protocol (model/control.ts): the CLI signs with the
 * holder's or validator's key itself (keys never reach the node), so it first asks the node what
 * to sign against (`governance_context`), then hands the signed object over
 * (`governance_submit`), and reads the state with `governance_status`.
 */
import { z } from 'zod';
import {
  AnyProposalSchema,
  ApprovalSchema,
  CertificateSchema,
  FORK_TYPES,
  GovernanceParamsSchema,
  MAX_PROPOSAL_MIRRORS,
  MAX_VALIDATORS,
  networkId,
  publicKeyHex,
  TallyCommitmentSchema,
  VoteSchema,
} from './governance.ts';
import { boundedString, hex64, safeUint, versionString } from './schema-util.ts';

/** Proposals listed in one status answer (newest first). */
export const MAX_STATUS_PROPOSALS = 256;
/** Rollback notes listed in one status answer (newest first). */
export const MAX_STATUS_ROLLBACKS = 64;

const chainPoint = z.object({ height: safeUint.nullable(), time_ms: safeUint });

export const GovernanceContextParamsSchema = z.strictObject({
  /** The release to propose: the node answers the signed-targets hashes it trusts for it. */
  version: versionString.optional(),
});
export const GovernanceContextResultSchema = z.object({
  network_id: networkId,
  genesis_hash: hex64,
  params: GovernanceParamsSchema,
  now: chainPoint,
  /** The release as the node's trusted TUF targets list it (null: not trusted here). */
  release: z.object({ targets_hash: hex64, release_sha256: hex64 }).nullable(),
});

export const GovernanceSubmitParamsSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('proposal'), object: AnyProposalSchema }),
  z.strictObject({ kind: z.literal('vote'), object: VoteSchema }),
  z.strictObject({ kind: z.literal('approval'), object: ApprovalSchema }),
]);
export const GovernanceSubmitResultSchema = z.object({
  kind: z.enum(['proposal', 'vote', 'approval']),
  id: hex64,
});

export const GovernanceStatusParamsSchema = z.strictObject({ proposal: hex64.optional() });

const tallySchema = z.object({
  yes: safeUint,
  no: safeUint,
  abstain: safeUint,
  voted: safeUint,
  total_weight: safeUint,
  voters: safeUint,
  quorum: z.string().max(16),
  threshold: z.string().max(16),
  quorum_reached: z.boolean(),
  passed: z.boolean(),
});

export const ProposalStatusSchema = z.object({
  id: hex64,
  /** upgrade, or genesis: a genesis change (it names no release: version 0.0.0 at height 0). */
  kind: z.enum(['upgrade', 'genesis']),
  /** A genesis change: the proposed genesis version and hash. */
  genesis: z.object({ version: safeUint, hash: hex64 }).nullable(),
  title: boundedString,
  version: versionString,
  fork: z.enum(FORK_TYPES),
  min_compatible_version: versionString,
  proposer: publicKeyHex,
  activation_height: safeUint,
  ipfs_cid: boundedString,
  mirrors: z.array(boundedString).max(MAX_PROPOSAL_MIRRORS),
  /** voting | passed (awaiting approval or certificate) | rejected | approved (certificate held). */
  status: z.enum(['voting', 'passed', 'rejected', 'approved']),
  submit_time_ms: safeUint,
  submit_height: safeUint.nullable(),
  voting_end_time_ms: safeUint,
  voting_end_height: safeUint.nullable(),
  /** Until the end of voting (0 once over; null: the node knows no height). */
  blocks_left: safeUint.nullable(),
  time_left_ms: safeUint,
  tally: tallySchema,
  approving_stake: safeUint,
  total_stake: safeUint,
  approval_threshold: z.string().max(16),
  approval_reached: z.boolean(),
  /**
   * Once voting has ended: the tally commitment of the votes this node holds (what a validator's
   * approval signs now), and the stake of approvals attesting exactly it.
   */
  tally_commitment: TallyCommitmentSchema.nullable(),
  attesting_stake: safeUint,
  /** The approved-upgrade certificate once held: its id and the certificate itself. */
  certificate: z.object({ id: hex64, certificate: CertificateSchema }).nullable(),
  /**
   * Readiness (signed `readiness` notes held here, governance/notes.ts): validators' stake whose
   * node pre-downloaded, verified and installed exactly this release; its share of all stake
   * ("0.7000", rounded down); and which validators.
   */
  ready_stake: safeUint,
  ready_share: z.string().max(16),
  ready_validators: z
    .array(
      z.object({
        key_id: boundedString,
        public_key: publicKeyHex,
        stake: safeUint,
        time_ms: safeUint,
        height: safeUint.nullable(),
      }),
    )
    .max(MAX_VALIDATORS),
});
export type ProposalStatus = z.infer<typeof ProposalStatusSchema>;

export const RollbackEntrySchema = z.object({
  version: versionString,
  to: versionString,
  proposal_id: hex64.nullable(),
  height: safeUint.nullable(),
  reason: boundedString,
  signer: publicKeyHex,
  /** The validator's name; null: a node that is not a validator (stake 0). */
  key_id: boundedString.nullable(),
  stake: safeUint,
  time_ms: safeUint,
});
export type RollbackEntry = z.infer<typeof RollbackEntrySchema>;

export const GovernanceStatusResultSchema = z.object({
  network_id: networkId,
  genesis_hash: hex64,
  now: chainPoint,
  /** The genesis' expected time between blocks (countdowns in time from blocks left). */
  block_interval_ms: safeUint,
  proposals: z.array(ProposalStatusSchema).max(MAX_STATUS_PROPOSALS),
  /** Signed "rolled back" notes held here, newest first: who (validator name or key) and stake. */
  rollbacks: z.array(RollbackEntrySchema).max(MAX_STATUS_ROLLBACKS),
});
export type GovernanceStatusResult = z.infer<typeof GovernanceStatusResultSchema>;

export const GOVERNANCE_CONTROL_METHODS = {
  governance_context: { params: GovernanceContextParamsSchema, result: GovernanceContextResultSchema },
  governance_submit: { params: GovernanceSubmitParamsSchema, result: GovernanceSubmitResultSchema },
  governance_status: { params: GovernanceStatusParamsSchema, result: GovernanceStatusResultSchema },
} as const;
