/**
 * Release side of TUF (pure): builds and signs the next versions of the four roles in memory.
 * Writing them out in a crash-safe order is the publisher's job (release/mirror-dir.ts).
 */
import { Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp } from '@tufjs/models';
import { Role } from '@tufjs/models/dist/role.js';
import { sha256Hex } from '../crypto/hash.ts';
import { DchatError } from '../errors.ts';
import { distinctKeys, type SigningKey } from './keys.ts';
import { type AnyMetadata, type RoleName, serializeMetadata } from './metadata.ts';
import { requireThreshold } from './signatures.ts';

export const SPEC_VERSION = '1.0.31';
export const ROLES: readonly RoleName[] = ['root', 'targets', 'snapshot', 'timestamp'];

export interface Repo {
  root: Metadata<Root>;
  targets: Metadata<Targets>;
  snapshot: Metadata<Snapshot>;
  timestamp: Metadata<Timestamp>;
}

/** TUF expiry format: whole seconds, UTC, trailing Z. */
export function expiryString(now: Date, seconds: number): string {
  return new Date(Math.floor(now.getTime() / 1000) * 1000 + seconds * 1000)
    .toISOString()
    .replace('.000Z', 'Z');
}

export function signWith<T extends AnyMetadata>(md: T, keys: readonly SigningKey[]): T {
  md.signatures = {};
  for (const k of distinctKeys(keys)) md.sign(k.signer, true);
  return md;
}

/** Keys that the root lists for `role` among `keys` (the rest would only add untrusted signatures). */
export function keysForRole(root: Root, role: RoleName, keys: readonly SigningKey[]): SigningKey[] {
  const ids = new Set(root.roles[role]?.keyIDs ?? []);
  return distinctKeys(keys).filter((k) => ids.has(k.keyId));
}

/** Signs `md` as `role` and proves the result meets the root's threshold (E_THRESHOLD/E_UNTRUSTED_KEY). */
function signRole<T extends AnyMetadata>(root: Root, role: RoleName, md: T, keys: readonly SigningKey[]): T {
  const usable = keysForRole(root, role, keys);
  signWith(md, usable.length > 0 ? usable : distinctKeys(keys));
  requireThreshold(root, role, md, `new ${role}`);
  return md;
}

/** A root (unsigned) whose four roles all trust `keys`, `threshold` of them each. */
function rootTrusting(
  version: number,
  keys: readonly SigningKey[],
  threshold: number,
  expires: string,
): Root {
  const keyIDs = keys.map((k) => k.keyId);
  return new Root({
    version,
    specVersion: SPEC_VERSION,
    expires,
    consistentSnapshot: true,
    keys: Object.fromEntries(keys.map((k) => [k.keyId, k.key])),
    roles: Object.fromEntries(ROLES.map((r) => [r, new Role({ keyIDs, threshold })])),
  });
}

export interface InitOptions {
  keys: readonly SigningKey[];
  threshold: number;
  now: Date;
  rootExpiresSec: number;
  targetsExpiresSec: number;
  snapshotExpiresSec: number;
  timestampExpiresSec: number;
}

/** A new repository whose four roles trust `keys`, `threshold` of them required for each. */
export function initRepo(o: InitOptions): Repo {
  const keys = distinctKeys(o.keys);
  if (o.threshold < 1 || o.threshold > keys.length) {
    throw new DchatError(
      'E_USAGE',
      `--threshold: ${o.threshold} needs at least that many distinct keys (got ${keys.length})`,
    );
  }
  const rootSigned = rootTrusting(1, keys, o.threshold, expiryString(o.now, o.rootExpiresSec));
  const root = signRole(rootSigned, 'root', new Metadata(rootSigned), keys);
  const targets = new Metadata(
    new Targets({ version: 1, specVersion: SPEC_VERSION, expires: expiryString(o.now, o.targetsExpiresSec) }),
  );
  signRole(rootSigned, 'targets', targets, keys);
  return finishSnapshot(
    { root, targets } as Repo,
    keys,
    o.now,
    o.snapshotExpiresSec,
    o.timestampExpiresSec,
    1,
  );
}

/** What a parent role signs about a metadata file: its version, length and SHA-256. */
function metaFileOf(version: number, bytes: Uint8Array): MetaFile {
  return new MetaFile({ version, length: bytes.byteLength, hashes: { sha256: sha256Hex(bytes) } });
}

/** New snapshot (for the current targets) and timestamp (for that snapshot), versions + 1. */
function finishSnapshot(
  repo: Repo,
  keys: readonly SigningKey[],
  now: Date,
  snapSec: number,
  tsSec: number,
  version?: number,
): Repo {
  const root = repo.root.signed;
  const targetsBytes = serializeMetadata(repo.targets);
  const snapVersion = version ?? repo.snapshot.signed.version + 1;
  const snapshot = new Metadata(
    new Snapshot({
      version: snapVersion,
      specVersion: SPEC_VERSION,
      expires: expiryString(now, snapSec),
      meta: {
        'targets.json': metaFileOf(repo.targets.signed.version, targetsBytes),
      },
    }),
  );
  signRole(root, 'snapshot', snapshot, keys);
  const snapBytes = serializeMetadata(snapshot);
  const tsVersion = version ?? repo.timestamp.signed.version + 1;
  const timestamp = new Metadata(
    new Timestamp({
      version: tsVersion,
      specVersion: SPEC_VERSION,
      expires: expiryString(now, tsSec),
      snapshotMeta: metaFileOf(snapVersion, snapBytes),
    }),
  );
  signRole(root, 'timestamp', timestamp, keys);
  return { root: repo.root, targets: repo.targets, snapshot, timestamp };
}

