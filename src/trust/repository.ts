/**
 * Release side of TUF (pure): builds and signs the next versions of the four roles in memory.
 * Writing them out in a crash-safe order is the publisher's job (release/mirror-dir.ts).
 *
 * Each role has its own keys and threshold (TUF §2.1: root offline k-of-n, targets k-of-n,
 * snapshot and timestamp typically one online key). A role's new metadata can be signed in one
 * go (every key at hand) or prepared here, signed elsewhere one maintainer at a time (detached
 * signing) and committed by `commitStaged` once each role's threshold is met.
 */
import canonicalJson from '@tufjs/canonical-json';
import { Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp } from '@tufjs/models';
import { Role } from '@tufjs/models/dist/role.js';
import { sha256Hex } from '../crypto/hash.ts';
import { DchatError } from '../errors.ts';
import { distinctKeys, type PublicKeyRef, type SigningKey } from './keys.ts';
import { type AnyMetadata, type JSONValue, type RoleName, serializeMetadata } from './metadata.ts';
import { requireThreshold } from './signatures.ts';

export { type RotateOptions, resignAll, rotateRoot } from './rotation.ts';

export const SPEC_VERSION = '1.0.31';
export const ROLES: readonly RoleName[] = ['root', 'targets', 'snapshot', 'timestamp'];

export interface Repo {
  root: Metadata<Root>;
  targets: Metadata<Targets>;
  snapshot: Metadata<Snapshot>;
  timestamp: Metadata<Timestamp>;
}

/** The keys a root lists for one role and how many of them must sign. */
export interface RoleSpec {
  keys: readonly PublicKeyRef[];
  threshold: number;
}
export type RoleSpecs = Record<RoleName, RoleSpec>;

export function sameKeysForAllRoles(keys: readonly PublicKeyRef[], threshold: number): RoleSpecs {
  return {
    root: { keys, threshold },
    targets: { keys, threshold },
    snapshot: { keys, threshold },
    timestamp: { keys, threshold },
  };
}

/** The role definitions of an existing root (to keep the roles a rotation does not change). */
export function roleSpecsOf(root: Root): RoleSpecs {
  const spec = (role: RoleName): RoleSpec => {
    const def = root.roles[role];
    const keys = (def?.keyIDs ?? []).flatMap((id) => {
      const k = root.keys[id];
      return k ? [{ keyId: id, key: k, publicHex: k.keyVal.public ?? '' }] : [];
    });
    return { keys, threshold: def?.threshold ?? 1 };
  };
  return {
    root: spec('root'),
    targets: spec('targets'),
    snapshot: spec('snapshot'),
    timestamp: spec('timestamp'),
  };
}

/**
 * E_USAGE unless every role has 1 <= threshold <= its distinct keys. `flag` names the command-line
 * flag of each role's threshold so the message points at what to change.
 */
export function checkRoleSpecs(
  specs: RoleSpecs,
  flag: (role: RoleName) => string = () => '--threshold',
): void {
  for (const role of ROLES) {
    const { keys, threshold } = specs[role];
    const n = distinctKeys(keys).length;
    if (!Number.isInteger(threshold) || threshold < 1 || threshold > n) {
      throw new DchatError(
        'E_USAGE',
        `${flag(role)}: ${threshold} needs at least that many distinct ${role} keys (got ${n})`,
        { details: { flag: flag(role), role } },
      );
    }
  }
}

/** TUF expiry format: whole seconds, UTC, trailing Z. */
export function expiryString(now: Date, seconds: number): string {
  return new Date(Math.floor(now.getTime() / 1000) * 1000 + seconds * 1000)
    .toISOString()
    .replace('.000Z', 'Z');
}

export function signWith<T extends AnyMetadata>(md: T, keys: readonly SigningKey[]): T {
  md.signatures = {};
  return addSignatures(md, keys);
}

/** Adds (or replaces) the signatures of `keys`, keeping the others: one step of detached signing. */
export function addSignatures<T extends AnyMetadata>(md: T, keys: readonly SigningKey[]): T {
  for (const k of distinctKeys(keys)) md.sign(k.signer, true);
  return md;
}

/** The canonical bytes every signature of `md` covers (what maintainers compare out of band). */
export function signedBytes(md: AnyMetadata): Buffer {
  return Buffer.from(canonicalJson.canonicalize(md.signed.toJSON()));
}

/**
 * Copies into `into` the signatures of `from`, a copy of the same metadata signed elsewhere.
 * Refuses (E_WRONG_TARGET) a copy whose signed part differs: a signature over other bytes would
 * only fail later, and silently count for nothing.
 */
