import type { KeyObject } from 'node:crypto';
import type { Key, Metadata, Root } from '@tufjs/models';
import { getPublicKey } from '@tufjs/models/dist/utils/key.js';
import { DchatError } from '../errors.ts';
import type { AnyMetadata, RoleName } from './metadata.ts';

export interface SignatureTally {
  role: RoleName;
  threshold: number;
  /** Distinct public keys of the role whose signature verified. */
  valid: number;
  /** Signatures by keys of the role that did not verify (tampered bytes or a bad signature). */
  invalid: string[];
  /** Signatures by keys the role does not list (unknown, or rotated out). */
  untrusted: string[];
}

/**
 * Counts the signatures of `md` that `root` accepts for `role`. Thresholds count distinct public
 * keys, not key ids, so one key listed twice under two ids cannot meet a 2-of-n threshold alone.
 */
export function tallySignatures(root: Root, role: RoleName, md: AnyMetadata): SignatureTally {
  const roleDef = root.roles[role];
  if (!roleDef) throw new DchatError('E_MALFORMED', `root defines no ${role} role`);
  const validKeys = new Set<string>();
  const invalid: string[] = [];
  const untrusted: string[] = [];
  for (const keyId of Object.keys(md.signatures)) {
    const key = roleDef.keyIDs.includes(keyId) ? root.keys[keyId] : undefined;
    if (!key) {
      untrusted.push(keyId);
      continue;
    }
    try {
      key.verifySignature(md as Metadata<never>);
      validKeys.add(keyIdentity(key));
    } catch {
      invalid.push(keyId);
    }
  }
  return { role, threshold: roleDef.threshold, valid: validKeys.size, invalid, untrusted };
}

/**
 * Throws unless `md` carries signatures of at least `threshold` distinct keys of `role` in `root`.
 * The code says why: a signature that fails (E_SIGNATURE), only unknown keys (E_UNTRUSTED_KEY), or
 * too few good ones (E_THRESHOLD).
 */
export function requireThreshold(
  root: Root,
  role: RoleName,
  md: AnyMetadata,
  what: string = role,
): SignatureTally {
  const t = tallySignatures(root, role, md);
  if (t.valid >= t.threshold) return t;
  const details = {
    role,
    threshold: t.threshold,
    valid: t.valid,
    invalid: t.invalid,
    untrusted: t.untrusted,
  };
  if (t.invalid.length > 0) {
    throw new DchatError(
      'E_SIGNATURE',
      `${what}: signature by key ${short(t.invalid[0])} does not verify (${t.valid}/${t.threshold} valid)`,
      { details },
    );
  }
  if (t.valid === 0 && t.untrusted.length > 0) {
    throw new DchatError(
      'E_UNTRUSTED_KEY',
      `${what}: signed only by key(s) the trusted root does not list for ${role}: ${t.untrusted.map(short).join(', ')}`,
      { details },
    );
  }
  throw new DchatError(
    'E_THRESHOLD',
    `${what}: signed by ${t.valid} of the ${t.threshold} distinct ${role} keys required`,
    { details },
  );
}

/**
 * The key itself, whatever its spelling. A root may list one ed25519 key under two key ids as
 * "ab12…" and "AB12…" (or as hex and as PEM): both verify the same signature, so counting distinct
 * `keyval.public` strings let one key meet a 2-of-n threshold alone. The SPKI DER of the public key
 * is the same for every spelling.
 */
function keyIdentity(key: Key): string {
  const pub = key.keyVal.public ?? '';
  try {
    const { key: obj } = getPublicKey({ keyType: key.keyType, scheme: key.scheme, keyVal: pub });
    return (obj as KeyObject).export({ format: 'der', type: 'spki' }).toString('hex');
  } catch {
    // Unreachable after verifySignature succeeded (it parses the same key); keep the spelling.
    return `${key.keyType}:${pub}`;
  }
}

function short(keyId: string | undefined): string {
  return (keyId ?? '').slice(0, 12);
}