export interface TargetInput {
  path: string;
  length: number;
  sha256: string;
  custom: Record<string, unknown>;
}

export interface PublishOptions {
  keys: readonly SigningKey[];
  now: Date;
  targetsExpiresSec: number;
  snapshotExpiresSec: number;
  timestampExpiresSec: number;
}

/** Adds (or replaces) targets and re-signs targets, snapshot and timestamp, each version + 1. */
export function publishTargets(repo: Repo, inputs: readonly TargetInput[], o: PublishOptions): Repo {
  const prev = repo.targets.signed;
  const targetsMap: Record<string, TargetFile> = { ...prev.targets };
  for (const t of inputs) {
    targetsMap[t.path] = new TargetFile({
      path: t.path,
      length: t.length,
      hashes: { sha256: t.sha256 },
      unrecognizedFields: { custom: t.custom as never },
    });
  }
  const targets = new Metadata(
    new Targets({
      version: prev.version + 1,
      specVersion: SPEC_VERSION,
      expires: expiryString(o.now, o.targetsExpiresSec),
      targets: targetsMap,
    }),
  );
  signRole(repo.root.signed, 'targets', targets, o.keys);
  return finishSnapshot({ ...repo, targets }, o.keys, o.now, o.snapshotExpiresSec, o.timestampExpiresSec);
}

/** Re-signs snapshot and timestamp with fresh expiries (freshness without a new release). */
export function refreshRepo(repo: Repo, o: Omit<PublishOptions, 'targetsExpiresSec'>): Repo {
  return finishSnapshot(repo, o.keys, o.now, o.snapshotExpiresSec, o.timestampExpiresSec);
}

export interface RotateOptions {
  oldKeys: readonly SigningKey[];
  newKeys: readonly SigningKey[];
  threshold: number;
  now: Date;
  rootExpiresSec: number;
}

/**
 * Root version N+1 trusting `newKeys` (threshold each role), signed by a threshold of the old
 * root's keys and of the new keys (TUF §5.3.5). Other roles are re-signed by the caller with the
 * new keys (publish or refresh), which the new root requires.
 */
export function rotateRoot(repo: Repo, o: RotateOptions): Metadata<Root> {
  const newKeys = distinctKeys(o.newKeys);
  if (o.threshold < 1 || o.threshold > newKeys.length) {
    throw new DchatError(
      'E_USAGE',
      `--threshold: ${o.threshold} needs at least that many distinct new keys (got ${newKeys.length})`,
    );
  }
  const old = repo.root.signed;
  const signed = rootTrusting(old.version + 1, newKeys, o.threshold, expiryString(o.now, o.rootExpiresSec));
  const md = new Metadata(signed);
  signWith(md, distinctKeys([...keysForRole(old, 'root', o.oldKeys), ...newKeys]));
  requireThreshold(old, 'root', md, 'new root (old keys)');
  requireThreshold(signed, 'root', md, 'new root (new keys)');
  return md;
}

/**
 * Re-signs every non-root role under a (new) root, versions + 1: used right after a rotation.
 * A dchat-sign signature by a key the new root no longer lists for targets is dropped from the
 * target (keys are often rotated because they leaked: a retired key must vouch for nothing);
 * the new targets keys' threshold signature covers those targets from now on.
 */
export function resignAll(
  repo: Repo,
  root: Metadata<Root>,
  o: PublishOptions,
): Repo & { droppedSignatures: string[] } {
  const prev = repo.targets.signed;
  const newTargetKeys = new Set(
    (root.signed.roles.targets?.keyIDs ?? [])
      .map((id) => root.signed.keys[id]?.keyVal.public)
      .filter((k): k is string => k !== undefined),
  );
  const droppedSignatures: string[] = [];
  const targetsMap: Record<string, TargetFile> = {};
  for (const [path, t] of Object.entries(prev.targets)) {
    const custom = t.custom as Record<string, unknown>;
    const signer =
      typeof custom.signer_pubkey === 'string'
        ? Buffer.from(custom.signer_pubkey, 'base64').toString('hex')
        : undefined;
    if (signer === undefined || newTargetKeys.has(signer)) {
      targetsMap[path] = t;
      continue;
    }
    const { signature: _s, signer_pubkey: _p, ...kept } = custom;
    droppedSignatures.push(path);
    targetsMap[path] = new TargetFile({
      path,
      length: t.length,
      hashes: t.hashes,
      unrecognizedFields: { ...t.unrecognizedFields, custom: kept as never },
    });
  }
  const targets = new Metadata(
    new Targets({
      version: prev.version + 1,
      specVersion: SPEC_VERSION,
      expires: expiryString(o.now, o.targetsExpiresSec),
      targets: targetsMap,
    }),
  );
  signRole(root.signed, 'targets', targets, o.keys);
  const next = finishSnapshot(
    { ...repo, root, targets },
    o.keys,
    o.now,
    o.snapshotExpiresSec,
    o.timestampExpiresSec,
  );
  return { ...next, droppedSignatures };
}
