/**
 * Private keys encrypted at rest as `-----BEGIN ENCRYPTED PRIVATE KEY-----` (PKCS#8
 * EncryptedPrivateKeyInfo, RFC 5958) with PBES2 = scrypt (RFC 7914 §7) + AES-256-CBC: the exact
 * layout `openssl pkcs8 -topk8 -scrypt` writes, so `openssl pkey -in KEY -passin file:F` and any
 * other OpenSSL-based tool read our keys and we read theirs. node:crypto's own export can only
 * encrypt with PBKDF2 (2048 iterations, cheap to brute-force), hence the few lines of DER below;
 * decryption is OpenSSL's (createPrivateKey with a passphrase).
 *
 * scrypt parameters are OpenSSL's defaults for `-scrypt` (N=2^14, r=8, p=1: 16 MiB, ~50 ms):
 * OpenSSL refuses PBES2-scrypt above 32 MiB of memory when decrypting, so a larger N would make
 * keys that `openssl pkey` cannot open.
 */
import { createCipheriv, createPrivateKey, type KeyObject, randomBytes, scryptSync } from 'node:crypto';

export const SCRYPT = { N: 16_384, r: 8, p: 1 } as const;

const OID = {
  pbes2: '2a864886f70d01050d', // 1.2.840.113549.1.5.13
  scrypt: '2b06010401da47040b', // 1.3.6.1.4.1.11591.4.11
  aes256cbc: '60864801650304012a', // 2.16.840.1.101.3.4.1.42
} as const;

function der(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const len =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const seq = (...parts: Buffer[]) => der(0x30, Buffer.concat(parts));
const octets = (b: Buffer) => der(0x04, b);
const oid = (hex: string) => der(0x06, Buffer.from(hex, 'hex'));
function int(n: number): Buffer {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (Number.parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  return der(0x02, Buffer.from(hex, 'hex'));
}

/** PEM of `key` encrypted under `passphrase` (scrypt + AES-256-CBC, as above). */
export function encryptPrivateKeyPem(key: KeyObject, passphrase: string): string {
  const plain = key.export({ format: 'der', type: 'pkcs8' });
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const k = scryptSync(Buffer.from(passphrase, 'utf8'), salt, 32, { ...SCRYPT, maxmem: 64 * 1024 * 1024 });
  const cipher = createCipheriv('aes-256-cbc', k, iv);
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  const algorithm = seq(
    oid(OID.pbes2),
    seq(
      seq(oid(OID.scrypt), seq(octets(salt), int(SCRYPT.N), int(SCRYPT.r), int(SCRYPT.p))),
      seq(oid(OID.aes256cbc), octets(iv)),
    ),
  );
  const body = seq(algorithm, octets(encrypted)).toString('base64');
  const lines = body.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${lines.join('\n')}\n-----END ENCRYPTED PRIVATE KEY-----\n`;
}

export function isEncryptedPem(pem: string): boolean {
  return pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----');
}

/** OpenSSL's decryption; throws whatever OpenSSL throws (the caller maps it to E_PASSPHRASE). */
export function decryptPrivateKeyPem(pem: string, passphrase: string): KeyObject {
  return createPrivateKey({ key: pem, format: 'pem', passphrase });
}
