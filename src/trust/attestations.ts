/**
 * Counting rebuild attestations (pure). An attestation counts toward a release when its DSSE
 * signature verifies under the Ed25519 key its builder id names, its subject is this package
 * (target name, SHA-256 and, when given, BLAKE3 equal to the signed target's), and its builder has
 * not been counted already: one key, one vote, however many envelopes it signed. When the network
 * names its builders, other keys do not count either. Everything else is reported with a reason,
 * never thrown: a mirror can serve junk next to good attestations without hiding them.
 */
import { verifyEd25519 } from '../crypto/ed25519.ts';
import { sha256Hex } from '../crypto/hash.ts';
import {
  BUILDER_ID_PREFIX,
  type Envelope,
  EnvelopeSchema,
  MAX_ATTESTATION_BYTES,
  MAX_ATTESTATIONS_PER_PACKAGE,
  preAuthEncoding,
  type Statement,
  StatementSchema,
} from '../model/attestation.ts';
import type { SigningKey } from './keys.ts';

export type RejectReason =
  | 'malformed'
  | 'forged'
  | 'wrong_subject'
  | 'duplicate_builder'
  | 'untrusted_builder'
  | 'too_many';

export interface AttestationCount {
  /** Distinct builders (public keys, hex) whose rebuild gave exactly the signed package. */
  matching: { builder: string; commit: string | null }[];
  rejected: { builder?: string; reason: RejectReason; detail: string }[];
}

export interface AttestedTarget {
  name: string;
  sha256: string;
  blake3: string;
}

/** Key id of a builder key: SHA-256 of its raw public key (DSSE `keyid` is only a hint). */
export const builderKeyId = (publicHex: string) => sha256Hex(Buffer.from(publicHex, 'hex'));

export function signStatement(statement: Statement, key: SigningKey): Envelope {
  const payload = Buffer.from(JSON.stringify(statement), 'utf8');
  const env = { payloadType: 'application/vnd.in-toto+json' as const, payload };
  const sig = key.signer(preAuthEncoding(env.payloadType, payload));
  return {
    payloadType: env.payloadType,
    payload: payload.toString('base64'),
    signatures: [{ keyid: builderKeyId(key.publicHex), sig: Buffer.from(sig.sig, 'hex').toString('base64') }],
  };
}

/** The envelopes of a `.intoto.jsonl` bundle; lines that are not envelopes are counted apart. */
export function parseBundle(text: string): { envelopes: unknown[]; lines: number } {
  const envelopes: unknown[] = [];
  let lines = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    lines++;
    if (line.length > MAX_ATTESTATION_BYTES * 2) {
      envelopes.push(undefined);
      continue;
    }
    try {
      envelopes.push(JSON.parse(line));
    } catch {
      envelopes.push(undefined);
    }
  }
  return { envelopes, lines };
}

/** Opens one envelope: the statement, if its signature verifies under the key its builder names. */
export function openEnvelope(
  raw: unknown,
):
  | { ok: true; statement: Statement; builder: string }
  | { ok: false; reason: RejectReason; detail: string; builder?: string } {
  const env = EnvelopeSchema.safeParse(raw);
  if (!env.success)
    return { ok: false, reason: 'malformed', detail: 'not a DSSE envelope of an in-toto statement' };
  const payload = Buffer.from(env.data.payload, 'base64');
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed', detail: 'payload is not JSON' };
  }
  const st = StatementSchema.safeParse(parsed);
  if (!st.success)
    return { ok: false, reason: 'malformed', detail: 'payload is not a dchat rebuild provenance statement' };
  const builder = st.data.predicate.runDetails.builder.id.slice(BUILDER_ID_PREFIX.length);
  if (!/^[0-9a-f]{64}$/.test(builder))
    return { ok: false, reason: 'malformed', detail: 'builder id does not name an Ed25519 key' };
  const pae = preAuthEncoding(env.data.payloadType, payload);
  const raw32 = Buffer.from(builder, 'hex');
  const signed = env.data.signatures.some((s) => verifyEd25519(raw32, pae, Buffer.from(s.sig, 'base64')));
  if (!signed)
    return { ok: false, reason: 'forged', detail: 'no signature by the builder key verifies', builder };
  return { ok: true, statement: st.data, builder };
}

/**
 * Counts the attestations in `raw` for `target`. `builders`: the keys (hex) the network trusts to
 * attest; undefined counts any key (how many distinct keys agree, for information).
 */
export function countAttestations(
  raw: readonly unknown[],
  target: AttestedTarget,
  builders?: ReadonlySet<string>,
): AttestationCount {
  const out: AttestationCount = { matching: [], rejected: [] };
  const counted = new Set<string>();
  raw.forEach((r, i) => {
    if (i >= MAX_ATTESTATIONS_PER_PACKAGE) {
      if (i === MAX_ATTESTATIONS_PER_PACKAGE)
        out.rejected.push({
          reason: 'too_many',
          detail: `more than ${MAX_ATTESTATIONS_PER_PACKAGE} attestations`,
        });
      return;
    }
    const o = openEnvelope(r);
    if (!o.ok) {
      out.rejected.push({ ...(o.builder ? { builder: o.builder } : {}), reason: o.reason, detail: o.detail });
      return;
    }
    const subject = o.statement.subject.find((s) => s.name === target.name);
    if (
      !subject ||
      subject.digest.sha256 !== target.sha256 ||
      (subject.digest.blake3 !== undefined && subject.digest.blake3 !== target.blake3)
    ) {
      out.rejected.push({
        builder: o.builder,
        reason: 'wrong_subject',
        detail: subject
          ? `rebuilt ${subject.digest.sha256.slice(0, 16)}…, not the signed package`
          : `no subject named ${target.name}`,
      });
      return;
    }
    if (builders && !builders.has(o.builder)) {
      out.rejected.push({
        builder: o.builder,
        reason: 'untrusted_builder',
        detail: 'not a builder this network names',
      });
      return;
    }
    if (counted.has(o.builder)) {
      out.rejected.push({
        builder: o.builder,
        reason: 'duplicate_builder',
        detail: 'this builder is already counted',
      });
      return;
    }
    counted.add(o.builder);
    out.matching.push({
      builder: o.builder,
      commit: o.statement.predicate.buildDefinition.externalParameters.source.commit,
    });
  });
  return out;
}
