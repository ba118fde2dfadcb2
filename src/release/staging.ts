/**
 * DIR/staging/: metadata prepared for detached signing, until `release finish` commits it.
 *   staging/root.json     the next root (release init --prepare, rotate-keys --prepare)
 *   staging/targets.json  the next targets (release publish --prepare, init, rotations)
 * Each is an ordinary TUF metadata file carrying the signatures collected so far; maintainers sign
 * it (or a copy of it) on their own machines with `release sign --metadata FILE --key K`.
 * Nothing here is trusted: `finish` checks every threshold against the roots.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DchatError, UsageError } from '../errors.ts';
import { parseJsonBytes } from '../model/schema-util.ts';
import { readCapped } from '../sources/directory-fetcher.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import {
  type AnyMetadata,
  DEFAULT_MAX_BYTES,
  parseMetadata,
  type RoleName,
  serializeMetadata,
} from '../trust/metadata.ts';
import type { Staged } from '../trust/repository.ts';

export function stagingPaths(dir: string) {
  const staging = join(dir, 'staging');
  return { dir: staging, root: join(staging, 'root.json'), targets: join(staging, 'targets.json') };
}

const MAX_ANY = Math.max(...Object.values(DEFAULT_MAX_BYTES));

/** A metadata file of any role (the role read from `signed._type`); `flag` names it in errors. */
export async function readMetadataFile(path: string, flag: string): Promise<AnyMetadata> {
  const bytes = await readCapped(path, MAX_ANY).catch((cause) => {
    throw new UsageError(flag, `cannot read ${path}: ${(cause as Error).message}`, { cause });
  });
  if (!bytes) throw new UsageError(flag, `cannot read ${path}: no such file`);
  // A file the user names is their input: unreadable metadata is a usage error naming the flag.
  try {
    const json = parseJsonBytes(bytes, MAX_ANY, path);
    const type = (json.signed as { _type?: unknown } | undefined)?._type;
    if (type !== 'root' && type !== 'targets' && type !== 'snapshot' && type !== 'timestamp')
      throw new UsageError(flag, `${path} is not TUF metadata (signed._type '${String(type).slice(0, 32)}')`);
    return parseMetadata(type as RoleName, bytes);
  } catch (err) {
    if (err instanceof DchatError && err.code !== 'E_USAGE')
      throw new UsageError(flag, err.message, { cause: err });
    throw err;
  }
}

export async function loadStaged(dir: string): Promise<Staged> {
  const p = stagingPaths(dir);
  const staged: Staged = {};
  const root = await readCapped(p.root, DEFAULT_MAX_BYTES.root);
  if (root) staged.root = parseMetadata('root', root);
  const targets = await readCapped(p.targets, DEFAULT_MAX_BYTES.targets);
  if (targets) staged.targets = parseMetadata('targets', targets);
  return staged;
}

export async function writeStaged(dir: string, staged: Staged): Promise<void> {
  const p = stagingPaths(dir);
  if (staged.root) await writeFileAtomic(p.root, serializeMetadata(staged.root));
  if (staged.targets) await writeFileAtomic(p.targets, serializeMetadata(staged.targets));
}

/** After a commit: the staged files are now published (or stale); remove them. */
export async function clearStaged(dir: string): Promise<void> {
  await rm(stagingPaths(dir).dir, { recursive: true, force: true });
}
