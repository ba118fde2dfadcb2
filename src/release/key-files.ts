import { chmod, readFile, stat } from 'node:fs/promises';
import { generateEd25519, privateKeyToPem, publicKeyToPem } from '../crypto/ed25519.ts';
import { DchatError, UsageError } from '../errors.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { type SigningKey, signingKeyFromPem } from '../trust/keys.ts';

/** Reads a PEM private key named by `flag`; a missing or unreadable file is a usage error naming it. */
export async function loadSigningKeyFile(path: string, flag = '--key'): Promise<SigningKey> {
  let pem: Buffer;
  try {
    const st = await stat(path);
    if (st.size > 16_384) throw new UsageError(flag, `${path} is too large to be a key file`);
    pem = await readFile(path);
  } catch (err) {
    if (err instanceof DchatError) throw err;
    throw new UsageError(flag, `cannot read key file ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return signingKeyFromPem(pem, path);
  } catch (err) {
    throw new UsageError(flag, `${path}: ${(err as Error).message}`, { cause: err });
  }
}

export async function loadSigningKeyFiles(paths: readonly string[], flag = '--key'): Promise<SigningKey[]> {
  if (paths.length === 0) throw new UsageError(flag, 'at least one key is required');
  return Promise.all(paths.map((p) => loadSigningKeyFile(p, flag)));
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
