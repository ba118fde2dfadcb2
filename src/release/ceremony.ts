/**
 * The key ceremony on disk: repositories whose roles have their own keys and thresholds, and
 * metadata prepared in DIR/staging, signed by each maintainer on their own machine
 * (`release sign`), combined and committed by `release finish` with the online key.
 * docs/maintainer-keys.md walks through it.
 */
import { mkdir } from 'node:fs/promises';
import { DchatError, UsageError } from '../errors.ts';
import { distinctKeys, type SigningKey } from '../trust/keys.ts';
import {
  addSignatures,
  commitStaged,
  keysForRole,
  mergeSignatures,
  nextTargets,
  prepareInit,
  type Repo,
  type RoleSpecs,
  type Staged,
} from '../trust/repository.ts';
import { planRotation } from '../trust/rotation.ts';
import { tallySignatures } from '../trust/signatures.ts';
import { DEFAULT_EXPIRY } from './defaults.ts';
import { isRepo, loadRepo, mirrorPaths, writeRepoRoles, writeRoot, writeSums } from './mirror-dir.ts';
import { clearStaged, loadStaged, readMetadataFile, stagingPaths, writeStaged } from './staging.ts';

/** Either the committed repository, or what was staged for detached signing. */
export interface CeremonyOutcome {
  committed?: Repo;
  staged?: Staged;
  droppedSignatures: string[];
}

/** Writes a committed repository: root if new, then targets, snapshot, timestamp, SUMS. */
async function writeCommitted(dir: string, repo: Repo, newRoot: boolean): Promise<void> {
  const p = mirrorPaths(dir);
  await mkdir(p.targetsDir, { recursive: true });
  await mkdir(p.packagesDir, { recursive: true });
  // Root first: a client that sees the new timestamp must be able to find the root that signs it.
  if (newRoot) await writeRoot(dir, repo.root);
  await writeRepoRoles(dir, repo);
  await writeSums(dir, repo);
}

function expiries(now: Date, snapSec?: number, tsSec?: number) {
  return {
    now,
    snapshotExpiresSec: snapSec ?? DEFAULT_EXPIRY.snapshot,
    timestampExpiresSec: tsSec ?? DEFAULT_EXPIRY.timestamp,
  };
}

export interface InitRolesInput {
  dir: string;
  specs: RoleSpecs;
  /** Private keys at hand: each signs what its roles cover. */
  signers: readonly SigningKey[];
  now: Date;
  rootExpiresSec?: number;
  /** Stage root v1 and targets v1 for detached signing instead of committing. */
  prepare?: boolean;
}

/**
 * A new repository. Without `prepare` every threshold must be met by `signers` (E_THRESHOLD,
 * nothing written); with it, root v1 and targets v1 go to DIR/staging for the maintainers.
 */
export async function initWithRoles(o: InitRolesInput): Promise<CeremonyOutcome> {
  if (await isRepo(o.dir))
    throw new UsageError('--out', `${o.dir} already holds a repository; use rotate-keys to change its keys`);
  if ((await loadStaged(o.dir)).root)
    throw new UsageError(
      '--out',
      `${o.dir} already holds a prepared root (${stagingPaths(o.dir).root}): sign and finish it, or remove ${stagingPaths(o.dir).dir}`,
    );
  const staged = prepareInit(o.specs, o.signers, {
    now: o.now,
    rootExpiresSec: o.rootExpiresSec ?? DEFAULT_EXPIRY.root,
    targetsExpiresSec: DEFAULT_EXPIRY.targets,
    snapshotExpiresSec: DEFAULT_EXPIRY.snapshot,
    timestampExpiresSec: DEFAULT_EXPIRY.timestamp,
  });
  if (o.prepare) {
    await writeStaged(o.dir, staged);
    return { staged, droppedSignatures: [] };
  }
  const repo = commitStaged(undefined, staged, o.signers, expiries(o.now));
  await writeCommitted(o.dir, repo, true);
  return { committed: repo, droppedSignatures: [] };
}

export interface RotateRolesInput {
  dir: string;
  /** The new root's role definitions (roles not rotated: copy them from the current root). */
  specs: RoleSpecs;
  signers: readonly SigningKey[];
  now: Date;
  rootExpiresSec?: number;
  prepare?: boolean;
}

/**
 * Root N+1 with the role definitions `specs`, signed by the old and the new root thresholds
 * (TUF §5.3.5), and a new targets when the rotation needs one. Without `prepare` everything is
 * signed by `signers` and committed at once (E_THRESHOLD otherwise, nothing written); with it, the
 * new root (and targets) are staged for the maintainers and `release finish`.
 */
export async function rotateRoles(o: RotateRolesInput): Promise<CeremonyOutcome> {
  const repo = await loadRepo(o.dir);
  const plan = planRotation(repo, o.specs, o.signers, {
    now: o.now,
    rootExpiresSec: o.rootExpiresSec ?? DEFAULT_EXPIRY.root,
    targetsExpiresSec: DEFAULT_EXPIRY.targets,
  });
  if (o.prepare) {
    await writeStaged(o.dir, plan.staged);
    return { staged: plan.staged, droppedSignatures: plan.droppedSignatures };
  }
  const next = commitStaged(repo, plan.staged, o.signers, expiries(o.now));
  await writeCommitted(o.dir, next, true);
  return { committed: next, droppedSignatures: plan.droppedSignatures };
}

