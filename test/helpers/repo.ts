/**
 * Shared test helpers for everything that touches TUF release metadata: keys, repositories built
 * in memory (with @tufjs/models directly, or through src/trust/repository.ts), an in-memory trust
 * store, a map-backed metadata fetcher ("a mirror"), targets for package bytes, tampering, temp
 * directories and an assertion on DchatError codes. Only the test side uses these; every check they
 * exercise lives in src/.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import canonicalJson from '@tufjs/canonical-json';
import { Metadata, MetaFile, Root, Snapshot, Targets, Timestamp } from '@tufjs/models';
import { Role } from '@tufjs/models/dist/role.js';
import { generateEd25519, signEd25519 } from '../../src/crypto/ed25519.ts';
import { chunkHashHex, digestBytes, sha256Hex } from '../../src/crypto/hash.ts';
import { merkleRootHex } from '../../src/crypto/merkle.ts';
import { DchatError, type ErrorCode } from '../../src/errors.ts';
import { CHUNKS_FORMAT, type ChunkTable } from '../../src/model/chunks.ts';
import { ENCODED_FORMAT, type Encoding, encodedName } from '../../src/model/encoded.ts';
import { DEFAULT_CHUNK_SIZE, type PackageCustom, TARGET_FORMAT } from '../../src/model/package.ts';
import { packageName } from '../../src/model/platform.ts';
import { type SigningKey, signingKeyFromPrivate } from '../../src/trust/keys.ts';
import { MemoryTrustStore } from '../../src/trust/memory-store.ts';
import { type AnyMetadata, type RoleName, serializeMetadata } from '../../src/trust/metadata.ts';
import {
  expiryString,
  publishTargets,
  type Repo,
  SPEC_VERSION,
  signWith,
  type TargetInput,
} from '../../src/trust/repository.ts';
import type { MetadataFetcher } from '../../src/trust/updater.ts';

/** A fixed reference time, so expiry decisions in tests never depend on the wall clock. */
export const NOW = new Date('2026-03-01T12:00:00Z');
export const DAY = 86_400;
export const ROLE_NAMES: readonly RoleName[] = ['root', 'targets', 'snapshot', 'timestamp'];

/** `at(NOW, 3 * DAY)`: a Date `seconds` after `base`. */
export function at(base: Date, seconds: number): Date {
  return new Date(base.getTime() + seconds * 1000);
}

export function makeKeys(n: number): SigningKey[] {
  return Array.from({ length: n }, () => signingKeyFromPrivate(generateEd25519().privateKey));
}

export type RoleKeys = Record<RoleName, SigningKey[]>;

export function sameKeysForAllRoles(keys: SigningKey[]): RoleKeys {
  return { root: keys, targets: keys, snapshot: keys, timestamp: keys };
}

export interface MakeRepoOptions {
  /** One key set for every role, or one per role (online timestamp/snapshot keys apart, etc.). */
  keys: SigningKey[] | RoleKeys;
  /** Threshold for every role, or per role (default 1). */
  threshold?: number | Partial<Record<RoleName, number>>;
  now?: Date;
  /** Expiry in seconds from `now`, per role (defaults: root 365d, targets 30d, others 7d). */
  expires?: Partial<Record<RoleName, number>>;
  /** Version of root (default 1). */
  rootVersion?: number;
}

const DEFAULT_EXPIRES: Record<RoleName, number> = {
  root: 365 * DAY,
  targets: 30 * DAY,
  snapshot: 7 * DAY,
  timestamp: 7 * DAY,
};

/**
 * A root listing, for each role, the keys of `roleKeys` (threshold per role), signed by the root
 * keys. Built with @tufjs/models directly, independently of src/trust/repository.ts.
 */
