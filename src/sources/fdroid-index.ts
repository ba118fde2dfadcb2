/**
 * An F-Droid repository index, verified against the repository key the operator pinned (no I/O:
 * fdroid.ts fetches). F-Droid signs its index as a JAR (v1 signing scheme):
 *   entry.jar     (index v2) = entry.json + META-INF/MANIFEST.MF, *.SF, *.RSA|DSA|EC
 *   index-v1.jar  (index v1) = index-v1.json + the same META-INF files
 * Verification, as F-Droid's client does it:
 * 1. the signature block is a PKCS#7 SignedData whose one signer certificate has the pinned SHA-256
 *    fingerprint (of its DER encoding, as `fdroid` and `keytool` print it) - else E_UNTRUSTED_KEY;
 * 2. its signature over the .SF file verifies - else E_SIGNATURE;
 * 3. the .SF's SHA-256-Digest-Manifest is the manifest's hash, and the manifest's SHA-256-Digest of
 *    the JSON entry is that entry's hash - else E_SIGNATURE;
 * 4. for v2, entry.json names index-v2.json by SHA-256 and size: the fetched index must match
 *    (E_HASH_MISMATCH / E_SIZE_MISMATCH).
 * entry.jar must use SHA-256 digests. index-v1.jar is signed by jarsigner with SHA-1 digests
 * (fdroidserver keeps them for old clients); they are accepted there only, as F-Droid's client
 * does: the index merely names the file to fetch, whose bytes dchat's TUF metadata verifies.
 * Sizes are capped before and while inflating. What the index says is then only used to find the APK of a version; the APK itself is
 * verified against dchat's TUF metadata like any package.
 */
import { createHash } from 'node:crypto';
import type { SignedData } from 'pkijs';
import { z } from 'zod';
import { DchatError, SourceError } from '../errors.ts';

/** Largest JSON inside a signed jar (index-v1.json of a large repository is a few MiB). */
export const MAX_INDEX_BYTES = 32 * 1024 * 1024;
const MAX_META_BYTES = 256 * 1024;

/** One APK of an app, as either index version lists it. */
export interface FdroidApk {
  versionName: string;
  versionCode: number;
  /** Path of the APK relative to the repository URL (no leading slash). */
  file: string;
  sha256: string;
  size: number;
}

