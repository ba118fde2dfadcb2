/**
 * state/digest-stamps.json: the digests of package files this home has already hashed in full,
 * each with the file's identity at the time (device, inode, size, mtime and ctime in ns), keyed by
 * device and inode: an installed version's executable is a hard link of its package, so the
 * supervisor's pre-upgrade hash (before the switch's downtime) serves the new node's package scan
 * (inside it). A node start re-indexes its packages; a file whose identity still matches its stamp
 * is the file that was hashed, so its remembered digests go through the same package check
 * instead of hashing 100+ MiB again (what made a node start, and so the switch at an activation,
 * take seconds). Two processes may update the file at once (node and supervisor): each write is
 * atomic, and a stamp lost to the race only costs one more hash.
 * Any write to the file, a replace, a truncate or a chmod changes ctime (which no ordinary call
 * can set back), so a changed file is hashed again. Damage below the filesystem (bit rot) is what
 * the per-chunk re-hash on every read for a peer catches (node/package-store.ts readRange).
 * The file is a cache: missing, unreadable or malformed means "hash everything", never an error.
 */
import type { BigIntStats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Digests } from '../crypto/hash.ts';
import { writeFileAtomic } from './atomic.ts';
import type { HomePaths } from './home.ts';

export const STAMPS_FORMAT = 'dchat.digest-stamps/1';
/** Files remembered (one per package on disk; the oldest go first). */
const MAX_STAMPS = 256;
/** The stamps file is read whole: anything larger is not ours. */
const MAX_FILE_BYTES = 256 * 1024;

const decimal = z.string().regex(/^\d{1,40}$/);
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const StampSchema = z.object({
  dev: decimal,
  ino: decimal,
  size: z.number().int().nonnegative(),
  mtime_ns: decimal,
  ctime_ns: decimal,
  sha256: hex64,
  blake3: hex64,
});
const StampsSchema = z.object({
  format: z.literal(STAMPS_FORMAT),
  files: z.record(z.string().regex(/^\d{1,40}:\d{1,40}$/), StampSchema),
});
export type DigestStamp = z.infer<typeof StampSchema>;
/** A file's identity: what must not have changed since it was hashed. */
export type FileIdentity = Pick<DigestStamp, 'dev' | 'ino' | 'size' | 'mtime_ns' | 'ctime_ns'>;

export function stampsFile(paths: HomePaths): string {
  return join(paths.home, 'state', 'digest-stamps.json');
}

export async function fileIdentity(path: string): Promise<FileIdentity> {
  const st: BigIntStats = await stat(path, { bigint: true });
  return {
    dev: String(st.dev),
    ino: String(st.ino),
    size: Number(st.size),
    mtime_ns: String(st.mtimeNs),
    ctime_ns: String(st.ctimeNs),
  };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return (
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtime_ns === b.mtime_ns &&
    a.ctime_ns === b.ctime_ns
  );
}

const key = (id: FileIdentity) => `${id.dev}:${id.ino}`;

/** The stamps by device:inode; empty if there are none or they cannot be read. */
export async function readDigestStamps(paths: HomePaths): Promise<Map<string, DigestStamp>> {
  try {
    const bytes = await readFile(stampsFile(paths));
    if (bytes.byteLength > MAX_FILE_BYTES) return new Map();
    const r = StampsSchema.safeParse(JSON.parse(bytes.toString('utf8')));
    return r.success ? new Map(Object.entries(r.data.files)) : new Map();
  } catch {
    return new Map();
  }
}

export async function writeDigestStamps(paths: HomePaths, stamps: Map<string, DigestStamp>): Promise<void> {
  const files = Object.fromEntries([...stamps].slice(-MAX_STAMPS));
  await writeFileAtomic(stampsFile(paths), `${JSON.stringify({ format: STAMPS_FORMAT, files }, null, 1)}\n`);
}

/** The remembered digests of the file at hand if it is still the one that was hashed. */
export function stampedDigests(
  stamps: ReadonlyMap<string, DigestStamp>,
  now: FileIdentity,
): Digests | undefined {
  const s = stamps.get(key(now));
  return s && sameIdentity(s, now) ? { size: s.size, sha256: s.sha256, blake3: s.blake3 } : undefined;
}

/**
 * A file changed less than this before it was hashed is not stamped ("racy git"): file times have
 * a coarse granularity (a kernel tick on Linux, up to seconds elsewhere), so a write right after the
 * hash could leave the same times behind. It is hashed again next time, by then no longer racy.
 */
export const RACY_MS = 1_000;

/**
 * Remembers digests of a file hashed in full whose identity was `before` and still is `after`
 * (and whose last change is not racy at `nowMs`). False when nothing was stamped.
 */
export function addStamp(
  stamps: Map<string, DigestStamp>,
  before: FileIdentity,
  after: FileIdentity,
  d: Digests,
  nowMs: number,
): boolean {
  if (!sameIdentity(before, after) || d.size !== after.size) return false;
  if (BigInt(Math.floor(nowMs)) * 1_000_000n - BigInt(after.ctime_ns) < BigInt(RACY_MS) * 1_000_000n)
    return false;
  stamps.delete(key(after));
  stamps.set(key(after), { ...after, sha256: d.sha256, blake3: d.blake3 });
  return true;
}

/**
 * Hashes `path` in full (`digest`) unless a stamp vouches for it, and stamps what it hashed.
 * Returns the digests and whether they came from a stamp.
 */
export async function digestWithStamp(
  paths: HomePaths,
  path: string,
  digest: () => Promise<Digests>,
): Promise<{ digests: Digests; stamped: boolean }> {
  const known = stampedDigests(await readDigestStamps(paths), await fileIdentity(path));
  if (known) return { digests: known, stamped: true };
  return { digests: await digestAndStamp(paths, path, digest).then((r) => r.digests), stamped: false };
}

/** Hashes `path` in full and stamps it (when it did not change while being hashed). */
export async function digestAndStamp(
  paths: HomePaths,
  path: string,
  digest: () => Promise<Digests>,
): Promise<{ digests: Digests; stamped: false }> {
  const before = await fileIdentity(path);
  const d = await digest();
  const stamps = await readDigestStamps(paths);
  if (addStamp(stamps, before, await fileIdentity(path), d, Date.now()))
    await writeDigestStamps(paths, stamps).catch(() => {});
  return { digests: d, stamped: false };
}
