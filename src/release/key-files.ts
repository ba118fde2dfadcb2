/**
 * The one place key files are read (`--key`, `--root-key`, ..., `dchat-sign --key`) and written
 * (`dchat-sign keygen`). A key file is a PEM: a private key (PKCS#8), an encrypted private key
 * (PKCS#8 with scrypt, see encrypted-pem.ts), or a public key (SPKI, the `.pub` file keygen writes),
 * which is enough to list a maintainer's key in a root without their private key being present.
 */
import { chmod, readFile, stat } from 'node:fs/promises';
import {
  generateEd25519,
  loadPublicKeyPem,
  privateKeyToPem,
  publicKeyToPem,
  rawPublicKeyHex,
} from '../crypto/ed25519.ts';
import { DchatError, UsageError } from '../errors.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import {
  type PublicKeyRef,
  publicKeyRef,
  type SigningKey,
  signingKeyFromPem,
  signingKeyFromPrivate,
} from '../trust/keys.ts';
import { decryptPrivateKeyPem, encryptPrivateKeyPem, isEncryptedPem } from './encrypted-pem.ts';
import { type PassphraseSource, passphraseFor } from './passphrase.ts';

const MAX_KEY_FILE_BYTES = 16_384;

export type LoadedKey = { kind: 'private'; key: SigningKey } | { kind: 'public'; key: PublicKeyRef };

/** The bytes of a key file named by `flag`; a missing, unreadable or oversized file is a usage error. */
export async function readKeyFile(path: string, flag: string): Promise<Buffer> {
  try {
    const st = await stat(path);
    if (st.size > MAX_KEY_FILE_BYTES) throw new UsageError(flag, `${path} is too large to be a key file`);
    return await readFile(path);
  } catch (err) {
    if (err instanceof DchatError) throw err;
    throw new UsageError(flag, `cannot read key file ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** A private, encrypted private (passphrase from `pass`) or public key file. */
export async function loadKeyFile(path: string, flag: string, pass?: PassphraseSource): Promise<LoadedKey> {
  const pem = (await readKeyFile(path, flag)).toString('utf8');
  try {
    if (/-----BEGIN PUBLIC KEY-----/.test(pem) && !/PRIVATE KEY-----/.test(pem)) {
      return { kind: 'public', key: publicKeyRef(rawPublicKeyHex(loadPublicKeyPem(pem, path))) };
    }
    if (isEncryptedPem(pem)) {
      if (!pass)
        throw new DchatError('E_PASSPHRASE', `${path} is encrypted and this command takes no passphrase`, {
          details: { key: path, reason: 'missing' },
        });
      const passphrase = await passphraseFor(pass, path);
      let obj: ReturnType<typeof decryptPrivateKeyPem>;
      try {
        obj = decryptPrivateKeyPem(pem, passphrase);
      } catch (cause) {
        throw new DchatError('E_PASSPHRASE', `${path}: wrong passphrase (or a damaged key file)`, {
          cause,
          details: { key: path, reason: 'wrong' },
        });
      }
      if (obj.asymmetricKeyType !== 'ed25519')
        throw new UsageError(flag, `${path} is ${obj.asymmetricKeyType}, only ed25519 is supported`);
      return { kind: 'private', key: signingKeyFromPrivate(obj) };
    }
    return { kind: 'private', key: signingKeyFromPem(pem, path) };
  } catch (err) {
    if (err instanceof DchatError && (err.code === 'E_PASSPHRASE' || err.code === 'E_USAGE')) throw err;
    throw new UsageError(flag, `${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads a private key named by `flag` (a public key there is a usage error naming it). */
export async function loadSigningKeyFile(
  path: string,
  flag = '--key',
  pass?: PassphraseSource,
): Promise<SigningKey> {
  const k = await loadKeyFile(path, flag, pass);
  if (k.kind === 'public')
    throw new UsageError(flag, `${path} is a public key; this needs the private key to sign with`);
  return k.key;
}

export async function loadSigningKeyFiles(
  paths: readonly string[],
  flag = '--key',
  pass?: PassphraseSource,
): Promise<SigningKey[]> {
  if (paths.length === 0) throw new UsageError(flag, 'at least one key is required');
  const keys: SigningKey[] = [];
  // One at a time: each encrypted key may prompt on the terminal.
  for (const p of paths) keys.push(await loadSigningKeyFile(p, flag, pass));
  return keys;
}

/**
 * Writes a new Ed25519 key pair: PATH (PKCS#8 PEM, mode 0600; encrypted under `passphrase` when
 * given) and PATH.pub (SPKI PEM).
 */
export async function writeNewKeyPair(
  path: string,
  overwrite = false,
  passphrase?: string,
): Promise<SigningKey> {
  if (!overwrite) {
    const exists = await stat(path).then(
      () => true,
      () => false,
    );
    if (exists) throw new UsageError('--out', `${path} already exists; refusing to overwrite a key`);
  }
  const { privateKey, publicKey } = generateEd25519();
  const pem =
    passphrase === undefined ? privateKeyToPem(privateKey) : encryptPrivateKeyPem(privateKey, passphrase);
  await writeFileAtomic(path, pem, { mode: 0o600 });
  await chmod(path, 0o600);
  await writeFileAtomic(`${path}.pub`, publicKeyToPem(publicKey), { mode: 0o644 });
  return signingKeyFromPem(privateKeyToPem(privateKey));
}
