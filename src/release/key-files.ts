import { chmod, stat } from 'node:fs/promises';
import { generateEd25519, privateKeyToPem, publicKeyToPem } from '../crypto/ed25519.ts';
import { DchatError, UsageError } from '../errors.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { readFlagFile } from '../store/read-capped.ts';
import { type SigningKey, signingKeyFromPem } from '../trust/keys.ts';

/** No PEM Ed25519 key (or any key we read) comes near this. */
export const KEY_FILE_MAX_BYTES = 16_384;

export interface KeyFileOptions {
  /** Use a key that group or others may read (ssh's StrictModes, turned off). */
  allowInsecurePermissions?: boolean;
}

/**
 * Reads a PEM private key named by `flag`: a regular file, capped; a missing or unreadable file is a
 * usage error naming it. Like ssh, a private key that group or others may read is refused (E_USAGE
 * naming the flag and the mode) unless `allowInsecurePermissions`: someone else may have copied it.
 */
export async function loadSigningKeyFile(
  path: string,
  flag = '--key',
  opts: KeyFileOptions = {},
): Promise<SigningKey> {
  let pem: Buffer;
  try {
    pem = await readFlagFile(flag, path, KEY_FILE_MAX_BYTES);
  } catch (err) {
    if (err instanceof DchatError && err.code === 'E_TOO_LARGE')
      throw new UsageError(flag, `${err.message}: too large to be a key file`, { cause: err });
    throw err;
  }
  if (!opts.allowInsecurePermissions && process.platform !== 'win32') {
    const mode = (await stat(path)).mode & 0o777;
    if (mode & 0o077)
      throw new UsageError(
        flag,
        `${path} is readable by others (mode ${mode.toString(8).padStart(4, '0')}); run \`chmod 600 ${path}\` or pass --allow-insecure-key-permissions`,
      );
  }
  try {
    return signingKeyFromPem(pem, path);
  } catch (err) {
    throw new UsageError(flag, `${path}: ${(err as Error).message}`, { cause: err });
  }
}

export async function loadSigningKeyFiles(
  paths: readonly string[],
  flag = '--key',
  opts: KeyFileOptions = {},
): Promise<SigningKey[]> {
  if (paths.length === 0) throw new UsageError(flag, 'at least one key is required');
  return Promise.all(paths.map((p) => loadSigningKeyFile(p, flag, opts)));
}

/** Writes a new Ed25519 key pair: PATH (PKCS#8 PEM, mode 0600) and PATH.pub (SPKI PEM). */
export async function writeNewKeyPair(path: string, overwrite = false): Promise<SigningKey> {
  if (!overwrite) {
    const exists = await stat(path).then(
      () => true,
      () => false,
    );
    if (exists) throw new UsageError('--out', `${path} already exists; refusing to overwrite a key`);
  }
  const { privateKey, publicKey } = generateEd25519();
  await writeFileAtomic(path, privateKeyToPem(privateKey), { mode: 0o600 });
  await chmod(path, 0o600);
  await writeFileAtomic(`${path}.pub`, publicKeyToPem(publicKey), { mode: 0o644 });
  return signingKeyFromPem(privateKeyToPem(privateKey));
}
