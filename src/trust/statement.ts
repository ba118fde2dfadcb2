/**
 * The dchat-sign statement: what a release key signs about one package file. It binds name,
 * version, platform, size and both hashes (never the bare bytes), so a signature cannot be moved
 * to another version or platform (mix-and-match) and a 1 GiB file needs no 1 GiB signing buffer.
 */
import type { KeyObject } from 'node:crypto';
import canonicalJson from '@tufjs/canonical-json';
import { z } from 'zod';
import { rawPublicKey, signEd25519, verifyEd25519 } from '../crypto/ed25519.ts';
import type { Digests } from '../crypto/hash.ts';
import { DchatError } from '../errors.ts';
import { LIMITS } from '../model/limits.ts';
import { packageName } from '../model/platform.ts';
import {
  base64,
  hex64,
  parseJsonBytes,
  parseWith,
  platformString,
  safeUint,
  versionString,
} from '../model/schema-util.ts';

const { canonicalize } = canonicalJson;

export const STATEMENT_FORMAT = 'dchat.sign/1';
export const SIG_FORMAT = 'dchat.sig/1';

export const StatementSchema = z.object({
  format: z.literal(STATEMENT_FORMAT),
  name: z.string().max(256),
  version: versionString,
  platform: platformString,
  size: safeUint,
  sha256: hex64,
  blake3: hex64,
});
export type Statement = z.infer<typeof StatementSchema>;

/** The .sig file dchat-sign writes. `signature` and `signer_pubkey` are base64, as in the seed. */
export const SigDocumentSchema = z.object({
  format: z.literal(SIG_FORMAT),
  statement: StatementSchema,
  signature: base64,
  signer_pubkey: base64,
});
export type SigDocument = z.infer<typeof SigDocumentSchema>;

export function buildStatement(version: string, platform: string, d: Digests): Statement {
  return {
    format: STATEMENT_FORMAT,
    name: packageName(version, platform),
    version,
    platform,
    size: d.size,
    sha256: d.sha256,
    blake3: d.blake3,
  };
}

export function signStatement(privateKey: KeyObject, statement: Statement): SigDocument {
  const sig = signEd25519(privateKey, Buffer.from(canonicalize(statement)));
  return {
    format: SIG_FORMAT,
    statement,
    signature: sig.toString('base64'),
    signer_pubkey: rawPublicKey(privateKey).toString('base64'),
  };
}

export function parseSigDocument(bytes: Uint8Array): SigDocument {
  return parseWith(
    SigDocumentSchema,
    parseJsonBytes(bytes, LIMITS.signatureFileBytes, '.sig file'),
    '.sig file',
  );
}

/**
 * Checks a base64 Ed25519 signature over the statement for (version, platform, digests), made by
 * `signerB64`, which must be one of `trustedPublicHex`. Throws E_UNTRUSTED_KEY or E_SIGNATURE.
 */
export function verifyStatementSignature(
  statement: Statement,
  signatureB64: string,
  signerB64: string,
  trustedPublicHex: ReadonlySet<string>,
): void {
  const signer = Buffer.from(signerB64, 'base64');
  if (!trustedPublicHex.has(signer.toString('hex'))) {
    throw new DchatError(
      'E_UNTRUSTED_KEY',
      `package signed by key ${signer.toString('hex').slice(0, 16)}…, which the trusted root does not list`,
    );
  }
  const ok = verifyEd25519(signer, Buffer.from(canonicalize(statement)), Buffer.from(signatureB64, 'base64'));
  if (!ok) throw new DchatError('E_SIGNATURE', `Ed25519 signature does not verify for ${statement.name}`);
}
