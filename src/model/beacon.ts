/**
 * A height beacon (`dchat.beacon/1`): the statement validators sign every block interval, "the
 * network `network_id` has reached block `height`, whose time is `time_ms`, following the beacon
 * `prev`", and the signatures gathered on it. A validator's own beacon carries its signature; a
 * certified beacon carries signatures of >= 2/3 of stake (governance/beacon-book.ts decides).
 * Signing is governance's (model/governance.ts): Ed25519 over the canonical JSON of the statement,
 * keys and signatures as hex, validators named by their public key. Untrusted bytes become this
 * type here, once; every length and count is capped.
 */
import { z } from 'zod';
import { MAX_VALIDATORS, networkId, publicKeyHex, signatureHex } from './governance.ts';
import { hex64, safeUint } from './schema-util.ts';

export const BEACON_FORMAT = 'dchat.beacon/1';
export { MAX_VALIDATORS };

export const BeaconSignatureSchema = z.strictObject({
  /** The validator's Ed25519 public key (hex), as the genesis lists it. */
  validator: publicKeyHex,
  /** Ed25519 over the canonical JSON of the statement (the beacon without `signatures`). */
  signature: signatureHex,
});
export type BeaconSignature = z.infer<typeof BeaconSignatureSchema>;

const statementShape = {
  format: z.literal(BEACON_FORMAT),
  network_id: networkId,
  height: safeUint.min(1),
  time_ms: safeUint,
  /** SHA-256 (hex) of the previous beacon's statement; the genesis hash for the first. */
  prev: hex64,
};
export const BeaconStatementSchema = z.strictObject(statementShape);
export type BeaconStatement = z.infer<typeof BeaconStatementSchema>;

export const SignedBeaconSchema = z.strictObject({
  ...statementShape,
  signatures: z.array(BeaconSignatureSchema).min(1).max(MAX_VALIDATORS),
});
export type SignedBeacon = z.infer<typeof SignedBeaconSchema>;

/** The signed part of a beacon (drops `signatures` and anything else). */
export function statementOf(b: BeaconStatement): BeaconStatement {
  return { format: b.format, network_id: b.network_id, height: b.height, time_ms: b.time_ms, prev: b.prev };
}
