/**
 * The node's persistent libp2p identity: an Ed25519 private key in $DCHAT_HOME/node/identity.key
 * (libp2p protobuf encoding), written atomically with mode 0600 on first start and reused after,
 * so the peer id survives restarts. A key file readable by others is refused, as ssh does.
 */

import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { DchatError } from '../errors.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import type { HomePaths } from '../store/home.ts';

/** An Ed25519 key in libp2p's protobuf encoding is 68 bytes; anything much larger is not one. */
const MAX_KEY_FILE_BYTES = 4096;

export function identityFile(paths: HomePaths): string {
  return join(paths.nodeDir, 'identity.key');
}

export async function loadOrCreateIdentity(paths: HomePaths): Promise<{ key: PrivateKey; created: boolean }> {
  const file = identityFile(paths);
  await mkdir(paths.nodeDir, { recursive: true, mode: 0o700 });
  let st: import('node:fs').Stats | undefined;
  try {
    st = await stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new DchatError('E_IO', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (!st) {
    const key = await generateKeyPair('Ed25519');
    await writeFileAtomic(file, privateKeyToProtobuf(key), { mode: 0o600 });
    await chmod(file, 0o600);
    return { key, created: true };
  }
  if ((st.mode & 0o077) !== 0)
    throw new DchatError(
      'E_CONFIG',
      `${file} is accessible by other users (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 on it`,
    );
  if (st.size > MAX_KEY_FILE_BYTES)
    throw new DchatError('E_CONFIG', `${file} is ${st.size} bytes: not a node identity key`);
  try {
    const key = privateKeyFromProtobuf(await readFile(file));
    if (key.type !== 'Ed25519') throw new Error(`key type ${key.type}, Ed25519 expected`);
    return { key, created: false };
  } catch (cause) {
    throw new DchatError(
      'E_CONFIG',
      `${file} is not a valid node identity key: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}
