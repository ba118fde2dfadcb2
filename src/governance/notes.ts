/**
 * The rules of activation notes (model/activation-notes.ts): readiness and rolled-back notes.
 * Pure: the genesis, the objects and the node's clock come in as arguments.
 *  - check: the id is the hash, the network is ours, the signature verifies under the signer it
 *    names, it is not dated beyond the clock skew; a signer that is not a validator is taken only
 *    while fewer than MAX_NODE_NOTES such signers are held (E_BUSY otherwise: no penalty).
 *  - count: the stake ready for a proposal is the sum over distinct validators of the genesis
 *    whose valid readiness names exactly that proposal, its version and its package hash. Order
 *    and repeats never matter (the latest note of each validator is the one taken, ties by id,
 *    which is also the gossip core's replay rule: object-kinds.ts).
 *  - rollbacks: the notes as governance status lists them: who (validator name or key), stake.
 */
import type { KeyObject } from 'node:crypto';
import { rawPublicKeyHex } from '../crypto/ed25519.ts';
import {
  type ActivationNoteKind,
  MAX_NODE_NOTES,
  READINESS_FORMAT,
  type Readiness,
  ROLLBACK_NOTE_FORMAT,
  type RollbackNote,
} from '../model/activation-notes.ts';
import type { Proposal } from '../model/governance.ts';
import type { TrustedGenesis } from './genesis.ts';
import { objectId, signObject, verifyObject } from './signing.ts';
import { OK, refuse, type Verdict } from './verdict.ts';

export type ActivationNote = Readiness | RollbackNote;

export interface NoteCheckContext {
  /** The node's clock (ms): notes dated beyond it plus the genesis' clock skew wait. */
  now_ms: number;
  /** Whether a note of `kind` by `signer` is held now (a newer one from a held signer is fine). */
  holds(kind: ActivationNoteKind, signer: string): boolean;
  /** Signers that are not validators, held now for `kind`. */
  nodeSigners(kind: ActivationNoteKind): number;
}

export function checkNote(
  g: TrustedGenesis,
  kind: ActivationNoteKind,
  id: string,
  note: ActivationNote,
  ctx: NoteCheckContext,
): Verdict {
  if (objectId(note) !== id) return refuse('E_MALFORMED', `${kind} id is not the hash of the note`);
  const format = kind === 'readiness' ? READINESS_FORMAT : ROLLBACK_NOTE_FORMAT;
  if (note.format !== format) return refuse('E_MALFORMED', `a ${kind} note must have format ${format}`);
  if (note.network_id !== g.networkId)
    return refuse(
      'E_WRONG_NETWORK',
      `${kind} note is for network ${note.network_id}, this is ${g.networkId}`,
    );
  if (!verifyObject(note.signer, note))
    return refuse('E_SIGNATURE', `the ${kind} note's signature does not verify`);
  if (note.time_ms > ctx.now_ms + g.body.params.max_clock_skew_ms)
    return refuse('E_BUSY', `${kind} note dated in the future; taken later`);
  if (
    !g.validatorIndex.has(note.signer) &&
    !ctx.holds(kind, note.signer) &&
    ctx.nodeSigners(kind) >= MAX_NODE_NOTES
  )
    return refuse('E_BUSY', `${kind} notes of ${MAX_NODE_NOTES} non-validator nodes held already`);
  return OK;
}

/** What a readiness note must name of its proposal (a Proposal or an approved plan has it). */
export type ReadyFor = Pick<Proposal, 'version' | 'release_sha256' | 'activation_height'>;

/** Whether a genuine readiness note is for exactly this proposal (id, version, package hash). */
export function readinessMatches(p: ReadyFor, proposalId: string, r: Readiness): boolean {
  return (
    r.proposal_id === proposalId &&
    r.version === p.version &&
    r.release_sha256 === p.release_sha256 &&
    r.activation_height === p.activation_height
  );
}

export interface ReadyValidator {
  key_id: string;
  public_key: string;
  stake: number;
  time_ms: number;
  height: number | null;
}

export interface ReadyStake {
  ready_stake: number;
  total_stake: number;
  /** ready_stake / total_stake, rounded down to 4 decimals, as a share string ("0.7000"). */
  ready_share: string;
  /** Validators ready, by genesis order. */
  validators: ReadyValidator[];
}

