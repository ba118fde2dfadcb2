import type { KeyObject } from 'node:crypto';
import canonicalJson from '@tufjs/canonical-json';
import { Key, Signature } from '@tufjs/models';
import { loadPrivateKeyPem, rawPublicKeyHex, signEd25519 } from '../crypto/ed25519.ts';
import { sha256Hex } from '../crypto/hash.ts';

const { canonicalize } = canonicalJson;

/** A TUF ed25519 key: raw public key as hex, key id = SHA-256 of its canonical JSON (TUF §4.2). */
export function tufKey(publicHex: string): Key {
  const body = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: publicHex } };
  return new Key({
    keyID: sha256Hex(canonicalize(body)),
    keyType: 'ed25519',
    scheme: 'ed25519',
    keyVal: { public: publicHex },
  });
}

/** A key as a root lists it: enough to name a role's keys, not to sign (a maintainer's .pub file). */
export interface PublicKeyRef {
  readonly keyId: string;
  readonly key: Key;
  readonly publicHex: string;
}

export function publicKeyRef(publicHex: string): PublicKeyRef {
  const key = tufKey(publicHex);
  return { keyId: key.keyID, key, publicHex };
}

/** A private key able to sign TUF metadata. */
export interface SigningKey extends PublicKeyRef {
  readonly privateKey: KeyObject;
  /** The signer @tufjs/models' Metadata.sign expects: canonical bytes in, hex signature out. */
  readonly signer: (data: Buffer) => Signature;
}

export function signingKeyFromPrivate(privateKey: KeyObject): SigningKey {
  const publicHex = rawPublicKeyHex(privateKey);
  const key = tufKey(publicHex);
  return {
    keyId: key.keyID,
    key,
    publicHex,
    privateKey,
    signer: (data: Buffer) =>
      new Signature({ keyID: key.keyID, sig: signEd25519(privateKey, data).toString('hex') }),
  };
}

export function signingKeyFromPem(pem: string | Buffer, what = 'key'): SigningKey {
  return signingKeyFromPrivate(loadPrivateKeyPem(pem, what));
}

/** Drops repeated keys (same key id): "the same key given twice counts once". */
export function distinctKeys<K extends PublicKeyRef>(keys: readonly K[]): K[] {
  const seen = new Map<string, K>();
  for (const k of keys) if (!seen.has(k.keyId)) seen.set(k.keyId, k);
  return [...seen.values()];
}
