/**
 * The network genesis as a node trusts it: its root signatures checked (threshold of distinct
 * root keys, like a TUF root signing itself), its lists checked for repeats, and indexed for the
 * tally. Pinned once under the home (`dchat governance init`); everything governance decides is
 * counted against it.
 */
import type { KeyObject } from 'node:crypto';
import canonicalJson from '@tufjs/canonical-json';
import { signEd25519 } from '../crypto/ed25519.ts';
import { sha256Hex } from '../crypto/hash.ts';
import { DchatError } from '../errors.ts';
import { type Genesis, type GenesisBody, GenesisSchema, shareBps } from '../model/governance.ts';
import { parseWith } from '../model/schema-util.ts';
import { verifyBytes } from './signing.ts';

const { canonicalize } = canonicalJson;

export interface TrustedGenesis {
  readonly genesis: Genesis;
  readonly body: GenesisBody;
  /** SHA-256 of the canonical signed part: what certificates name. */
  readonly hash: string;
  /** The network's first genesis hash (this one's, for a first genesis): stable across changes. */
  readonly origin: string;
  readonly networkId: string;
  /** Holder public key -> index in `body.holders`. */
  readonly holderIndex: ReadonlyMap<string, number>;
  readonly validatorIndex: ReadonlyMap<string, number>;
  readonly totalWeight: number;
  readonly totalStake: number;
  readonly quorumBps: number;
  readonly thresholdBps: number;
  readonly approvalBps: number;
}

/** The bytes root keys sign. */
export function genesisSignedBytes(body: GenesisBody): Buffer {
  return Buffer.from(canonicalize(body));
}

export function genesisHash(body: GenesisBody): string {
  return sha256Hex(canonicalize(body));
}

/** Untrusted JSON to a checked genesis; E_MALFORMED, E_SIGNATURE or E_THRESHOLD otherwise. */
export function trustGenesis(data: unknown): TrustedGenesis {
  const genesis = parseWith(GenesisSchema, data, 'genesis');
  const body = genesis.signed;
  const roots = new Set(body.root.public_keys);
  if (roots.size !== body.root.public_keys.length) malformed('root.public_keys lists a key twice');
  if (body.root.threshold > roots.size)
    malformed(`root.threshold ${body.root.threshold} is more than the ${roots.size} root keys`);
  const bytes = genesisSignedBytes(body);
  const good = new Set<string>();
  for (const s of genesis.signatures) {
    if (!roots.has(s.public_key)) continue;
    if (!verifyBytes(s.public_key, bytes, s.signature))
      throw new DchatError(
        'E_SIGNATURE',
        `genesis: a signature by root key ${s.public_key.slice(0, 16)} does not verify`,
      );
    good.add(s.public_key);
  }
  if (good.size < body.root.threshold)
    throw new DchatError(
      'E_THRESHOLD',
      `genesis: ${good.size} valid root signature(s), ${body.root.threshold} required`,
    );
  const holderIndex = new Map<string, number>();
  let totalWeight = 0;
  body.holders.forEach((h, i) => {
    if (holderIndex.has(h.public_key)) malformed(`holders lists key ${h.public_key.slice(0, 16)} twice`);
    holderIndex.set(h.public_key, i);
    totalWeight += h.weight;
  });
  const validatorIndex = new Map<string, number>();
  const names = new Set<string>();
  let totalStake = 0;
  body.validators.forEach((v, i) => {
    if (validatorIndex.has(v.public_key) || names.has(v.key_id))
      malformed(`validators lists ${v.key_id} twice`);
    validatorIndex.set(v.public_key, i);
    names.add(v.key_id);
    totalStake += v.stake;
  });
  if (!Number.isSafeInteger(totalWeight) || !Number.isSafeInteger(totalStake))
    malformed('total token weight or stake is too large');
  if (body.version === 1 && body.origin !== undefined)
    malformed('a first genesis (version 1) names no origin');
  if (body.version > 1 && body.origin === undefined)
    malformed(`version ${body.version} must name its origin`);
  const p = body.params;
  if (p.min_voting_period_ms > p.voting_period_ms)
    malformed('params.min_voting_period_ms is longer than params.voting_period_ms');
  return {
    genesis,
    body,
    hash: genesisHash(body),
    origin: body.origin ?? genesisHash(body),
    networkId: body.network_id,
    holderIndex,
    validatorIndex,
    totalWeight,
    totalStake,
    quorumBps: shareBps(p.quorum),
    thresholdBps: shareBps(p.threshold),
    approvalBps: shareBps(p.approval_threshold),
  };
}

/** `part / total >= bps / 10000`, exactly (weights can be near 2^53). */
export function atLeastShare(part: number, total: number, bps: number): boolean {
  return BigInt(part) * 10_000n >= BigInt(bps) * BigInt(total);
}

/** `part / total > bps / 10000`, exactly. */
export function aboveShare(part: number, total: number, bps: number): boolean {
  return BigInt(part) * 10_000n > BigInt(bps) * BigInt(total);
}

function malformed(what: string): never {
  throw new DchatError('E_MALFORMED', `genesis: ${what}`);
}

/** Signs a genesis body with root keys (the founders' ceremony; `dchat-sign genesis`). */
export function signGenesis(
  body: GenesisBody,
  keys: readonly { privateKey: KeyObject; publicHex: string }[],
): Genesis {
  const bytes = genesisSignedBytes(body);
  return {
    signed: body,
    signatures: keys.map((k) => ({
      public_key: k.publicHex,
      signature: signEd25519(k.privateKey, bytes).toString('hex'),
    })),
  };
}
