/**
 * How governance objects are signed and named: the signer's Ed25519 signature over the canonical
 * JSON (TUF's OLPC form, no floats) of the object without `signature`; the object's id is the
 * SHA-256 of the canonical JSON of the whole signed object. Pure computation.
 */
import { type KeyObject, verify } from 'node:crypto';
import canonicalJson from '@tufjs/canonical-json';
import { publicKeyFromRaw, signEd25519 } from '../crypto/ed25519.ts';
import { sha256Hex } from '../crypto/hash.ts';

const { canonicalize } = canonicalJson;

/** The bytes a signer signs: the object without its `signature`, canonical. */
export function signedBytes(object: object): Buffer {
  const { signature: _omit, ...rest } = object as { signature?: unknown };
  return Buffer.from(canonicalize(rest));
}

/** The id of a signed object: SHA-256 of its canonical JSON, signature included. */
export function objectId(object: object): string {
  return sha256Hex(canonicalize(object));
}

/** Signs `body` (everything but the signature) with `key`. */
export function signObject<T extends object>(key: KeyObject, body: T): T & { signature: string } {
  return { ...body, signature: signEd25519(key, signedBytes(body)).toString('hex') };
}

/** Public keys parsed once: a certificate checks hundreds of votes from the same snapshot. */
const keyCache = new Map<string, KeyObject>();
const MAX_CACHED_KEYS = 4096;

function keyFor(publicHex: string): KeyObject {
  let k = keyCache.get(publicHex);
  if (!k) {
    k = publicKeyFromRaw(Buffer.from(publicHex, 'hex'));
    if (keyCache.size >= MAX_CACHED_KEYS) keyCache.clear();
    keyCache.set(publicHex, k);
  }
  return k;
}

/** True if `signatureHex` is `publicHex`'s signature over `bytes`. Never throws. */
export function verifyBytes(publicHex: string, bytes: Uint8Array, signatureHex: string): boolean {
  if (signatureHex.length !== 128) return false;
  try {
    return verify(null, bytes, keyFor(publicHex), Buffer.from(signatureHex, 'hex'));
  } catch {
    return false;
  }
}

/** True if `object.signature` is `publicHex`'s signature over the rest of it. */
export function verifyObject(publicHex: string, object: { signature: string }): boolean {
  return verifyBytes(publicHex, signedBytes(object), object.signature);
}