export function makeRoot(
  roleKeys: RoleKeys,
  o: {
    threshold?: number | Partial<Record<RoleName, number>>;
    now?: Date;
    expiresSec?: number;
    version?: number;
    signers?: SigningKey[];
  } = {},
): Metadata<Root> {
  const thr = (r: RoleName) => (typeof o.threshold === 'number' ? o.threshold : (o.threshold?.[r] ?? 1));
  const all = new Map<string, SigningKey>();
  for (const r of ROLE_NAMES) for (const k of roleKeys[r]) all.set(k.keyId, k);
  const signed = new Root({
    version: o.version ?? 1,
    specVersion: SPEC_VERSION,
    expires: expiryString(o.now ?? NOW, o.expiresSec ?? DEFAULT_EXPIRES.root),
    consistentSnapshot: true,
    keys: Object.fromEntries([...all.values()].map((k) => [k.keyId, k.key])),
    roles: Object.fromEntries(
      ROLE_NAMES.map((r) => [r, new Role({ keyIDs: roleKeys[r].map((k) => k.keyId), threshold: thr(r) })]),
    ),
  });
  return signWith(new Metadata(signed), o.signers ?? roleKeys.root);
}

export interface SnapshotOptions {
  version: number;
  keys: readonly SigningKey[];
  now?: Date;
  expiresSec?: number;
  /** Record length and SHA-256 of the file it points to (default true, as our publisher does). */
  withHashes?: boolean;
  /** Override the version recorded for the pointed-to file (fast-forward / rollback attacks). */
  metaVersion?: number;
}

/** Serialized bytes and `signed.version` of a metadata document given as object or bytes. */
function fileOf(md: AnyMetadata | Uint8Array): { bytes: Buffer; version: number } {
  const bytes = md instanceof Uint8Array ? Buffer.from(md) : serializeMetadata(md);
  return { bytes, version: JSON.parse(bytes.toString('utf8')).signed.version as number };
}

function metaFileFor(md: AnyMetadata | Uint8Array, o: SnapshotOptions): MetaFile {
  const f = fileOf(md);
  return new MetaFile({
    version: o.metaVersion ?? f.version,
    ...(o.withHashes === false ? {} : { length: f.bytes.byteLength, hashes: { sha256: sha256Hex(f.bytes) } }),
  });
}

/** A snapshot pointing at `targets` (an object, or the exact bytes a mirror serves). */
export function makeSnapshot(
  targets: Metadata<Targets> | Uint8Array,
  o: SnapshotOptions,
): Metadata<Snapshot> {
  const snap = new Metadata(
    new Snapshot({
      version: o.version,
      specVersion: SPEC_VERSION,
      expires: expiryString(o.now ?? NOW, o.expiresSec ?? DEFAULT_EXPIRES.snapshot),
      meta: { 'targets.json': metaFileFor(targets, o) },
    }),
  );
  return signWith(snap, o.keys);
}

/** A timestamp pointing at `snapshot` (an object, or the exact bytes a mirror serves). */
export function makeTimestamp(
  snapshot: Metadata<Snapshot> | Uint8Array,
  o: SnapshotOptions,
): Metadata<Timestamp> {
  const ts = new Metadata(
    new Timestamp({
      version: o.version,
      specVersion: SPEC_VERSION,
      expires: expiryString(o.now ?? NOW, o.expiresSec ?? DEFAULT_EXPIRES.timestamp),
      snapshotMeta: metaFileFor(snapshot, o),
    }),
  );
  return signWith(ts, o.keys);
}

export interface TestRepo {
  repo: Repo;
  keys: RoleKeys;
  /** Every key of every role (what a release manager holding all keys passes to publish). */
  allKeys: SigningKey[];
}

/** A version-1 repository (empty targets), every role signed by its keys. */
export function makeRepo(o: MakeRepoOptions): TestRepo {
  const keys = Array.isArray(o.keys) ? sameKeysForAllRoles(o.keys) : o.keys;
  const now = o.now ?? NOW;
  const exp = { ...DEFAULT_EXPIRES, ...o.expires };
  const thr = (r: RoleName) => (typeof o.threshold === 'number' ? o.threshold : (o.threshold?.[r] ?? 1));
  const root = makeRoot(keys, {
    threshold: o.threshold,
    now,
    expiresSec: exp.root,
    version: o.rootVersion ?? 1,
  });
  const targets = signWith(
    new Metadata(
      new Targets({ version: 1, specVersion: SPEC_VERSION, expires: expiryString(now, exp.targets) }),
    ),
    keys.targets.slice(0, Math.max(thr('targets'), 1)),
  );
  const snapshot = makeSnapshot(targets, {
    version: 1,
    keys: keys.snapshot.slice(0, thr('snapshot')),
    now,
    expiresSec: exp.snapshot,
  });
  const timestamp = makeTimestamp(snapshot, {
    version: 1,
    keys: keys.timestamp.slice(0, thr('timestamp')),
    now,
    expiresSec: exp.timestamp,
  });
  const all = new Map<string, SigningKey>();
  for (const r of ROLE_NAMES) for (const k of keys[r]) all.set(k.keyId, k);
  return { repo: { root, targets, snapshot, timestamp }, keys, allKeys: [...all.values()] };
}

