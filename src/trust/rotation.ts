/**
 * Key rotation (pure): root version N+1 with new role definitions, signed by a threshold of the old
 * root's root keys and of the new root's (TUF §5.3.5), and, when the rotation demands it, a new
 * targets version the new targets keys sign. Each part can be signed at once or staged for
 * detached signing (repository.ts commitStaged checks the thresholds).
 */
import { Metadata, type Root, TargetFile, Targets } from '@tufjs/models';
import { DchatError } from '../errors.ts';
import { distinctKeys, type SigningKey } from './keys.ts';
import type { JSONValue } from './metadata.ts';
import {
  addSignatures,
  commitStaged,
  expiryString,
  keysForRole,
  type PublishOptions,
  type Repo,
  type RoleSpecs,
  rootTrusting,
  SPEC_VERSION,
  type Staged,
  sameKeysForAllRoles,
  signRole,
} from './repository.ts';
import { requireThreshold, tallySignatures } from './signatures.ts';

export interface RotateOptions {
  oldKeys: readonly SigningKey[];
  newKeys: readonly SigningKey[];
  threshold: number;
  now: Date;
  rootExpiresSec: number;
}

/** Root N+1 (unsigned) trusting `specs`, signed by those of `signers` the old or new root lists for root. */
export function nextRoot(
  repo: Repo,
  specs: RoleSpecs,
  signers: readonly SigningKey[],
  o: { now: Date; rootExpiresSec: number },
): Metadata<Root> {
  const old = repo.root.signed;
  const signed = rootTrusting(old.version + 1, specs, expiryString(o.now, o.rootExpiresSec));
  return addSignatures(
    new Metadata(signed),
    distinctKeys([...keysForRole(old, 'root', signers), ...keysForRole(signed, 'root', signers)]),
  );
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
  const md = nextRoot(repo, sameKeysForAllRoles(newKeys, o.threshold), [...o.oldKeys, ...newKeys], o);
  requireThreshold(repo.root.signed, 'root', md, 'new root (old keys)');
  requireThreshold(md.signed, 'root', md, 'new root (new keys)');
  return md;
}

/**
 * The current targets as version N+1 under `root` (unsigned). A dchat-sign signature by a key the
 * new root no longer lists for targets is dropped from the target (keys are often rotated because
 * they leaked: a retired key must vouch for nothing); the new targets keys' threshold signature
 * covers those targets from now on.
 */
export function retargeted(
  repo: Repo,
  root: Root,
  o: { now: Date; targetsExpiresSec: number },
): { targets: Metadata<Targets>; droppedSignatures: string[] } {
  const prev = repo.targets.signed;
  const newTargetKeys = new Set(
    (root.roles.targets?.keyIDs ?? [])
      .map((id) => root.keys[id]?.keyVal.public)
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
      unrecognizedFields: { ...t.unrecognizedFields, custom: kept as JSONValue },
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
  return { targets, droppedSignatures };
}

/** Re-signs every non-root role under a (new) root, versions + 1: used right after a rotation. */
export function resignAll(
  repo: Repo,
  root: Metadata<Root>,
  o: PublishOptions,
): Repo & { droppedSignatures: string[] } {
  const { targets, droppedSignatures } = retargeted(repo, root.signed, o);
  signRole(root.signed, 'targets', targets, o.keys);
  return { ...commitStaged(repo, { root, targets }, o.keys, o), droppedSignatures };
}

export interface RotationPlan {
  staged: Staged;
  droppedSignatures: string[];
}

/**
 * Everything a rotation to `specs` needs signed: root N+1, and targets N+1 when the current targets
 * would not hold under the new root (its targets keys or threshold changed, or a dchat-sign
 * signature by a retired key must go) or when `signers` can sign it anyway (the one-machine path
 * re-signs it, as `rotate-keys` always did). Signed by whichever of `signers` the roles list.
 */
export function planRotation(
  repo: Repo,
  specs: RoleSpecs,
  signers: readonly SigningKey[],
  o: { now: Date; rootExpiresSec: number; targetsExpiresSec: number },
): RotationPlan {
  const root = nextRoot(repo, specs, signers, o);
  const r = retargeted(repo, root.signed, o);
  const tally = tallySignatures(root.signed, 'targets', repo.targets);
  const holds = tally.valid >= tally.threshold && r.droppedSignatures.length === 0;
  const mine = keysForRole(root.signed, 'targets', signers);
  const canSign = mine.length >= (root.signed.roles.targets?.threshold ?? 1);
  if (holds && !canSign) return { staged: { root }, droppedSignatures: [] };
  addSignatures(r.targets, mine);
  return { staged: { root, targets: r.targets }, droppedSignatures: r.droppedSignatures };
}
