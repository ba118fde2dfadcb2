/**
 * Height beacons, the pure part: the parameters a network's genesis fixes, the bytes a validator
 * signs, the beacon hash that chains them, and which beacon an honest validator signs at a given
 * moment. Heights are slots: beacon `h` has time genesis_time + h * interval, so every honest
 * validator builds the same statement from the same tip and their signatures add up on one beacon.
 * No clock here: `now` is an argument (DESIGN.md principle 4).
 */
import type { KeyObject } from 'node:crypto';
import canonicalJson from '@tufjs/canonical-json';
import { signEd25519, verifyEd25519 } from '../crypto/ed25519.ts';
import { sha256Hex } from '../crypto/hash.ts';
import { DchatError } from '../errors.ts';
import { BEACON_FORMAT, type BeaconStatement, MAX_VALIDATORS, statementOf } from '../model/beacon.ts';
import type { TrustedGenesis } from './genesis.ts';

const { canonicalize } = canonicalJson;

/** What the network's genesis says about heights. */
export interface BeaconParams {
  networkId: string;
  /** SHA-256 (hex) of the signed genesis: the `prev` of the first beacon, the root of the fork id. */
  genesisHash: string;
  /** Time of height 0, ms since the epoch. */
  genesisTimeMs: number;
  /** One block: a new beacon every this many ms. */
  blockIntervalMs: number;
}

/** A validator as beacons need it: its ed25519 public key (hex, its name in beacons) and stake. */
export interface BeaconValidator {
  publicKey: string;
  stake: bigint;
}

/** The validator set a node trusts (from the pinned genesis), indexed for signature checks. */
export class BeaconValidatorSet {
  readonly total: bigint;
  private readonly byId = new Map<string, BeaconValidator>();

  constructor(validators: readonly BeaconValidator[]) {
    if (validators.length === 0 || validators.length > MAX_VALIDATORS)
      throw new DchatError('E_CONFIG', `a validator set has 1..${MAX_VALIDATORS} validators`);
    let total = 0n;
    for (const v of validators) {
      const id = v.publicKey;
      if (!/^[0-9a-f]{64}$/.test(id))
        throw new DchatError('E_CONFIG', `validator key ${id.slice(0, 70)} is not 64 hex digits`);
      if (this.byId.has(id)) throw new DchatError('E_CONFIG', `validator ${short(id)} is listed twice`);
      if (v.stake <= 0n) throw new DchatError('E_CONFIG', `validator ${short(id)} has no stake`);
      this.byId.set(id, v);
      total += v.stake;
    }
    this.total = total;
  }

  get(id: string): BeaconValidator | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byId.size;
  }

  /** True when `stake` is at least two thirds of all stake (CometBFT's +2/3, inclusive as the issue says). */
  isQuorum(stake: bigint): boolean {
    return stake * 3n >= this.total * 2n;
  }
}

/** The bytes a validator signs: the canonical JSON of the statement (format names the domain). */
export function beaconSigningBytes(b: BeaconStatement): Uint8Array {
  return Buffer.from(canonicalize(statementOf(b)));
}

/** The beacon's id in the chain: what the next beacon's `prev` names. */
export function beaconHash(b: BeaconStatement): string {
  return sha256Hex(beaconSigningBytes(b));
}

/** The validator's signature (hex) on `b`. */
export function signBeacon(privateKey: KeyObject, b: BeaconStatement): string {
  return signEd25519(privateKey, beaconSigningBytes(b)).toString('hex');
}

/** False for a malformed or wrong signature: never throws on untrusted input. */
export function verifyBeaconSignature(publicKeyHex: string, b: BeaconStatement, sigHex: string): boolean {
  return verifyEd25519(Buffer.from(publicKeyHex, 'hex'), beaconSigningBytes(b), Buffer.from(sigHex, 'hex'));
}

/** A key for messages: its first 12 hex digits. */
export function short(publicKeyHex: string): string {
  return publicKeyHex.slice(0, 12);
}

/** The block time of `height`. */
export function timeOfHeight(p: BeaconParams, height: number): number {
  return p.genesisTimeMs + height * p.blockIntervalMs;
}

/** The height whose slot `now` falls in (0 before and at genesis). */
export function heightAt(p: BeaconParams, now: number): number {
  if (now <= p.genesisTimeMs) return 0;
  return Math.floor((now - p.genesisTimeMs) / p.blockIntervalMs);
}

/** The accepted tip as a validator builds on it: nothing yet means the genesis. */
export interface BeaconTip {
  height: number;
  hash: string;
}

/**
 * The beacon an honest validator signs at `now`: the slot's height, once the slot has begun, on
 * top of its accepted tip; undefined when there is nothing new to sign (still the tip's slot, or
 * it already signed this height). Every honest validator with the same tip builds the same bytes.
 */
export function beaconToSign(
  p: BeaconParams,
  tip: BeaconTip | null,
  lastSignedHeight: number,
  now: number,
): BeaconStatement | undefined {
  const height = heightAt(p, now);
  if (height < 1 || height <= (tip?.height ?? 0) || height <= lastSignedHeight) return undefined;
  return {
    format: BEACON_FORMAT,
    network_id: p.networkId,
    height,
    time_ms: timeOfHeight(p, height),
    prev: tip?.hash ?? p.genesisHash,
  };
}

/** Checks genesis parameters once (a programming or config error, not a peer's). */
export function checkBeaconParams(p: BeaconParams): BeaconParams {
  if (!/^[0-9a-f]{64}$/.test(p.genesisHash))
    throw new DchatError('E_CONFIG', 'genesis hash must be 64 lowercase hex digits');
  if (!Number.isSafeInteger(p.genesisTimeMs) || p.genesisTimeMs < 0)
    throw new DchatError('E_CONFIG', 'genesis time must be a non-negative integer of ms');
  if (!Number.isSafeInteger(p.blockIntervalMs) || p.blockIntervalMs < 1)
    throw new DchatError('E_CONFIG', 'block interval must be a positive integer of ms');
  return p;
}

/**
 * The beacon parameters a trusted genesis fixes: its network, origin (the first genesis's hash,
 * kept across genesis changes), creation time and block interval.
 */
export function beaconParamsOf(g: TrustedGenesis): BeaconParams {
  return checkBeaconParams({
    networkId: g.networkId,
    genesisHash: g.origin,
    genesisTimeMs: Date.parse(g.body.created),
    blockIntervalMs: g.body.params.block_interval_ms,
  });
}

/** The genesis validators (public key, stake) as a beacon validator set; E_CONFIG if it has none. */
export function beaconValidatorsOf(g: TrustedGenesis): BeaconValidatorSet {
  return new BeaconValidatorSet(
    g.body.validators.map((v) => ({ publicKey: v.public_key, stake: BigInt(v.stake) })),
  );
}