/** Deterministic pseudo-random package bytes (same seed, same bytes). */
export function packageBytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = Buffer.from(sha256Hex(seed), 'hex');
  for (let off = 0; off < size; off += 32) {
    block.copy(out, off, 0, Math.min(32, size - off));
    block = Buffer.from(sha256Hex(block), 'hex');
  }
  return out;
}

/** The chunk table of some bytes, as `release publish` writes it. */
export function chunkTableOf(bytes: Uint8Array, chunkSize = DEFAULT_CHUNK_SIZE): ChunkTable {
  const chunks: string[] = [];
  for (let off = 0; off < bytes.byteLength; off += chunkSize)
    chunks.push(chunkHashHex(bytes.subarray(off, Math.min(off + chunkSize, bytes.byteLength))));
  return { format: CHUNKS_FORMAT, hash: 'blake3', chunk_size: chunkSize, size: bytes.byteLength, chunks };
}

/** The signed target entry for package bytes, exactly as src/release/publish.ts builds it. */
export function targetFor(
  bytes: Uint8Array,
  version: string,
  platform: string,
  extra: Partial<PackageCustom> = {},
  chunkSize = DEFAULT_CHUNK_SIZE,
): TargetInput & { custom: PackageCustom } {
  const d = digestBytes(bytes);
  const table = chunkTableOf(bytes, chunkSize);
  const custom: PackageCustom = {
    format: TARGET_FORMAT,
    version,
    release_date: NOW.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    package_type: 'Binary',
    platform,
    sha256: d.sha256,
    blake3: d.blake3,
    size_bytes: d.size,
    channel: 'stable',
    security: false,
    chunks: {
      hash: 'blake3',
      size: chunkSize,
      count: table.chunks.length,
      root: merkleRootHex(table.chunks),
    },
    ...extra,
  };
  return { path: packageName(version, platform), length: d.size, sha256: d.sha256, custom };
}

/** publishTargets with the defaults of `release publish` and every key of the test repository. */
export function publish(
  t: TestRepo,
  inputs: readonly TargetInput[],
  o: { now?: Date; expires?: Partial<Record<RoleName, number>>; keys?: readonly SigningKey[] } = {},
): TestRepo {
  const exp = { ...DEFAULT_EXPIRES, ...o.expires };
  const repo = publishTargets(t.repo, inputs, {
    keys: o.keys ?? t.allKeys,
    now: o.now ?? NOW,
    targetsExpiresSec: exp.targets,
    snapshotExpiresSec: exp.snapshot,
    timestampExpiresSec: exp.timestamp,
  });
  return { ...t, repo };
}

export function bytesOf(md: AnyMetadata): Buffer {
  return serializeMetadata(md);
}

/**
 * A JSON document as tests edit it: any shape, any depth (attacks write what schemas forbid).
 */
// biome-ignore lint/suspicious/noExplicitAny: tests edit untyped JSON documents freely
export type JsonDoc = any;

/** JSON-level edit of serialized metadata (or any JSON document): parse, mutate, serialize. */
export function tamper(bytes: Uint8Array, edit: (doc: JsonDoc) => void): Buffer {
  const doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  edit(doc);
  return Buffer.from(`${JSON.stringify(doc, null, 1)}\n`);
}

/**
 * Signs a raw metadata JSON document in place (canonical JSON of `signed`, ed25519, hex), for
 * documents @tufjs/models refuses to build (another spec_version, odd key lists...). Returns the
 * serialized bytes.
 */
export function signJson(
  doc: { signed: unknown; signatures?: unknown },
  keys: readonly SigningKey[],
): Buffer {
  const message = Buffer.from(canonicalJson.canonicalize(doc.signed as never));
  doc.signatures = keys.map((k) => ({
    keyid: k.keyId,
    sig: signEd25519(k.privateKey, message).toString('hex'),
  }));
  return Buffer.from(`${JSON.stringify(doc, null, 1)}\n`);
}