export function mergeSignatures<T extends AnyMetadata>(into: T, from: AnyMetadata, what: string): T {
  if (!signedBytes(into).equals(signedBytes(from))) {
    throw new DchatError(
      'E_WRONG_TARGET',
      `${what} signs other metadata than the staged ${into.signed.type} v${into.signed.version}`,
    );
  }
  for (const [id, sig] of Object.entries(from.signatures)) into.signatures[id] = sig;
  return into;
}

/** Keys that the root lists for `role` among `keys` (the rest would only add untrusted signatures). */
export function keysForRole(root: Root, role: RoleName, keys: readonly SigningKey[]): SigningKey[] {
  const ids = new Set(root.roles[role]?.keyIDs ?? []);
  return distinctKeys(keys).filter((k) => ids.has(k.keyId));
}

/** Signs `md` as `role` and proves the result meets the root's threshold (E_THRESHOLD/E_UNTRUSTED_KEY). */
export function signRole<T extends AnyMetadata>(
  root: Root,
  role: RoleName,
  md: T,
  keys: readonly SigningKey[],
): T {
  const usable = keysForRole(root, role, keys);
  signWith(md, usable.length > 0 ? usable : distinctKeys(keys));
  requireThreshold(root, role, md, `new ${role}`);
  return md;
}

/** A root (unsigned) listing each role's keys and threshold. */
export function rootTrusting(version: number, specs: RoleSpecs, expires: string): Root {
  const all = distinctKeys(ROLES.flatMap((r) => specs[r].keys));
  return new Root({
    version,
    specVersion: SPEC_VERSION,
    expires,
    consistentSnapshot: true,
    keys: Object.fromEntries(all.map((k) => [k.keyId, k.key])),
    roles: Object.fromEntries(
      ROLES.map((r) => [
        r,
        new Role({ keyIDs: distinctKeys(specs[r].keys).map((k) => k.keyId), threshold: specs[r].threshold }),
      ]),
    ),
  });
}

export interface ExpiryOptions {
  now: Date;
  rootExpiresSec: number;
  targetsExpiresSec: number;
  snapshotExpiresSec: number;
  timestampExpiresSec: number;
}

export interface InitOptions extends ExpiryOptions {
  keys: readonly SigningKey[];
  threshold: number;
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
  const staged = prepareInit(sameKeysForAllRoles(keys, o.threshold), keys, o);
  return commitStaged(undefined, staged, keys, o);
}

/**
 * Root v1 and an empty targets v1 for the role definitions `specs`, signed by those of `signers`
 * the roles list (possibly none: each maintainer then signs them with `release sign`).
 */
export function prepareInit(specs: RoleSpecs, signers: readonly SigningKey[], o: ExpiryOptions): Staged {
  const rootSigned = rootTrusting(1, specs, expiryString(o.now, o.rootExpiresSec));
  const root = addSignatures(new Metadata(rootSigned), keysForRole(rootSigned, 'root', signers));
  const targets = new Metadata(
    new Targets({ version: 1, specVersion: SPEC_VERSION, expires: expiryString(o.now, o.targetsExpiresSec) }),
  );
  addSignatures(targets, keysForRole(rootSigned, 'targets', signers));
  return { root, targets };
}

/** What a parent role signs about a metadata file: its version, length and SHA-256. */
function metaFileOf(version: number, bytes: Uint8Array): MetaFile {
  return new MetaFile({ version, length: bytes.byteLength, hashes: { sha256: sha256Hex(bytes) } });
}

