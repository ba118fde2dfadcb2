/**
 * The gossip wire format, `dchat.gossip/1`. Every message is one JSON object with `format` and
 * `type`; bytes from a peer become a typed message here, once, or a coded error: E_TOO_LARGE past
 * the size cap (checked before decoding), E_UNSUPPORTED for another version of this format,
 * E_MALFORMED for anything else. Decoding never throws.
 */
import { z } from 'zod';
import { DchatError } from '../../errors.ts';
import { ACTIVATION_NOTE_SCHEMAS } from '../../model/activation-notes.ts';
import { VersionAnnouncementSchema } from '../../model/announcement.ts';
import { EnvelopeSchema } from '../../model/attestation.ts';
import { SignedBeaconSchema } from '../../model/beacon.ts';
import { DownloadSourceSchema } from '../../model/download-source.ts';
import { GOVERNANCE_OBJECT_SCHEMAS } from '../../model/governance.ts';
import { LIMITS } from '../../model/limits.ts';
import { hex64, parseJsonBytes, versionString } from '../../model/schema-util.ts';

export const GOSSIP_FORMAT = 'dchat.gossip/1';
const GOSSIP_FORMAT_FAMILY = 'dchat.gossip/';

/** Ids in one IHAVE, IWANT or WANT: a peer cannot make us do more work per message than this. */
export const MAX_IDS_PER_MESSAGE = 64;
/** Releases listed in one digest (the newest ones; older ones are below anybody's highest). */
export const MAX_DIGEST_ENTRIES = 16;
/** Mirrors in one shared list (gossip never carries a whole mirrors.toml). */
export const MAX_SHARED_MIRRORS = 32;

const format = z.literal(GOSSIP_FORMAT);

/**
 * The signed objects the network gossips besides releases, each with its schema. One protocol for
 * every object (DESIGN.md `gossip/`): a new kind (height beacons next) is one entry here and one
 * rule in object-kinds.ts (its replay rule), not a new protocol. Objects are named by a 64-hex id
 * (the host's validator checks it is the hash of the object, see ValidateObject).
 */
export const SIGNED_OBJECT_SCHEMAS = {
  ...GOVERNANCE_OBJECT_SCHEMAS,
  beacon: SignedBeaconSchema,
  /** A rebuild attestation (DSSE envelope of an in-toto statement), traveling with its release. */
  attestation: EnvelopeSchema,
  /** Activation notes: a node's readiness for an approved upgrade, and its rollbacks. */
  ...ACTIVATION_NOTE_SCHEMAS,
} as const;
export type SignedObjectKind = keyof typeof SIGNED_OBJECT_SCHEMAS;
export type SignedObjectOf<K extends SignedObjectKind> = z.infer<(typeof SIGNED_OBJECT_SCHEMAS)[K]>;
export type SignedObject = SignedObjectOf<SignedObjectKind>;
export const SIGNED_OBJECT_KINDS = Object.keys(SIGNED_OBJECT_SCHEMAS) as SignedObjectKind[];

/**
 * What kind of signed object an `announce` or `bundle` carries: releases (a VersionAnnouncement,
 * named by a UUID) and the signed objects above (named by their hash). A kind this node does not
 * know is E_MALFORMED from its sender.
 */
export const OBJECT_KINDS = ['release', ...SIGNED_OBJECT_KINDS] as ['release', ...SignedObjectKind[]];
export type ObjectKind = 'release' | SignedObjectKind;
const kind = z.enum(OBJECT_KINDS);
const announcementId = z.uuid();
/** An IHAVE/IWANT/WANT/digest id: a release's UUID or an object's hash. */
const anyId = z.union([announcementId, hex64]);

/** Objects (not releases) listed in one digest: always the certificates and proposals, then a
 * rotating window over the rest, so repeated exchanges cover everything held. */
export const MAX_DIGEST_OBJECTS = 64;

/** What a node holds, newest first: enough for a peer to see what it misses and ask for it. */
export const DigestSchema = z.object({
  releases: z.array(z.object({ id: announcementId, version: versionString })).max(MAX_DIGEST_ENTRIES),
  /** Absent: no objects (a node that gossips releases only). */
  objects: z
    .array(
      z.object({ kind: z.enum(SIGNED_OBJECT_KINDS as [SignedObjectKind, ...SignedObjectKind[]]), id: hex64 }),
    )
    .max(MAX_DIGEST_OBJECTS)
    .optional(),
});
export type Digest = z.infer<typeof DigestSchema>;

const hops = z.number().int().min(0).max(255);
/** Any object but a release: kind, id, the object, and the hops left (outside every signature). */
function objectBody<K extends SignedObjectKind>(k: K) {
  return {
    kind: z.literal(k),
    id: hex64,
    object: SIGNED_OBJECT_SCHEMAS[k],
    ttl: hops,
    /** The id asked for, when this object superseded it in its slot (object-path.ts serveObjects). */
    answers: hex64.optional(),
  };
}
/** `announce` or `bundle`: a release travels as its VersionAnnouncement (hops in its own `ttl`). */
function carrying<T extends 'announce' | 'bundle'>(type: T) {
  const base = { format, type: z.literal(type) };
  return z.discriminatedUnion('kind', [
    z.object({ ...base, kind: z.literal('release'), announcement: VersionAnnouncementSchema }),
    z.object({ ...base, ...objectBody('proposal') }),
    z.object({ ...base, ...objectBody('vote') }),
    z.object({ ...base, ...objectBody('approval') }),
    z.object({ ...base, ...objectBody('certificate') }),
    z.object({ ...base, ...objectBody('beacon') }),
    z.object({ ...base, ...objectBody('attestation') }),
    z.object({ ...base, ...objectBody('readiness') }),
    z.object({ ...base, ...objectBody('rollback') }),
  ]);
}

