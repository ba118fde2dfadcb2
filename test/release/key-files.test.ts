/**
 * Key files (release/key-files.ts, encrypted-pem.ts): every private, encrypted or public PEM loads
 * as what it is; an encrypted key opens with its passphrase only (any other: E_PASSPHRASE); and
 * whatever bytes a key file holds, loading ends in a coded error or a key, never a crash.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import {
  generateEd25519,
  privateKeyToPem,
  publicKeyToPem,
  rawPublicKeyHex,
} from '../../src/crypto/ed25519.ts';
import { DchatError } from '../../src/errors.ts';
import { decryptPrivateKeyPem, encryptPrivateKeyPem } from '../../src/release/encrypted-pem.ts';
import { loadKeyFile } from '../../src/release/key-files.ts';
import { assertCode, makeTempDir } from '../helpers/repo.ts';

let dir: { path: string; cleanup(): Promise<void> };
before(async () => {
  dir = await makeTempDir('dchat-key-files-');
});
after(() => dir.cleanup());

const pass = (p?: string) => ({ env: p === undefined ? {} : { DCHAT_KEY_PASSPHRASE: p } });

test('private, encrypted and public PEM of one key load as that key', async () => {
  const { privateKey, publicKey } = generateEd25519();
  const hex = rawPublicKeyHex(privateKey);
  // Private keys as keygen writes them: readable by their owner only.
  await writeFile(join(dir.path, 'k'), privateKeyToPem(privateKey), { mode: 0o600 });
  await writeFile(join(dir.path, 'k.enc'), encryptPrivateKeyPem(privateKey, 'a long passphrase'), {
    mode: 0o600,
  });
  await writeFile(join(dir.path, 'k.pub'), publicKeyToPem(publicKey));
  const plain = await loadKeyFile(join(dir.path, 'k'), '--key');
  const enc = await loadKeyFile(join(dir.path, 'k.enc'), '--key', pass('a long passphrase'));
  const pub = await loadKeyFile(join(dir.path, 'k.pub'), '--key');
  assert.deepEqual([plain.kind, enc.kind, pub.kind], ['private', 'private', 'public']);
  for (const k of [plain, enc, pub]) assert.equal(k.key.publicHex, hex);
  await assertCode(() => loadKeyFile(join(dir.path, 'k.enc'), '--key', pass('wrong one')), 'E_PASSPHRASE');
  await assertCode(() => loadKeyFile(join(dir.path, 'k.enc'), '--key', pass()), 'E_PASSPHRASE');
  await assertCode(() => loadKeyFile(join(dir.path, 'k.enc'), '--key'), 'E_PASSPHRASE');
});

test('property: an encrypted key opens with its passphrase and with no other', () => {
  const { privateKey } = generateEd25519();
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 64 }),
      fc.string({ minLength: 1, maxLength: 64 }),
      (p, q) => {
        const pem = encryptPrivateKeyPem(privateKey, p);
        assert.equal(rawPublicKeyHex(decryptPrivateKeyPem(pem, p)), rawPublicKeyHex(privateKey));
        if (p !== q) assert.throws(() => decryptPrivateKeyPem(pem, q));
      },
    ),
    { numRuns: 12 },
  );
});

test('property: any bytes in a key file -> a key or E_USAGE/E_PASSPHRASE, never another failure', async () => {
  const { privateKey } = generateEd25519();
  const enc = encryptPrivateKeyPem(privateKey, 'a long passphrase');
  const path = join(dir.path, 'fuzz');
  const mutate = (s: string, at: number, ch: string) =>
    s.slice(0, at % s.length) + ch + s.slice((at % s.length) + 1);
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
        fc
          .tuple(fc.nat(), fc.constantFrom('A', '=', '-', '\n', '%'))
          .map(([i, c]) => Buffer.from(mutate(enc, i, c))),
        fc
          .string()
          .map((s) =>
            Buffer.from(`-----BEGIN ENCRYPTED PRIVATE KEY-----\n${s}\n-----END ENCRYPTED PRIVATE KEY-----\n`),
          ),
        fc.string().map((s) => Buffer.from(`-----BEGIN PUBLIC KEY-----\n${s}\n-----END PUBLIC KEY-----\n`)),
      ),
      async (bytes) => {
        await writeFile(path, bytes, { mode: 0o600 });
        try {
          await loadKeyFile(path, '--key', pass('a long passphrase'));
        } catch (err) {
          assert.ok(err instanceof DchatError, `not coded: ${(err as Error)?.message}`);
          assert.ok(['E_USAGE', 'E_PASSPHRASE'].includes(err.code), err.code);
        }
      },
    ),
    { numRuns: 150 },
  );
});
