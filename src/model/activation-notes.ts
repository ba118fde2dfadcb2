/**
 * Activation notes: two signed facts a node tells the network about an approved upgrade, gossiped
 * as object kinds of the one gossip core like votes and approvals (issue 11):
 *  - readiness (`dchat.readiness/1`): "I pre-downloaded, verified and installed the release of
 *    this proposal (version, package hash) and can switch at its activation height". The share of
 *    validator stake ready is what operators watch before the height (Ethereum's 2021 split: a
 *    hard fork with too few upgraded nodes must be visible before it happens).
 *  - rolled back (`dchat.rollback/1`): "my supervisor switched back from `version` to `to` at
 *    `height` because the new version did not come up healthy", like Android A/B's automatic
 *    revert, told to the network so that governance status shows who rolled back and their stake.
 * A node signs with its validator key when it has one (only validators' stake counts), otherwise
 * with its libp2p identity key (its note is shown with no stake). Signing and ids are those of the
 * governance objects (governance/signing.ts): canonical JSON without `signature`; id = hash.
 * The rules (check, stake count, caps) are pure, in governance/notes.ts.
 */
import { z } from 'zod';
import { MAX_VALIDATORS, networkId, publicKeyHex, signatureHex } from './governance.ts';
import { boundedString, hex64, safeUint, versionString } from './schema-util.ts';

export const READINESS_FORMAT = 'dchat.readiness/1';
export const ROLLBACK_NOTE_FORMAT = 'dchat.rollback/1';

/** A rollback reason as the supervisor words it ("did not report healthy within 30000 ms"). */
export const MAX_ROLLBACK_REASON = 200;

export const ReadinessSchema = z.strictObject({
  format: z.literal(READINESS_FORMAT),
  network_id: networkId,
  /** The approved (or voted) proposal whose release is ready here. */
  proposal_id: hex64,
  version: versionString,
  /** SHA-256 of the installed package: the one the proposal names, or the note counts nothing. */
  release_sha256: hex64,
  activation_height: safeUint,
  signer: publicKeyHex,
  /** When the node signed (its clock); the later note of a signer replaces the earlier one. */
  time_ms: safeUint,
  /** The network height the node knew then (null: none). */
  height: safeUint.nullable(),
  signature: signatureHex,
});
export type Readiness = z.infer<typeof ReadinessSchema>;

export const RollbackNoteSchema = z.strictObject({
  format: z.literal(ROLLBACK_NOTE_FORMAT),
  network_id: networkId,
  /** The version that did not come up healthy, and the one the node went back to. */
  version: versionString,
  to: versionString,
  /** The proposal that activated `version` (null: an auto-update, no governance). */
  proposal_id: hex64.nullable(),
  /** The network height of the switch that was undone (null: not known). */
  height: safeUint.nullable(),
  reason: boundedString.max(MAX_ROLLBACK_REASON),
  signer: publicKeyHex,
  time_ms: safeUint,
  signature: signatureHex,
});
export type RollbackNote = z.infer<typeof RollbackNoteSchema>;

/** The activation-note kinds the gossip core carries, by kind. */
export const ACTIVATION_NOTE_SCHEMAS = {
  readiness: ReadinessSchema,
  rollback: RollbackNoteSchema,
} as const;
export type ActivationNoteKind = keyof typeof ACTIVATION_NOTE_SCHEMAS;

/**
 * Notes of each kind a node holds from signers that are not validators of its genesis: beyond
 * this, a new such signer's note is refused (E_BUSY, no penalty). Anyone can make keys; the cap
 * bounds memory and keeps room for every validator (MAX_VALIDATORS) below MAX_NOTES_HELD.
 */
export const MAX_NODE_NOTES = 1024;
/** What the gossip core holds of each note kind (oldest dropped first, never reached in practice). */
export const MAX_NOTES_HELD = MAX_NODE_NOTES + 2 * MAX_VALIDATORS;