const AnnounceSchema = carrying('announce');
/** Reply to WANT (anti-entropy); handled like `announce` but counted apart. */
const BundleSchema = carrying('bundle');
/** A release item carries its version (a peer skips what is not newer without asking); an
 * object item its kind. */
const IhaveItemSchema = z.union([
  z.object({ kind: z.literal('release').optional(), id: announcementId, version: versionString }),
  z.object({ kind: z.enum(SIGNED_OBJECT_KINDS as [SignedObjectKind, ...SignedObjectKind[]]), id: hex64 }),
]);
export type IhaveItem = z.infer<typeof IhaveItemSchema>;
const IhaveSchema = z.object({
  format,
  type: z.literal('ihave'),
  items: z.array(IhaveItemSchema).min(1).max(MAX_IDS_PER_MESSAGE),
});
/** IWANT and WANT name ids of one kind (absent: release). */
const IwantSchema = z.object({
  format,
  type: z.literal('iwant'),
  kind: kind.optional(),
  ids: z.array(anyId).min(1).max(MAX_IDS_PER_MESSAGE),
});
const WantSchema = z.object({
  format,
  type: z.literal('want'),
  kind: kind.optional(),
  ids: z.array(anyId).min(1).max(MAX_IDS_PER_MESSAGE),
});
/** First message on a new connection: mesh intent, what we hold, which mirrors we use. */
const HelloSchema = z.object({
  format,
  type: z.literal('hello'),
  graft: z.boolean(),
  digest: DigestSchema,
  mirrors: z.array(DownloadSourceSchema).max(MAX_SHARED_MIRRORS),
});
const GraftSchema = z.object({ format, type: z.literal('graft') });
const PruneSchema = z.object({ format, type: z.literal('prune') });
/** Periodic anti-entropy; `reply` stops the answer from being answered in turn. */
const DigestMessageSchema = z.object({
  format,
  type: z.literal('digest'),
  digest: DigestSchema,
  reply: z.boolean(),
});
const MirrorsSchema = z.object({
  format,
  type: z.literal('mirrors'),
  sources: z.array(DownloadSourceSchema).max(MAX_SHARED_MIRRORS),
});

export const GossipMessageSchema = z.discriminatedUnion('type', [
  AnnounceSchema,
  BundleSchema,
  IhaveSchema,
  IwantSchema,
  WantSchema,
  HelloSchema,
  GraftSchema,
  PruneSchema,
  DigestMessageSchema,
  MirrorsSchema,
]);
export type GossipMessage = z.infer<typeof GossipMessageSchema>;
export type GossipMessageType = GossipMessage['type'];
export type MessageOf<T extends GossipMessageType> = Extract<GossipMessage, { type: T }>;

/** Every message type, in a fixed order (the simulator indexes its counters by it). */
export const GOSSIP_MESSAGE_TYPES: readonly GossipMessageType[] = [
  'announce',
  'bundle',
  'ihave',
  'iwant',
  'want',
  'hello',
  'graft',
  'prune',
  'digest',
  'mirrors',
];

export type DecodeResult = { ok: true; message: GossipMessage } | { ok: false; error: DchatError };

/** Checks already-decoded JSON against the schemas. */
export function parseGossipMessage(data: unknown): DecodeResult {
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    return fail('E_MALFORMED', 'gossip message is not a JSON object');
  const fmt = (data as { format?: unknown }).format;
  if (typeof fmt === 'string' && fmt !== GOSSIP_FORMAT && fmt.startsWith(GOSSIP_FORMAT_FAMILY))
    return fail('E_UNSUPPORTED', `gossip message format '${fmt.slice(0, 40)}' is not ${GOSSIP_FORMAT}`);
  const r = GossipMessageSchema.safeParse(data);
  if (r.success) return { ok: true, message: r.data };
  const issue = r.error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : '(top)';
  return {
    ok: false,
    error: new DchatError('E_MALFORMED', `gossip message: ${where}: ${issue?.message ?? 'invalid'}`, {
      cause: r.error,
    }),
  };
}

/** Bytes from a peer to a typed message. The size cap is checked before a byte is decoded. */
export function decodeGossipMessage(
  bytes: Uint8Array,
  maxBytes: number = LIMITS.gossipMessageBytes,
): DecodeResult {
  let data: unknown;
  try {
    data = parseJsonBytes(bytes, maxBytes, 'gossip message');
  } catch (err) {
    if (err instanceof DchatError) return { ok: false, error: err };
    return fail('E_MALFORMED', 'gossip message could not be decoded', err);
  }
  return parseGossipMessage(data);
}

/** A message to bytes; E_TOO_LARGE if it would not pass the receiver's cap. */
export function encodeGossipMessage(
  message: GossipMessage,
  maxBytes: number = LIMITS.gossipMessageBytes,
): Uint8Array {
  const bytes = new TextEncoder().encode(JSON.stringify(message));
  if (bytes.byteLength > maxBytes)
    throw new DchatError(
      'E_TOO_LARGE',
      `gossip ${message.type} message is ${bytes.byteLength} bytes, more than the ${maxBytes} allowed`,
    );
  return bytes;
}

function fail(code: 'E_MALFORMED' | 'E_UNSUPPORTED', message: string, cause?: unknown): DecodeResult {
  return { ok: false, error: new DchatError(code, message, cause === undefined ? {} : { cause }) };
}

/** An object message (announce or bundle of any kind but release), as the core handles it. */
export type ObjectMessage = Exclude<MessageOf<'announce'> | MessageOf<'bundle'>, { kind: 'release' }>;
