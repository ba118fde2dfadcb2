/**
 * The one place key files are read (`--key`, `--root-key`, ..., `dchat-sign --key`) and written
 * (`dchat-sign keygen`). A key file is a PEM: a private key (PKCS#8), an encrypted private key
 * (PKCS#8 with scrypt, see encrypted-pem.ts), or a public key (SPKI, the `.pub` file keygen writes),
 * which is enough to list a maintainer's key in a root without their private key being present.
 */
import { chmod, stat } from 'node:fs/promises';
import {
  generateEd25519,
  loadPublicKeyPem,
  privateKeyToPem,
  publicKeyToPem,
  rawPublicKeyHex,
} from '../crypto/ed25519.ts';
import { DchatError, UsageError } from '../errors.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { readFlagFile } from '../store/read-capped.ts';
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

export interface KeyFileOptions {
  /** Use a private key that group or others may read (ssh's StrictModes, turned off). */
  allowInsecurePermissions?: boolean;
}

/** The options of a command that has `--allow-insecure-key-permissions`. */
export function keyFileOptions(flags: object): KeyFileOptions {
  return {
    allowInsecurePermissions:
      (flags as { allowInsecureKeyPermissions?: unknown }).allowInsecureKeyPermissions === true,
  };
}

/**
 * The bytes of a key file named by `flag`: a regular file, read with a cap (store/read-capped.ts);
 * a missing, unreadable, special or oversized file is a usage error naming the flag.
 */
export async function readKeyFile(path: string, flag: string): Promise<Buffer> {
  try {
    return await readFlagFile(flag, path, MAX_KEY_FILE_BYTES);
  } catch (err) {
    if (err instanceof DchatError && err.code === 'E_TOO_LARGE')
      throw new UsageError(flag, `${err.message}: too large to be a key file`, { cause: err });
    throw err;
  }
}

/**
 * Like ssh, a private key (encrypted or not) that group or others may read is refused, naming the
 * flag and the mode: someone else may already have a copy. `--allow-insecure-key-permissions`
 * overrides.
 */
async function checkPrivateKeyMode(path: string, flag: string, opts: KeyFileOptions): Promise<void> {
  if (opts.allowInsecurePermissions || process.platform === 'win32') return;
  const mode = (await stat(path)).mode & 0o777;
  if (mode & 0o077)
    throw new UsageError(
      flag,
      `${path} is readable by others (mode ${mode.toString(8).padStart(4, '0')}); run \`chmod 600 ${path}\` or pass --allow-insecure-key-permissions`,
    );
}

/** A private, encrypted private (passphrase from `pass`) or public key file. */
export async function loadKeyFile(
  path: string,
  flag: string,
  pass?: PassphraseSource,
  opts: KeyFileOptions = {},
): Promise<LoadedKey> {
  const pem = (await readKeyFile(path, flag)).toString('utf8');
  if (/-----BEGIN PUBLIC KEY-----/.test(pem) && !/PRIVATE KEY-----/.test(pem)) {
    try {
      return { kind: 'public', key: publicKeyRef(rawPublicKeyHex(loadPublicKeyPem(pem, path))) };
    } catch (err) {
      throw new UsageError(flag, `${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  await checkPrivateKeyMode(path, flag, opts);
  try {
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
  opts: KeyFileOptions = {},
): Promise<SigningKey> {
  const k = await loadKeyFile(path, flag, pass, opts);
  if (k.kind === 'public')
    throw new UsageError(flag, `${path} is a public key; this needs the private key to sign with`);
  return k.key;
}

export async function loadSigningKeyFiles(
  paths: readonly string[],
  flag = '--key',
  pass?: PassphraseSource,
  opts: KeyFileOptions = {},
): Promise<SigningKey[]> {
  if (paths.length === 0) throw new UsageError(flag, 'at least one key is required');
  const keys: SigningKey[] = [];
  // One at a time: each encrypted key may prompt on the terminal.
  for (const p of paths) keys.push(await loadSigningKeyFile(p, flag, pass, opts));
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