export interface FinishInput {
  dir: string;
  /** The online key(s) for snapshot and timestamp; any other key listed for a staged role signs it too. */
  keys: readonly SigningKey[];
  /** Copies of staged files signed elsewhere (`release sign` on a copy): their signatures are merged. */
  signatureFiles: readonly string[];
  now: Date;
  /** Expiry of the new snapshot and timestamp. */
  expiresSec?: number;
}

export interface FinishResult {
  repo: Repo;
  committedRoles: ('root' | 'targets')[];
}

/**
 * Merges the signatures collected for the staged metadata (kept in staging even when the
 * threshold is not met yet, so signing rounds accumulate), then commits it: E_THRESHOLD (exit 3)
 * and nothing published until each staged role meets its threshold.
 */
export async function finishStaged(o: FinishInput): Promise<FinishResult> {
  const staged = await loadStaged(o.dir);
  if (!staged.root && !staged.targets)
    throw new UsageError(
      '--out',
      `${o.dir} has nothing staged (release init|publish|rotate-keys --prepare stage metadata)`,
    );
  for (const f of o.signatureFiles) {
    const md = await readMetadataFile(f, '--signatures');
    const into =
      md.signed.type === 'root' ? staged.root : md.signed.type === 'targets' ? staged.targets : undefined;
    if (!into)
      throw new UsageError(
        '--signatures',
        `${f} is ${md.signed.type} metadata and no ${md.signed.type} is staged`,
      );
    mergeSignatures(into, md, f);
  }
  const current = (await isRepo(o.dir)) ? await loadRepo(o.dir) : undefined;
  const keys = distinctKeys(o.keys);
  if (staged.root) {
    const listed = [...keysForRole(staged.root.signed, 'root', keys)];
    if (current) listed.push(...keysForRole(current.root.signed, 'root', keys));
    addSignatures(staged.root, listed);
  }
  const rootToBe = staged.root ?? current?.root;
  if (staged.targets && rootToBe)
    addSignatures(staged.targets, keysForRole(rootToBe.signed, 'targets', keys));
  await writeStaged(o.dir, staged);
  let repo: Repo;
  try {
    repo = commitStaged(current, staged, keys, expiries(o.now, o.expiresSec, o.expiresSec));
  } catch (err) {
    if (err instanceof DchatError && err.code === 'E_VERSION_MISMATCH')
      throw new DchatError(err.code, `${err.message} (remove ${stagingPaths(o.dir).dir})`, { cause: err });
    throw err;
  }
  await writeCommitted(o.dir, repo, staged.root !== undefined);
  await clearStaged(o.dir);
  const committedRoles: FinishResult['committedRoles'] = [];
  if (staged.root) committedRoles.push('root');
  if (staged.targets) committedRoles.push('targets');
  return { repo, committedRoles };
}

export interface StagedStatus {
  role: 'root' | 'targets';
  version: number;
  file: string;
  /** Signature counts against each threshold the role must meet before `finish` commits it. */
  thresholds: { against: string; valid: number; threshold: number }[];
}

/** How far each staged document is from its thresholds (what `finish` will check). */
export function stagedStatus(dir: string, staged: Staged, current?: Repo): StagedStatus[] {
  const out: StagedStatus[] = [];
  const count = (
    root: Repo['root'],
    role: 'root' | 'targets',
    md: Repo['root'] | Repo['targets'],
    against: string,
  ) => {
    const t = tallySignatures(root.signed, role, md);
    return { against, valid: t.valid, threshold: t.threshold };
  };
  if (staged.root) {
    const thresholds = [count(staged.root, 'root', staged.root, current ? 'new root' : 'root')];
    if (current) thresholds.unshift(count(current.root, 'root', staged.root, 'old root'));
    out.push({ role: 'root', version: staged.root.signed.version, file: stagingPaths(dir).root, thresholds });
  }
  const rootToBe = staged.root ?? current?.root;
  if (staged.targets && rootToBe) {
    out.push({
      role: 'targets',
      version: staged.targets.signed.version,
      file: stagingPaths(dir).targets,
      thresholds: [count(rootToBe, 'targets', staged.targets, 'targets')],
    });
  }
  return out;
}

export interface RenewTargetsInput {
  dir: string;
  keys: readonly SigningKey[];
  now: Date;
  targetsExpiresSec?: number;
  snapshotExpiresSec?: number;
  timestampExpiresSec?: number;
  prepare?: boolean;
}

/**
 * Targets N+1 with the same packages and a fresh expiry (targets expire on their own, TUF §5.6):
 * signed and committed with snapshot and timestamp, or staged for the targets maintainers.
 */
export async function renewTargets(o: RenewTargetsInput): Promise<CeremonyOutcome> {
  const repo = await loadRepo(o.dir);
  const targets = nextTargets(repo.targets.signed, repo.targets.signed.version + 1, [], {
    now: o.now,
    targetsExpiresSec: o.targetsExpiresSec ?? DEFAULT_EXPIRY.targets,
  });
  addSignatures(targets, keysForRole(repo.root.signed, 'targets', o.keys));
  if (o.prepare) {
    await writeStaged(o.dir, { targets });
    return { staged: { targets }, droppedSignatures: [] };
  }
  const next = commitStaged(repo, { targets }, o.keys, {
    now: o.now,
    snapshotExpiresSec: o.snapshotExpiresSec ?? DEFAULT_EXPIRY.snapshot,
    timestampExpiresSec: o.timestampExpiresSec ?? DEFAULT_EXPIRY.timestamp,
  });
  await writeCommitted(o.dir, next, false);
  return { committed: next, droppedSignatures: [] };
}