/**
 * Stake ready for a proposal from `notes` (any order; forged, foreign, mismatched ones count
 * nothing). A validator whose valid rollback note for this version is later than its readiness
 * is not ready any more: its supervisor went back.
 */
export function readyStake(
  g: TrustedGenesis,
  p: ReadyFor,
  proposalId: string,
  notes: readonly Readiness[],
  rollbacks: readonly RollbackNote[] = [],
): ReadyStake {
  const by = new Map<number, { r: Readiness; id: string }>();
  for (const r of notes) {
    const i = g.validatorIndex.get(r.signer);
    if (i === undefined || r.network_id !== g.networkId || r.format !== READINESS_FORMAT) continue;
    if (!readinessMatches(p, proposalId, r) || !verifyObject(r.signer, r)) continue;
    const id = objectId(r);
    const held = by.get(i);
    if (!held || r.time_ms > held.r.time_ms || (r.time_ms === held.r.time_ms && id < held.id))
      by.set(i, { r, id });
  }
  for (const n of rollbacks) {
    const i = g.validatorIndex.get(n.signer);
    const held = i === undefined ? undefined : by.get(i);
    if (i === undefined || !held || n.version !== p.version || n.time_ms < held.r.time_ms) continue;
    if (n.network_id === g.networkId && n.format === ROLLBACK_NOTE_FORMAT && verifyObject(n.signer, n))
      by.delete(i);
  }
  const validators = [...by.keys()]
    .sort((a, b) => a - b)
    .map((i) => {
      const v = g.body.validators[i] as { key_id: string; public_key: string; stake: number };
      const r = (by.get(i) as { r: Readiness }).r;
      return {
        key_id: v.key_id,
        public_key: v.public_key,
        stake: v.stake,
        time_ms: r.time_ms,
        height: r.height,
      };
    });
  const stake = validators.reduce((s, v) => s + v.stake, 0);
  return {
    ready_stake: stake,
    total_stake: g.totalStake,
    ready_share: shareString(stake, g.totalStake),
    validators,
  };
}

/** n/d rounded down to 4 decimals ("0.6667"); "0.0000" when d is 0. */
export function shareString(n: number, d: number): string {
  if (d <= 0) return '0.0000';
  const bps = Number((BigInt(n) * 10_000n) / BigInt(d));
  return `${Math.floor(bps / 10_000)}.${String(bps % 10_000).padStart(4, '0')}`;
}

export interface RollbackEntry {
  version: string;
  to: string;
  proposal_id: string | null;
  height: number | null;
  reason: string;
  signer: string;
  /** The validator's name, or null for a node that is not a validator. */
  key_id: string | null;
  stake: number;
  time_ms: number;
}

/** Valid rollback notes as status lists them, newest first, at most `max`. */
export function rollbackEntries(
  g: TrustedGenesis,
  notes: readonly RollbackNote[],
  max: number,
): RollbackEntry[] {
  return notes
    .filter(
      (n) => n.network_id === g.networkId && n.format === ROLLBACK_NOTE_FORMAT && verifyObject(n.signer, n),
    )
    .map((n) => ({ n, id: objectId(n) }))
    .sort((a, b) => b.n.time_ms - a.n.time_ms || (a.id < b.id ? -1 : 1))
    .slice(0, max)
    .map(({ n }) => {
      const i = g.validatorIndex.get(n.signer);
      const v = i === undefined ? undefined : g.body.validators[i];
      return {
        version: n.version,
        to: n.to,
        proposal_id: n.proposal_id,
        height: n.height,
        reason: n.reason,
        signer: n.signer,
        key_id: v?.key_id ?? null,
        stake: v?.stake ?? 0,
        time_ms: n.time_ms,
      };
    });
}

// ---- making notes (the node signs its own) ----------------------------------------------------

export function buildReadiness(
  key: KeyObject,
  body: Omit<Readiness, 'format' | 'signer' | 'signature'>,
): Readiness {
  return signObject(key, { format: READINESS_FORMAT, ...body, signer: rawPublicKeyHex(key) } as Omit<
    Readiness,
    'signature'
  >);
}

export function buildRollbackNote(
  key: KeyObject,
  body: Omit<RollbackNote, 'format' | 'signer' | 'signature'>,
): RollbackNote {
  return signObject(key, { format: ROLLBACK_NOTE_FORMAT, ...body, signer: rawPublicKeyHex(key) } as Omit<
    RollbackNote,
    'signature'
  >);
}
