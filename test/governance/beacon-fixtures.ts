/** Validators with real ed25519 keys and helpers that sign beacons the way validators do. */
import type { KeyObject } from 'node:crypto';
import { generateEd25519, rawPublicKeyHex } from '../../src/crypto/ed25519.ts';
import {
  type BeaconParams,
  BeaconValidatorSet,
  beaconHash,
  signBeacon,
  timeOfHeight,
} from '../../src/governance/beacon.ts';
import { BEACON_FORMAT, type BeaconStatement, type SignedBeacon } from '../../src/model/beacon.ts';

export interface TestValidator {
  /** The public key as hex: a validator's name in beacons. */
  id: string;
  key: KeyObject;
  stake: bigint;
}

export const PARAMS: BeaconParams = {
  networkId: 'testnet-1',
  genesisHash: '11'.repeat(32),
  genesisTimeMs: 1_700_000_000_000,
  blockIntervalMs: 1000,
};

export function validators(stakes: readonly number[]): TestValidator[] {
  return stakes.map((s) => {
    const key = generateEd25519().privateKey;
    return { id: rawPublicKeyHex(key), key, stake: BigInt(s) };
  });
}

export function setOf(vs: readonly TestValidator[]): BeaconValidatorSet {
  return new BeaconValidatorSet(vs.map(({ id, stake }) => ({ publicKey: id, stake })));
}

export function statement(height: number, prev: string, p: BeaconParams = PARAMS): BeaconStatement {
  return { format: BEACON_FORMAT, network_id: p.networkId, height, time_ms: timeOfHeight(p, height), prev };
}

/** The honest chain of statements 1..n on top of the genesis. */
export function chain(n: number, p: BeaconParams = PARAMS): BeaconStatement[] {
  const out: BeaconStatement[] = [];
  let prev = p.genesisHash;
  for (let h = 1; h <= n; h++) {
    const st = statement(h, prev, p);
    out.push(st);
    prev = beaconHash(st);
  }
  return out;
}

export function signedBy(st: BeaconStatement, vs: readonly TestValidator[]): SignedBeacon {
  return { ...st, signatures: vs.map((v) => ({ validator: v.id, signature: signBeacon(v.key, st) })) };
}
