/**
 * Untrusted TUF metadata bytes -> @tufjs/models objects, with our caps and error codes. Nothing
 * here checks signatures; it only makes sure the document is small enough, well formed, of the
 * expected role, of a spec version we implement, and that every count is bounded.
 */
import {
  Metadata,
  MetadataKind,
  type Root,
  type Snapshot,
  type Targets,
  type Timestamp,
} from '@tufjs/models';
import { z } from 'zod';
import { DchatError } from '../errors.ts';
import { LIMITS } from '../model/limits.ts';
import { parseJsonBytes, parseWith } from '../model/schema-util.ts';

export type RoleName = 'root' | 'timestamp' | 'snapshot' | 'targets';
export type AnyMetadata = Metadata<Root> | Metadata<Timestamp> | Metadata<Snapshot> | Metadata<Targets>;
export interface MetadataByRole {
  root: Metadata<Root>;
  timestamp: Metadata<Timestamp>;
  snapshot: Metadata<Snapshot>;
  targets: Metadata<Targets>;
}

/** The JSON object @tufjs/models reads (its own type is not exported). */
type JSONObject = Parameters<typeof Metadata.fromJSON>[1];
/** A JSON value as @tufjs/models keeps it in `unrecognizedFields` (e.g. a target's `custom`). */
export type JSONValue = JSONObject[string];

/** @tufjs/models types `fromJSON` per kind by overloads; one typed entry per role picks the right one. */
const FROM_JSON: { [R in RoleName]: (data: JSONObject) => MetadataByRole[R] } = {
  root: (d) => Metadata.fromJSON(MetadataKind.Root, d),
  timestamp: (d) => Metadata.fromJSON(MetadataKind.Timestamp, d),
  snapshot: (d) => Metadata.fromJSON(MetadataKind.Snapshot, d),
  targets: (d) => Metadata.fromJSON(MetadataKind.Targets, d),
};

export const DEFAULT_MAX_BYTES: Record<RoleName, number> = {
  root: LIMITS.rootBytes,
  timestamp: LIMITS.timestampBytes,
  snapshot: LIMITS.snapshotBytes,
  targets: LIMITS.targetsBytes,
};

const SignatureSchema = z.object({ keyid: z.string().max(128), sig: z.string().max(1024) });
const EnvelopeSchema = z.object({
  signatures: z.array(SignatureSchema).max(LIMITS.maxSignatures),
  signed: z.looseObject({
    _type: z.string().max(32),
    spec_version: z.string().max(32),
    version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    expires: z.string().max(64),
    keys: z.record(z.string().max(128), z.unknown()).optional(),
    targets: z.record(z.string().max(1024), z.unknown()).optional(),
    meta: z.record(z.string().max(1024), z.unknown()).optional(),
  }),
});

/** Parses one role's metadata. `maxBytes` defaults to the role's cap (or the length a parent signed). */
export function parseMetadata<R extends RoleName>(
  role: R,
  bytes: Uint8Array,
  maxBytes = DEFAULT_MAX_BYTES[role],
): MetadataByRole[R] {
  const json = parseJsonBytes(bytes, maxBytes, `${role} metadata`);
  const env = parseWith(EnvelopeSchema, json, `${role} metadata`);
  const signed = env.signed;
  if (signed._type !== role) {
    throw new DchatError('E_MALFORMED', `expected ${role} metadata, got '${signed._type.slice(0, 32)}'`);
  }
  // TUF §4.3: a client must reject a major spec version it does not implement.
  if (!/^1\.\d+(\.\d+)?$/.test(signed.spec_version)) {
    throw new DchatError(
      'E_UNSUPPORTED',
      `${role} metadata has spec_version ${signed.spec_version.slice(0, 32)}, this client implements 1.x`,
    );
  }
  if (
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(signed.expires) ||
    Number.isNaN(Date.parse(signed.expires))
  ) {
    throw new DchatError(
      'E_MALFORMED',
      `${role} metadata: expires '${signed.expires.slice(0, 64)}' is not YYYY-MM-DDTHH:MM:SSZ`,
    );
  }
  if (signed.keys && Object.keys(signed.keys).length > LIMITS.maxKeys) {
    throw new DchatError('E_TOO_LARGE', `${role} metadata lists more than ${LIMITS.maxKeys} keys`);
  }
  if (signed.targets && Object.keys(signed.targets).length > LIMITS.maxTargets) {
    throw new DchatError('E_TOO_LARGE', `${role} metadata lists more than ${LIMITS.maxTargets} targets`);
  }
  if (signed.meta && Object.keys(signed.meta).length > LIMITS.maxTargets) {
    throw new DchatError('E_TOO_LARGE', `${role} metadata lists more than ${LIMITS.maxTargets} files`);
  }
  // Several signatures under one key id count once (TUF §5.4: distinct keys). Keep the first;
  // @tufjs/models would refuse the whole document, which would let a relay that duplicates a
  // signature make genuine metadata unusable.
  const seen = new Set<string>();
  const signatures = env.signatures.filter((s) => {
    if (seen.has(s.keyid)) return false;
    seen.add(s.keyid);
    return true;
  });
  try {
    // The envelope schema checked the shape; what @tufjs/models reads beyond it, it checks itself.
    return FROM_JSON[role]({ ...(json as JSONObject), signatures } as JSONObject);
  } catch (cause) {
    throw new DchatError('E_MALFORMED', `${role} metadata: ${(cause as Error).message}`, { cause });
  }
}

/** Canonical-free pretty serialisation for files we write (signatures cover `signed`, not layout). */
export function serializeMetadata(md: AnyMetadata): Buffer {
  return Buffer.from(`${JSON.stringify(md.toJSON(), null, 1)}\n`);
}
