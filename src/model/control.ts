/**
 * The CLI <-> node control protocol (DESIGN.md `update/`, "Wire and disk formats"): one request and
 * one response per connection over the node's owner-only unix socket, each a JSON object carrying
 * `format: "dchat.control/1"`. Requests are a union discriminated by `method`; each method has a
 * result schema, so both ends check what they receive. A request of another format version is
 * refused with E_PROTOCOL (never guessed at); keys are snake_case throughout.
 */
import { z } from 'zod';
import { DownloadSourceSchema } from './download-source.ts';
import { GOVERNANCE_CONTROL_METHODS } from './governance-control.ts';
import { boundedString, platformString, safeUint, versionString } from './schema-util.ts';
import { SOURCE_KINDS } from './source-kind.ts';

export const CONTROL_FORMAT = 'dchat.control/1';

const peerId = z.string().min(1).max(128);

export const StatusParamsSchema = z.strictObject({});
export const AnnounceParamsSchema = z.strictObject({
  version: versionString.optional(),
  ttl: z.number().int().min(0).max(255).optional(),
});
export const DownloadParamsSchema = z.strictObject({
  version: versionString,
  platform: platformString,
  /** Only this kind of source (e.g. `peer` for `update download --source peer`); default all. */
  only: z.enum(SOURCE_KINDS).optional(),
});

/**
 * What `node status` answers. Fields named here are checked; a node may add more (newer parts of
 * it report more), which a client passes through untouched.
 */
export const StatusResultSchema = z.looseObject({
  peer_id: peerId,
  role: z.string().max(32),
  pid: safeUint,
  started_at: z.string().max(64),
  addresses: z.array(boundedString).max(64),
  connected_peers: z.array(z.object({ id: peerId, score: z.number() })).max(10_000),
  banned_peers: z.array(peerId).max(10_000),
  releases: z.object({
    highest_trusted: versionString.nullable(),
    announcements: z
      .array(z.object({ id: boundedString, version: versionString, node_id: boundedString }))
      .max(10_000),
    packages: z
      .array(
        z.object({
          target: boundedString,
          version: versionString,
          platform: platformString,
          verified: z.literal(true),
          source: z.enum(SOURCE_KINDS),
          verified_at: z.string().max(64),
          /** Downloaded in this run: the bytes fetched and, through a patch (issue 14), which and what it saved. */
          fetched: z
            .object({
              bytes: safeUint,
              patch: boundedString.nullable(),
              saved_bytes: safeUint,
            })
            .optional(),
        }),
      )
      .max(10_000),
    downloads: z
      .array(
        z.object({
          target: boundedString,
          version: versionString,
          state: z.enum(['downloading', 'verified', 'failed']),
          attempts: safeUint,
          error: boundedString.optional(),
          /** Verified bytes from each source of the last attempt (peer ids, mirror URLs). */
          peers: z.record(boundedString, safeUint).optional(),
          sources: z.record(boundedString, safeUint).optional(),
        }),
      )
      .max(10_000),
  }),
  mirrors: z.array(DownloadSourceSchema).max(10_000),
  /** Counters by component (gossip, adapter, chunks...); field names snake_case. */
  stats: z.record(z.string().max(64), z.unknown()),
  limits: z.record(z.string().max(64), z.number()),
});

export const AnnounceResultSchema = z.object({
  id: boundedString,
  version: versionString,
  ttl: z.number().int(),
});

export const DownloadResultSchema = z.object({
  path: boundedString,
  target: boundedString,
  /** Where the bytes came from: `cache` when the node already held it, else the kinds used. */
  source: z.enum(SOURCE_KINDS),
  /** Verified bytes per peer id. */
  peers: z.record(peerId, safeUint),
  /** Verified bytes per source (mirror URL, or the peer source), this run. */
  sources: z
    .array(z.object({ url: boundedString, type: z.enum(SOURCE_KINDS), bytes: safeUint, chunks: safeUint }))
    .max(1000),
});

/**
 * Chaos (`dchat-test chaos-partition`): refuse these peers both ways, through the connection gater,
 * for `ms`; connections to them are closed now. The node redials its bootstrap peers afterwards.
 */
export const PartitionParamsSchema = z.strictObject({
  peers: z.array(peerId).max(1024),
  ms: z.number().int().min(1).max(3_600_000),
});
export const PartitionResultSchema = z.object({ refused: safeUint, until: z.string().max(64) });

export const CONTROL_METHODS = {
  status: { params: StatusParamsSchema, result: StatusResultSchema },
  announce: { params: AnnounceParamsSchema, result: AnnounceResultSchema },
  download: { params: DownloadParamsSchema, result: DownloadResultSchema },
  partition: { params: PartitionParamsSchema, result: PartitionResultSchema },
  ...GOVERNANCE_CONTROL_METHODS,
} as const;

export type ControlMethod = keyof typeof CONTROL_METHODS;
export type ControlParams<M extends ControlMethod> = z.input<(typeof CONTROL_METHODS)[M]['params']>;
export type ControlResult<M extends ControlMethod> = z.infer<(typeof CONTROL_METHODS)[M]['result']>;
export type StatusResult = ControlResult<'status'>;

/** The envelope of every request: format, method, params (checked per method by the server). */
export const ControlRequestSchema = z.object({
  format: z.string().max(64),
  method: z.string().min(1).max(64),
  params: z.record(z.string(), z.unknown()).default({}),
});

export const ControlResponseSchema = z.discriminatedUnion('ok', [
  z.object({ format: z.literal(CONTROL_FORMAT), ok: z.literal(true), result: z.unknown() }),
  z.object({
    format: z.literal(CONTROL_FORMAT),
    ok: z.literal(false),
    error: z.object({ code: z.string().max(64), message: z.string().max(4096) }),
  }),
]);
export type ControlResponse = z.infer<typeof ControlResponseSchema>;

export function isControlMethod(m: string): m is ControlMethod {
  return Object.hasOwn(CONTROL_METHODS, m);
}