/** Trusted metadata in memory: what FileTrustStore keeps under $DCHAT_HOME/trust. */
export class InMemoryTrustStore extends MemoryTrustStore {
  constructor(root?: Uint8Array | Metadata<Root>) {
    super(root ? { root: root instanceof Metadata ? bytesOf(root) : root } : {});
  }

  /** Test setup: puts one document into the set directly. */
  async save(role: RoleName, bytes: Uint8Array): Promise<void> {
    this.docs = { ...this.docs, [role]: Buffer.from(bytes) };
  }

  /** Version of a stored role, or undefined. */
  version(role: RoleName): number | undefined {
    const b = this.docs[role];
    return b ? (JSON.parse(Buffer.from(b).toString('utf8')).signed.version as number) : undefined;
  }
}

/**
 * A mirror in memory: metadata file name -> bytes. Like DirectoryFetcher it refuses a file larger
 * than the `maxBytes` asked for (E_TOO_LARGE), unless `honourMaxBytes` is false: then it plays a
 * mirror that sends whatever it likes, and the trusted set itself must catch the excess.
 */
export class MapFetcher implements MetadataFetcher {
  readonly files = new Map<string, Uint8Array>();
  readonly requests: string[] = [];
  honourMaxBytes = true;

  constructor(repo?: Repo, roots: readonly Metadata<Root>[] = []) {
    if (repo) this.serve(repo, roots);
  }

  /** Serves the four roles of `repo` under their consistent-snapshot names, plus N.root.json. */
  serve(repo: Repo, roots: readonly Metadata<Root>[] = []): this {
    for (const r of roots) this.set(`${r.signed.version}.root.json`, r);
    this.set(`${repo.root.signed.version}.root.json`, repo.root);
    this.set(`${repo.targets.signed.version}.targets.json`, repo.targets);
    this.set(`${repo.snapshot.signed.version}.snapshot.json`, repo.snapshot);
    this.set('timestamp.json', repo.timestamp);
    return this;
  }

  set(name: string, data: Uint8Array | AnyMetadata): this {
    this.files.set(name, data instanceof Uint8Array ? Buffer.from(data) : bytesOf(data));
    return this;
  }

  async fetch(name: string, maxBytes: number): Promise<Uint8Array | undefined> {
    this.requests.push(name);
    const b = this.files.get(name);
    if (!b) return undefined;
    if (this.honourMaxBytes && b.byteLength > maxBytes)
      throw new DchatError('E_TOO_LARGE', `${name} is larger than the ${maxBytes} bytes allowed`);
    return Buffer.from(b);
  }
}

/**
 * Asserts that `fn` (sync or async) fails with a DchatError carrying exactly `code`. Returns the
 * error for further checks. A non-DchatError, or another code, fails with a message naming both.
 */
export async function assertCode(fn: () => unknown, code: ErrorCode): Promise<DchatError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected ${code}, but nothing was thrown`);
  assert.ok(
    caught instanceof DchatError,
    `expected DchatError ${code}, got ${(caught as Error)?.constructor?.name}: ${(caught as Error)?.message}`,
  );
  assert.equal(caught.code, code, `expected ${code}, got ${caught.code}: ${caught.message}`);
  return caught;
}

/** A fresh directory under os.tmpdir(); `cleanup` removes it. */
export async function makeTempDir(
  prefix = 'dchat-test-',
): Promise<{ path: string; cleanup(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** An encoded target (patch or compressed package) of `bytes` decoding to package path `to`. */
export function encodedTarget(
  bytes: Buffer,
  algorithm: Encoding,
  to: string,
  from?: string,
  fromVersion?: string,
) {
  const d = digestBytes(bytes);
  const table = chunkTableOf(bytes);
  return {
    path: encodedName(to, algorithm, fromVersion),
    length: d.size,
    sha256: d.sha256,
    custom: {
      format: ENCODED_FORMAT,
      algorithm,
      to,
      ...(from ? { from } : {}),
      sha256: d.sha256,
      blake3: d.blake3,
      size_bytes: d.size,
      chunks: {
        hash: 'blake3',
        size: table.chunk_size,
        count: table.chunks.length,
        root: merkleRootHex(table.chunks),
      },
    },
  };
}
