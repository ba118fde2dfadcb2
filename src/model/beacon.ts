/**
 * A height beacon (`dchat.beacon/1`): the statement validators sign every block interval, "the
 * network `network` has reached block `height`, whose time is `time_ms`, following the beacon
 * `prev`", and the signatures gathered on it. One validator's beacon carries its own signature;
 * a certified beacon carries signatures of >= 2/3 of stake (governance/beacon-book.ts decides).
 * Untrusted bytes become this type here, once; every length and count is capped.
 */
import { z } from 'zod';
import { base64, hex64, safeUint } from './schema-util.ts';

export const BEACON_FORMAT = 'dchat.beacon/1';
/** Validators in one network, hence signatures on one beacon. */
export const MAX_VALIDATORS = 256;
/** A network id: short, printable, what the genesis names. */
export const networkId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/, 'expected a network id of letters, digits, . _ -');
/** A validator's key id (TUF style: hex SHA-256 of its canonical key), or another short name. */
export const validatorId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, 'expected a validator key id');

export const BeaconSignatureSchema = z.object({
  validator: validatorId,
  /** Ed25519 over the canonical JSON of the statement (the beacon without `signatures`). */
  sig: base64.max(100),
});
export type BeaconSignature = z.infer<typeof BeaconSignatureSchema>;

export const BeaconStatementSchema = z.object({
  format: z.literal(BEACON_FORMAT),
  network: networkId,
  height: safeUint.min(1),
  time_ms: safeUint,
  /** SHA-256 (hex) of the previous beacon's statement; the genesis hash for the first. */
  prev: hex64,
});
export type BeaconStatement = z.infer<typeof BeaconStatementSchema>;

export const SignedBeaconSchema = BeaconStatementSchema.extend({
  signatures: z.array(BeaconSignatureSchema).min(1).max(MAX_VALIDATORS),
});
export type SignedBeacon = z.infer<typeof SignedBeaconSchema>;

/** The signed part of a beacon (drops `signatures` and anything else). */
export function statementOf(b: BeaconStatement): BeaconStatement {
  return { format: b.format, network: b.network, height: b.height, time_ms: b.time_ms, prev: b.prev };
}
