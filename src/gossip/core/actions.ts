import type { ErrorCode } from '../../errors.ts';
import type { VersionAnnouncement } from '../../model/announcement.ts';
import type { GossipMessage, SignedObject, SignedObjectKind } from './messages.ts';

/**
 * What the core asks its host to do, drained with `poll()` after every input (quinn-proto's
 * poll_transmit / poll). The host performs them; the core never does I/O itself.
 */
export type GossipAction<P> =
  /** Send `message` to `to` (the host encodes it; the same object may go to several peers). */
  | { type: 'send'; to: P; message: GossipMessage }
  /** A new, valid release was accepted: download it, update trust state, tell the UI. */
  | {
      type: 'accepted';
      announcement: VersionAnnouncement;
      from: P | undefined;
      via: AcceptedVia;
      /** What the validator returned with its verdict (e.g. the trusted state the bundle leads to). */
      proof: unknown;
    }
  /** A new, valid signed object (proposal, vote, ...) was accepted: `replaced` is the id it superseded. */
  | {
      type: 'object';
      kind: SignedObjectKind;
      id: string;
      object: SignedObject;
      replaced: string | undefined;
      from: P | undefined;
      via: AcceptedVia;
      proof: unknown;
    }
  /** A message from `from` was dropped for a reason that cost the peer score (for metrics and logs). */
  | { type: 'rejected'; from: P; code: ErrorCode; reason: RejectReason }
  /** Close the connection to `peer` and refuse it until the ban ends. */
  | { type: 'disconnect'; peer: P; reason: string }
  /** The learned mirror list changed; read it with `mirrors()`. */
  | { type: 'mirrors-changed' };

/** Receives drained actions without one object per send being built (see GossipNode.drainTo). */
export interface GossipActionSink<P> {
  send(to: P, message: GossipMessage): void;
  action(action: Exclude<GossipAction<P>, { type: 'send' }>): void;
}

/** How an accepted release arrived: eager push or IWANT reply, anti-entropy WANT reply, or our own publish. */
export type AcceptedVia = 'push' | 'sync' | 'local';

export type RejectReason =
  | 'invalid'
  | 'malformed'
  | 'too-large'
  | 'rate-limited'
  | 'validate-rate-limited'
  | 'broken-promise'
  | 'bad-chunk';

/**
 * Result of the injected announcement check (the real one runs the TUF client update, synchronously,
 * over bytes in memory). `proof` is opaque to the core and handed back with `accepted`, so the
 * host applies exactly what was verified (the node: the trusted state to persist) without a
 * second check.
 */
export type ValidationResult =
  | { ok: true; proof?: unknown }
  | { ok: false; code: ErrorCode; reason?: string };
export type ValidateAnnouncement = (announcement: VersionAnnouncement) => ValidationResult;
/**
 * The injected check of a signed object: that `id` is the object's hash and that its signatures
 * and signers count (the node's governance rules against its pinned genesis). Synchronous, like
 * the release check. Absent: the node takes no objects (they are ignored, never relayed).
 */
export type ValidateObject = (kind: SignedObjectKind, id: string, object: SignedObject) => ValidationResult;

/** Counters a node keeps about what it saw (exported as metrics by the node, summed by the simulator). */
export interface GossipStats {
  accepted: number;
  duplicates: number;
  /** Announcements at or below the highest known version: ignored, not relayed, not penalised. */
  replaysIgnored: number;
  invalid: number;
  malformed: number;
  tooLarge: number;
  rateLimited: number;
  /** Messages ignored because their sender's score is below the graylist threshold. */
  graylisted: number;
  /** Announcements dropped unchecked because their sender spent its validation budget. */
  validateRateLimited: number;
  brokenPromises: number;
  disconnects: number;
  /** Messages from peers we are not connected to (late deliveries after a disconnect). */
  strangers: number;
}

export function emptyStats(): GossipStats {
  return {
    accepted: 0,
    duplicates: 0,
    replaysIgnored: 0,
    invalid: 0,
    malformed: 0,
    tooLarge: 0,
    rateLimited: 0,
    graylisted: 0,
    validateRateLimited: 0,
    brokenPromises: 0,
    disconnects: 0,
    strangers: 0,
  };
}