/** A SHA-256 certificate fingerprint as operators write it: hex, any case, colons allowed. */
export function normalizeFingerprint(raw: string): string | undefined {
  const hex = raw.replace(/[:\s]/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

/**
 * The bytes of `entryName` inside a signed jar whose signer is the pinned key (steps 1-3 above).
 * `where` names the jar in errors.
 */
export async function verifiedJarEntry(
  jar: Uint8Array,
  entryName: string,
  fingerprint: string,
  where: string,
  o: { allowSha1?: boolean } = {},
): Promise<Uint8Array> {
  // Loaded here, not at the top: every update command builds the source registry, and pkijs with
  // its ASN.1 stack is the heaviest module a plain HTTPS download would otherwise load and keep.
  const [{ unzipSync }, { Certificate, ContentInfo, SignedData }] = await Promise.all([
    import('fflate'),
    import('pkijs'),
  ]);
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(jar, {
      filter: (f) =>
        (f.name === entryName && f.originalSize <= MAX_INDEX_BYTES) ||
        (/^META-INF\/[^/]{1,64}$/.test(f.name) && f.originalSize <= MAX_META_BYTES),
    });
  } catch (cause) {
    throw new SourceError('E_MALFORMED', `${where}: not a readable jar (${(cause as Error).message})`, {
      cause,
    });
  }
  const entry = files[entryName];
  const manifest = files['META-INF/MANIFEST.MF'];
  const sfNames = Object.keys(files).filter((n) => /^META-INF\/[^/]+\.SF$/.test(n));
  const blockNames = Object.keys(files).filter((n) => /^META-INF\/[^/]+\.(RSA|DSA|EC)$/.test(n));
  if (!entry || !manifest || sfNames.length !== 1 || blockNames.length !== 1)
    throw new SourceError('E_SIGNATURE', `${where}: not a jar signed once holding ${entryName}`);
  const sf = files[sfNames[0] as string] as Uint8Array;
  const block = files[blockNames[0] as string] as Uint8Array;
  if (sfNames[0]?.replace(/\.SF$/, '') !== blockNames[0]?.replace(/\.(RSA|DSA|EC)$/, ''))
    throw new SourceError('E_SIGNATURE', `${where}: signature file and block have different names`);

  let signed: SignedData;
  try {
    signed = new SignedData({ schema: ContentInfo.fromBER(toArrayBuffer(block)).content });
  } catch (cause) {
    throw new SourceError('E_SIGNATURE', `${where}: signature block is not PKCS#7 SignedData`, { cause });
  }
  const certs = (signed.certificates ?? []).filter((c) => c instanceof Certificate);
  if (certs.length !== 1 || signed.signerInfos.length !== 1)
    throw new SourceError('E_SIGNATURE', `${where}: expected one signer and one certificate`);
  const der = new Uint8Array((certs[0] as InstanceType<typeof Certificate>).toSchema(true).toBER(false));
  const got = createHash('sha256').update(der).digest('hex');
  if (got !== fingerprint)
    throw new SourceError(
      'E_UNTRUSTED_KEY',
      `${where}: signed by key ${got}, not the pinned repository key ${fingerprint}`,
      { details: { fingerprint: got } },
    );
  let ok = false;
  try {
    const r = await signed.verify({
      signer: 0,
      data: toArrayBuffer(sf),
      checkChain: false,
      extendedMode: true,
    });
    ok = r.signatureVerified === true;
  } catch (cause) {
    throw new SourceError('E_SIGNATURE', `${where}: signature does not verify`, { cause });
  }
  if (!ok) throw new SourceError('E_SIGNATURE', `${where}: signature does not verify`);

  const algs = o.allowSha1 ? (['sha-256', 'sha1'] as const) : (['sha-256'] as const);
  // The strongest digest present decides; a jar with none of the accepted ones is refused.
  const check = (fields: Map<string, string> | undefined, suffix: string, bytes: Uint8Array) => {
    for (const alg of algs) {
      const want = fields?.get(`${alg}-digest${suffix}`);
      if (want !== undefined) return want === b64digest(alg === 'sha1' ? 'sha1' : 'sha256', bytes);
    }
    return false;
  };
  if (!check(manifestSections(sf)[0], '-manifest', manifest))
    throw new SourceError('E_SIGNATURE', `${where}: the signed manifest digest does not match MANIFEST.MF`);
  const section = manifestSections(manifest).find((s) => s.get('name') === entryName);
  if (!check(section, '', entry))
    throw new SourceError('E_SIGNATURE', `${where}: ${entryName} does not match its signed digest`);
  return entry;
}

/** JAR manifest sections (blank-line separated; continuation lines start with a space). */
function manifestSections(bytes: Uint8Array): Map<string, string>[] {
  const text = Buffer.from(bytes).toString('utf8').replace(/\r\n?/g, '\n');
  return text.split(/\n\n+/).map((block) => {
    const m = new Map<string, string>();
    const lines = block.split('\n').reduce<string[]>((acc, l) => {
      if (l.startsWith(' ') && acc.length > 0) acc[acc.length - 1] += l.slice(1);
      else if (l.length > 0) acc.push(l);
      return acc;
    }, []);
    for (const l of lines) {
      const i = l.indexOf(':');
      if (i > 0) m.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
    }
    return m;
  });
}

function b64digest(alg: 'sha256' | 'sha1', b: Uint8Array): string {
  return createHash(alg).update(b).digest('base64');
}

function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const relPath = z
  .string()
  .max(1024)
  .transform((s) => s.replace(/^\/+/, ''))
  .refine((s) => /^[A-Za-z0-9._/-]+$/.test(s) && !s.split('/').includes('..') && s.length > 0, 'bad path');

const EntrySchema = z.looseObject({
  timestamp: z.number().int().nonnegative(),
  version: z.number().int().nonnegative(),
  index: z.looseObject({
    name: relPath,
    sha256: hex64,
    size: z.number().int().nonnegative().max(MAX_INDEX_BYTES),
  }),
});
export type FdroidEntry = z.infer<typeof EntrySchema>;

const V2VersionSchema = z.looseObject({
  file: z.looseObject({ name: relPath, sha256: hex64, size: z.number().int().nonnegative() }),
  manifest: z.looseObject({ versionName: z.string().max(128), versionCode: z.number().int().nonnegative() }),
});
const V2Schema = z.looseObject({
  repo: z.looseObject({ timestamp: z.number().int().nonnegative() }),
  packages: z.record(z.string().max(255), z.looseObject({ versions: z.record(z.string(), V2VersionSchema) })),
});
const V1Schema = z.looseObject({
  repo: z.looseObject({ timestamp: z.number().int().nonnegative() }),
  packages: z.record(
    z.string().max(255),
    z.array(
      z.looseObject({
        versionName: z.string().max(128),
        versionCode: z.number().int().nonnegative(),
        apkName: relPath,
        hash: z.string(),
        hashType: z.string(),
        size: z.number().int().nonnegative(),
      }),
    ),
  ),
});

function parseJson<T>(schema: z.ZodType<T>, bytes: Uint8Array, where: string): T {
  try {
    return schema.parse(JSON.parse(Buffer.from(bytes).toString('utf8')));
  } catch (cause) {
    throw new SourceError('E_MALFORMED', `${where}: not an F-Droid index document`, { cause });
  }
}

export function parseEntry(bytes: Uint8Array, where: string): FdroidEntry {
  return parseJson(EntrySchema, bytes, where);
}

/** index-v2.json checked against its entry (hash, size), then the APKs of `app`. */
export function apksFromV2(index: Uint8Array, entry: FdroidEntry, app: string, where: string): FdroidApk[] {
  if (index.byteLength !== entry.index.size)
    throw new SourceError(
      'E_SIZE_MISMATCH',
      `${where}: ${index.byteLength} bytes, the signed entry says ${entry.index.size}`,
    );
  if (createHash('sha256').update(index).digest('hex') !== entry.index.sha256)
    throw new SourceError('E_HASH_MISMATCH', `${where}: does not hash to the value the signed entry names`);
  const doc = parseJson(V2Schema, index, where);
  return Object.values(doc.packages[app]?.versions ?? {}).map((v) => ({
    versionName: v.manifest.versionName,
    versionCode: v.manifest.versionCode,
    file: v.file.name,
    sha256: v.file.sha256,
    size: v.file.size,
  }));
}

/** index-v1.json (already verified inside its jar): the APKs of `app` with SHA-256 hashes. */
export function apksFromV1(index: Uint8Array, app: string, where: string): FdroidApk[] {
  const doc = parseJson(V1Schema, index, where);
  return (doc.packages[app] ?? [])
    .filter((p) => p.hashType.toLowerCase() === 'sha256' && /^[0-9a-f]{64}$/.test(p.hash))
    .map((p) => ({
      versionName: p.versionName,
      versionCode: p.versionCode,
      file: p.apkName,
      sha256: p.hash,
      size: p.size,
    }));
}

/** Guard for callers: a pinned fingerprint is required (no trust on first use). */
export function requireFingerprint(raw: string | null | undefined, where: string): string {
  const fp = raw ? normalizeFingerprint(raw) : undefined;
  if (!fp)
    throw new DchatError(
      'E_CONFIG',
      `${where}: an F-Droid repository needs the SHA-256 fingerprint of its signing key (?fingerprint=HEX)`,
    );
  return fp;
}
