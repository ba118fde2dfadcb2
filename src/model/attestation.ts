/**
 * Rebuild attestations: an independent builder's signed statement that rebuilding a release from
 * its source gave these bytes. The layout is in-toto's (Statement v1 with an SLSA Provenance v1
 * predicate) inside a DSSE envelope signed with Ed25519, so in-toto and SLSA tooling read it.
 * Mirrors keep the attestations of one package as JSON lines in
 * `packages/<target name>.intoto.jsonl` beside it (the in-toto bundle convention); a home keeps
 * those it fetched the same way beside its verified package.
 */
import { z } from 'zod';
import { boundedString, hex64, platformString, versionString } from './schema-util.ts';

export const DSSE_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const SLSA_PROVENANCE = 'https://slsa.dev/provenance/v1';
export const DCHAT_BUILD_TYPE = 'https://dchat.network/release-build/v1';
/** A builder id names its Ed25519 public key, so the statement alone says who must have signed. */
export const BUILDER_ID_PREFIX = 'urn:dchat:builder:ed25519:';
/** The byproduct that says whether the rebuild matched the published target. */
export const COMPARISON_BYPRODUCT = 'dchat.rebuild-comparison';

/** Caps: an attestation is about 2 KiB; a bundle holds one per builder. */
export const MAX_ATTESTATION_BYTES = 64 * 1024;
export const MAX_ATTESTATIONS_PER_PACKAGE = 256;
export const MAX_BUNDLE_BYTES = MAX_ATTESTATIONS_PER_PACKAGE * MAX_ATTESTATION_BYTES;

const base64Upto = (n: number) =>
  z
    .string()
    .max(n)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');

export const EnvelopeSchema = z.strictObject({
  payloadType: z.literal(DSSE_PAYLOAD_TYPE),
  payload: base64Upto(MAX_ATTESTATION_BYTES),
  signatures: z
    .array(z.strictObject({ keyid: z.string().max(128).optional(), sig: base64Upto(256) }))
    .min(1)
    .max(8),
});
export type Envelope = z.infer<typeof EnvelopeSchema>;

const digestSet = z.looseObject({ sha256: hex64, blake3: hex64.optional() });
const resource = z.looseObject({
  uri: boundedString.optional(),
  name: boundedString.optional(),
  digest: z.record(z.string().max(32), z.string().max(128)).optional(),
  annotations: z.record(z.string().max(64), z.unknown()).optional(),
});

export const StatementSchema = z.looseObject({
  _type: z.literal(STATEMENT_TYPE),
  subject: z
    .array(z.looseObject({ name: boundedString, digest: digestSet }))
    .min(1)
    .max(16),
  predicateType: z.literal(SLSA_PROVENANCE),
  predicate: z.looseObject({
    buildDefinition: z.looseObject({
      buildType: z.literal(DCHAT_BUILD_TYPE),
      externalParameters: z.looseObject({
        version: versionString,
        platform: platformString,
        source: z.looseObject({
          commit: z
            .string()
            .regex(/^[0-9a-f]{40}$/)
            .nullable(),
          dirty: z.boolean(),
        }),
      }),
      resolvedDependencies: z.array(resource).max(64).optional(),
    }),
    runDetails: z.looseObject({
      builder: z.looseObject({ id: z.string().startsWith(BUILDER_ID_PREFIX).max(200) }),
      metadata: z.looseObject({ finishedOn: z.iso.datetime().optional() }).optional(),
      byproducts: z.array(resource).max(16).optional(),
    }),
  }),
});
export type Statement = z.infer<typeof StatementSchema>;

/** DSSE's pre-authentication encoding: what the signature covers (type and payload, framed). */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `),
    type,
    Buffer.from(` ${payload.length} `),
    payload,
  ]);
}

export function builderId(publicHex: string): string {
  return `${BUILDER_ID_PREFIX}${publicHex}`;
}

/**
 * Where an attestation belongs, read from its payload without checking it: the package it is about
 * and the builder key it names (gossip files it in that slot; one per builder and package).
 * Undefined for anything that does not decode.
 */
export function attestationSlotOf(
  env: Envelope,
): { target: string; builder: string; time: string } | undefined {
  try {
    const st = StatementSchema.safeParse(JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')));
    if (!st.success) return undefined;
    const target = st.data.subject[0]?.name;
    if (target === undefined) return undefined;
    return {
      target,
      builder: st.data.predicate.runDetails.builder.id.slice(BUILDER_ID_PREFIX.length),
      time: st.data.predicate.runDetails.metadata?.finishedOn ?? '',
    };
  } catch {
    return undefined;
  }
}