/** New snapshot (for the current targets) and timestamp (for that snapshot), versions + 1. */
function finishSnapshot(
  repo: Omit<Repo, 'snapshot' | 'timestamp'> & Partial<Repo>,
  keys: readonly SigningKey[],
  now: Date,
  snapSec: number,
  tsSec: number,
): Repo {
  const root = repo.root.signed;
  const targetsBytes = serializeMetadata(repo.targets);
  const snapVersion = (repo.snapshot?.signed.version ?? 0) + 1;
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
  const timestamp = new Metadata(
    new Timestamp({
      version: (repo.timestamp?.signed.version ?? 0) + 1,
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
  /** Targets the next targets leaves out (release/targets-retention.ts). */
  remove?: readonly string[];
  snapshotExpiresSec: number;
  timestampExpiresSec: number;
}

/**
 * Targets version `version` (unsigned): the targets of `base` less `o.remove`, plus (or replacing)
 * `inputs`.
 * `base` is the current targets, or a staged next version that more packages join.
 */
export function nextTargets(
  base: Targets,
  version: number,
  inputs: readonly TargetInput[],
  o: { now: Date; targetsExpiresSec: number; remove?: readonly string[] },
): Metadata<Targets> {
  const targetsMap: Record<string, TargetFile> = { ...base.targets };
  for (const name of o.remove ?? []) delete targetsMap[name];
  for (const t of inputs) {
    targetsMap[t.path] = new TargetFile({
      path: t.path,
      length: t.length,
      hashes: { sha256: t.sha256 },
      unrecognizedFields: { custom: t.custom as JSONValue },
    });
  }
  return new Metadata(
    new Targets({
      version,
      specVersion: SPEC_VERSION,
      expires: expiryString(o.now, o.targetsExpiresSec),
      targets: targetsMap,
    }),
  );
}

/** Adds (or replaces) targets and re-signs targets, snapshot and timestamp, each version + 1. */
export function publishTargets(repo: Repo, inputs: readonly TargetInput[], o: PublishOptions): Repo {
  const targets = nextTargets(repo.targets.signed, repo.targets.signed.version + 1, inputs, o);
  signRole(repo.root.signed, 'targets', targets, o.keys);
  return finishSnapshot({ ...repo, targets }, o.keys, o.now, o.snapshotExpiresSec, o.timestampExpiresSec);
}

/** Re-signs snapshot and timestamp with fresh expiries (freshness without a new release). */
export function refreshRepo(repo: Repo, o: Omit<PublishOptions, 'targetsExpiresSec'>): Repo {
  return finishSnapshot(repo, o.keys, o.now, o.snapshotExpiresSec, o.timestampExpiresSec);
}

/** Metadata prepared for detached signing: a next root and/or a next targets. */
export interface Staged {
  root?: Metadata<Root>;
  targets?: Metadata<Targets>;
}

/**
 * The repository once `staged` is committed: every staged role must meet its threshold (a new
 * root that of the old root AND its own, TUF §5.3.5; targets that of the root it will live
 * under), then snapshot and timestamp are signed by `onlineKeys`. Without `current` this is a
 * new repository (root v1, targets v1). Throws E_THRESHOLD & co. before anything can be written;
 * E_VERSION_MISMATCH when the staged files were prepared against an older state (stale).
 */
export function commitStaged(
  current: Repo | undefined,
  staged: Staged,
  onlineKeys: readonly SigningKey[],
  o: Omit<PublishOptions, 'keys' | 'targetsExpiresSec'>,
): Repo {
  if (!current) {
    if (!staged.root || !staged.targets)
      throw new DchatError(
        'E_NOT_FOUND',
        'a new repository needs a staged root and targets (release init --prepare)',
      );
    if (staged.root.signed.version !== 1)
      throw new DchatError(
        'E_VERSION_MISMATCH',
        `staged root is v${staged.root.signed.version}, a new repository starts at v1`,
      );
    const root = staged.root.signed;
    requireThreshold(root, 'root', staged.root, 'new root');
    requireThreshold(root, 'targets', staged.targets, 'targets');
    return finishSnapshot(
      { root: staged.root, targets: staged.targets },
      onlineKeys,
      o.now,
      o.snapshotExpiresSec,
      o.timestampExpiresSec,
    );
  }
  let root = current.root;
  if (staged.root) {
    const want = current.root.signed.version + 1;
    if (staged.root.signed.version !== want)
      throw new DchatError(
        'E_VERSION_MISMATCH',
        `staged root is v${staged.root.signed.version} but the repository is at root v${want - 1}: prepare it again`,
      );
    requireThreshold(current.root.signed, 'root', staged.root, 'new root (old keys)');
    requireThreshold(staged.root.signed, 'root', staged.root, 'new root (new keys)');
    root = staged.root;
  }
  let targets = current.targets;
  if (staged.targets) {
    const want = current.targets.signed.version + 1;
    if (staged.targets.signed.version !== want)
      throw new DchatError(
        'E_VERSION_MISMATCH',
        `staged targets is v${staged.targets.signed.version} but the repository is at targets v${want - 1}: prepare it again`,
      );
    targets = staged.targets;
  }
  requireThreshold(root.signed, 'targets', targets, staged.targets ? 'staged targets' : 'targets');
  return finishSnapshot(
    { ...current, root, targets },
    onlineKeys,
    o.now,
    o.snapshotExpiresSec,
    o.timestampExpiresSec,
  );
}
