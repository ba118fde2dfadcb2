/**
 * The gossip wire format, `dchat.gossip/1`. Every message is one JSON object with `format` and
 * `type`; bytes from a peer become a typed message here, once, or a coded error: E_TOO_LARGE past
 * the size cap (checked before decoding), E_UNSUPPORTED for another version of this format,
 * E_MALFORMED for anything else. Decoding never throws.
 */
import { z } from 'zod';
import { DchatError } from '../../errors.ts';
import { VersionAnnouncementSchema } from '../../model/announcement.ts';
import { DownloadSourceSchema } from '../../model/download-source.ts';
import { LIMITS } from '../../model/limits.ts';
import { parseJsonBytes, versionString } from '../../model/schema-util.ts';

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
 * What kind of signed object an `announce` or `bundle` carries. One protocol for every object the
 * network gossips (DESIGN.md `gossip/`): a new kind (governance proposals, votes, approvals,
 * height beacons) is a new value here with its own validation and replay rule in the core, not a
 * new protocol. A kind this node does not know is E_MALFORMED from its sender.
 */
export const OBJECT_KINDS = ['release'] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];
const kind = z.enum(OBJECT_KINDS);
const announcementId = z.uuid();

/** What a node holds, newest first: enough for a peer to see what it misses and ask for it. */
export const DigestSchema = z.object({
  releases: z.array(z.object({ id: announcementId, version: versionString })).max(MAX_DIGEST_ENTRIES),
});
export type Digest = z.infer<typeof DigestSchema>;

const AnnounceSchema = z.object({
  format,
  type: z.literal('announce'),
  kind,
  announcement: VersionAnnouncementSchema,
});
/** Reply to WANT (anti-entropy); handled like `announce` but counted apart. */
const BundleSchema = z.object({
  format,
  type: z.literal('bundle'),
  kind,
  announcement: VersionAnnouncementSchema,
});
const IhaveSchema = z.object({
  format,
  type: z.literal('ihave'),
  items: z
    .array(z.object({ id: announcementId, version: versionString }))
    .min(1)
    .max(MAX_IDS_PER_MESSAGE),
});
const IwantSchema = z.object({
  format,
  type: z.literal('iwant'),
  ids: z.array(announcementId).min(1).max(MAX_IDS_PER_MESSAGE),
});
const WantSchema = z.object({
  format,
  type: z.literal('want'),
  ids: z.array(announcementId).min(1).max(MAX_IDS_PER_MESSAGE),
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
