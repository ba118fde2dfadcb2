/**
 * $DCHAT_HOME/versions and the `current` link, in the spirit of Cosmovisor's layout: the one module
 * that knows it.
 *   versions/<v>/bin/dchat        an installed release (the single executable, mode 0755)
 *   versions/<v>/target.json      the signed target entry it was verified against
 *   current -> versions/<v>       the version the supervisor runs (a relative symlink)
 *   activation/state.json         the journal: the version on trial, rollbacks, history
 *   activation/upgrade-info.json  Cosmovisor's upgrade-info.json: the upgrade being switched to
 *   activation/backups/<name>/    node state and trust copied before each switch (Cosmovisor backup)
 * Crash safety: a version directory appears complete by one rename of its temp directory; `current`
 * only ever changes by the rename of a fresh symlink over it, so after a kill -9 at any instant it
 * names the old or the new version, both complete. The journal says which switch was under way, and
 * `recover` finishes or undoes it at the next start.
 */
import { randomBytes } from 'node:crypto';
import { cp, link, lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { DchatError } from '../errors.ts';
import { PackageCustomSchema, type PackageTarget } from '../model/package.ts';
import { isValidVersion } from '../model/version.ts';
import { copyFileAtomic, fsyncDir, writeFileAtomic } from '../store/atomic.ts';
import { digestAndStamp, digestWithStamp } from '../store/digest-stamps.ts';
import { digestFile } from '../store/file-digest.ts';
import type { HomePaths } from '../store/home.ts';
import { targetEntry } from '../store/packages.ts';
import type { Trial } from './schedule/schedule.ts';

export const ACTIVATION_FORMAT = 'dchat.activation/1';
/** Entries kept in the journal's history (oldest dropped). */
const HISTORY_CAP = 200;

export interface VersionPaths {
  home: HomePaths;
  versionsDir: string;
  versionDir(v: string): string;
  exe(v: string): string;
  target(v: string): string;
  current: string;
  activationDir: string;
  journal: string;
  upgradeInfo: string;
  backupsDir: string;
  supervisorLock: string;
  switchLock: string;
}

export function versionPaths(paths: HomePaths): VersionPaths {
  const versionsDir = join(paths.home, 'versions');
  const activationDir = join(paths.home, 'activation');
  return {
    home: paths,
    versionsDir,
    versionDir: (v) => join(versionsDir, v),
    exe: (v) => join(versionsDir, v, 'bin', 'dchat'),
    target: (v) => join(versionsDir, v, 'target.json'),
    current: join(paths.home, 'current'),
    activationDir,
    journal: join(activationDir, 'state.json'),
    upgradeInfo: join(activationDir, 'upgrade-info.json'),
    backupsDir: join(activationDir, 'backups'),
    supervisorLock: join(paths.home, 'locks', 'supervisor.lock'),
    switchLock: join(paths.home, 'locks', 'activation.lock'),
  };
}

const versionStr = z.string().refine(isValidVersion, 'not a SemVer version');
const JournalSchema = z.object({
  format: z.literal(ACTIVATION_FORMAT),
  trial: z
    .object({
      version: versionStr,
      previous: versionStr.nullable(),
      started_ms: z.number(),
      healthy: z.boolean(),
    })
    .nullable(),
  rolled_back: z
    .array(
      z.object({
        version: versionStr,
        to: versionStr,
        at: z.string().max(40),
        reason: z.string().max(200),
      }),
    )
    .max(HISTORY_CAP),
  history: z
    .array(
      z.object({
        kind: z.enum(['switch', 'rollback', 'mark-successful']),
        from: versionStr.nullable(),
        to: versionStr,
        at: z.string().max(40),
        height: z.number().int().nonnegative().nullable(),
        downtime_ms: z.number().nonnegative().nullable(),
      }),
    )
    .max(HISTORY_CAP),
  /** Upgrades activated here at a height: hard ones bar rollbacks below them. */
  forks: z
    .array(
      z.object({
        version: versionStr,
        activation_height: z.number().int().nonnegative(),
        fork: z.enum(['hard', 'soft']),
      }),
    )
    .max(HISTORY_CAP)
    .default([]),
});
export type Journal = z.infer<typeof JournalSchema>;
export type HistoryEntry = Journal['history'][number];

const EMPTY: Journal = { format: ACTIVATION_FORMAT, trial: null, rolled_back: [], history: [], forks: [] };

export async function readJournal(vp: VersionPaths): Promise<Journal> {
  let text: string;
  try {
    text = await readFile(vp.journal, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return structuredClone(EMPTY);
    throw new DchatError('E_IO', `cannot read ${vp.journal}: ${(err as Error).message}`, { cause: err });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new DchatError('E_CONFIG', `${vp.journal} is not valid JSON`, { cause });
  }
  const r = JournalSchema.safeParse(data);
  if (!r.success)
    throw new DchatError('E_CONFIG', `${vp.journal}: ${r.error.issues[0]?.message}`, { cause: r.error });
  return r.data;
}

export async function writeJournal(vp: VersionPaths, j: Journal): Promise<void> {
  const trimmed: Journal = {
    ...j,
    rolled_back: j.rolled_back.slice(-HISTORY_CAP),
    history: j.history.slice(-HISTORY_CAP),
  };
  await writeFileAtomic(vp.journal, `${JSON.stringify(JournalSchema.parse(trimmed), null, 1)}\n`);
}

/** The version `current` names, or null (no link, or a link to something that is not a version). */
export async function readCurrent(vp: VersionPaths): Promise<string | null> {
  let to: string;
  try {
    to = await readlink(vp.current);
  } catch {
    return null;
  }
  const m = /^versions\/([^/]+)$/.exec(to);
  return m?.[1] && isValidVersion(m[1]) ? m[1] : null;
}

/** Installed versions: directories under versions/ named by a version, with both files present. */
export async function listInstalled(vp: VersionPaths): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(vp.versionsDir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    if (!isValidVersion(n)) continue;
    const [exe, tgt] = await Promise.all([
      lstat(vp.exe(n)).catch(() => null),
      lstat(vp.target(n)).catch(() => null),
    ]);
    if (exe?.isFile() && tgt?.isFile()) out.push(n);
  }
  return out;
}

/** The signed target entry kept with an installed version. */
export async function readInstalledTarget(vp: VersionPaths, v: string): Promise<PackageTarget> {
  let data: { path?: unknown; length?: unknown; hashes?: { sha256?: unknown }; custom?: unknown };
  try {
    data = JSON.parse(await readFile(vp.target(v), 'utf8'));
  } catch (cause) {
    throw new DchatError('E_MALFORMED', `${vp.target(v)} is missing or not JSON`, { cause });
  }
  const custom = PackageCustomSchema.safeParse(data.custom);
  if (
    !custom.success ||
    typeof data.path !== 'string' ||
    typeof data.length !== 'number' ||
    typeof data.hashes?.sha256 !== 'string' ||
    custom.data.version !== v
  )
    throw new DchatError('E_MALFORMED', `${vp.target(v)} is not the target entry of ${v}`);
  return { path: data.path, length: data.length, sha256: data.hashes.sha256, custom: custom.data };
}

/**
 * Rechecks an installed version's executable against its signed hash and size. The file is hashed
 * in full and its digests stamped (store/digest-stamps.ts: the package it is a hard link of then
 * needs no second hash at the next node start); with `reuseStamp` an unchanged file's stamp stands
 * in for the hash.
 */
export async function verifyInstalled(
  vp: VersionPaths,
  v: string,
  o: { reuseStamp?: boolean } = {},
): Promise<PackageTarget> {
  const target = await readInstalledTarget(vp, v);
  const exe = vp.exe(v);
  const { digests: d } = await (o.reuseStamp
    ? digestWithStamp(vp.home, exe, () => digestFile(exe))
    : digestAndStamp(vp.home, exe, () => digestFile(exe))
  ).catch((cause) => {
    throw new DchatError('E_NOT_FOUND', `${exe}: ${(cause as Error).message}`, { cause });
  });
  if (d.size !== target.length)
    throw new DchatError('E_SIZE_MISMATCH', `${exe}: ${d.size} bytes, signed ${target.length}`);
  if (d.sha256 !== target.sha256)
    throw new DchatError('E_HASH_MISMATCH', `${exe} does not hash to its signed SHA-256`);
  return target;
}

/**
 * Installs a verified package (packages/dchat-<v>-<p>) as versions/<v>: a temp directory filled
 * (a hard link of the package, or a copy across filesystems), checked against the signed hash,
 * then renamed into place. An already installed version is left as is.
 */
export async function installVersion(
  vp: VersionPaths,
  packageFile: string,
  target: PackageTarget,
): Promise<void> {
  const v = target.custom.version;
  if ((await listInstalled(vp)).includes(v)) return;
  await mkdir(vp.versionsDir, { recursive: true });
  const tmp = join(vp.versionsDir, `.tmp-${v}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(join(tmp, 'bin'), { recursive: true });
    const exe = join(tmp, 'bin', 'dchat');
    await link(packageFile, exe).catch(() => copyFileAtomic(packageFile, exe, 0o755));
    const d = await digestFile(exe);
    if (d.sha256 !== target.sha256 || d.size !== target.length)
      throw new DchatError('E_HASH_MISMATCH', `${packageFile} does not match the signed target of ${v}`);
    await writeFileAtomic(join(tmp, 'target.json'), `${JSON.stringify(targetEntry(target), null, 1)}\n`);
    await fsyncDir(join(tmp, 'bin'));
    await fsyncDir(tmp);
    await rm(vp.versionDir(v), { recursive: true, force: true });
    await rename(tmp, vp.versionDir(v));
    await fsyncDir(vp.versionsDir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Removes an installed version (never the current one: the caller checks). */
export async function removeVersion(vp: VersionPaths, v: string): Promise<void> {
  // Renamed away first, so a crash never leaves a half-deleted version that looks installed.
  const tmp = join(vp.versionsDir, `.tmp-rm-${v}-${randomBytes(4).toString('hex')}`);
  await rename(vp.versionDir(v), tmp);
  await fsyncDir(vp.versionsDir);
  await rm(tmp, { recursive: true, force: true });
}

/** Points `current` at versions/<v> atomically: a new symlink renamed over the old one. */
export async function setCurrent(vp: VersionPaths, v: string): Promise<void> {
  const home = join(vp.current, '..');
  const tmp = `${vp.current}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await symlink(`versions/${v}`, tmp);
  try {
    await rename(tmp, vp.current);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new DchatError('E_IO', `cannot switch ${vp.current}: ${(err as Error).message}`, { cause: err });
  }
  await fsyncDir(home);
}

/** Cosmovisor's upgrade-info.json: what is being switched to, at which height. */
export async function writeUpgradeInfo(
  vp: VersionPaths,
  info: { name: string; height: number | null; from: string | null; sha256: string; fork: string | null },
): Promise<void> {
  await writeFileAtomic(
    vp.upgradeInfo,
    `${JSON.stringify({ ...info, info: `dchat ${info.name}` }, null, 1)}\n`,
  );
}

/** Cosmovisor's data backup before a switch: node state and trust, copied; keeps the newest `keep`. */
export async function backupBeforeSwitch(
  paths: HomePaths,
  vp: VersionPaths,
  name: string,
  keep = 3,
): Promise<string> {
  const dir = join(vp.backupsDir, name);
  const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
  await mkdir(tmp, { recursive: true });
  for (const [from, to] of [
    [join(paths.nodeDir, 'state.json'), 'node-state.json'],
    [paths.trustSetFile, 'trusted-set.json'],
    [paths.autoUpdateConfig, 'auto_update_config.json'],
  ] as const)
    await cp(from, join(tmp, to)).catch(() => {});
  await rename(tmp, dir);
  const all = (await readdir(vp.backupsDir)).filter((n) => !n.includes('.tmp-')).sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep)))
    await rm(join(vp.backupsDir, old), { recursive: true, force: true });
  return dir;
}

/** Leftovers of a killed process: temp links beside `current`, temp version and backup directories. */
export async function sweepLeftovers(vp: VersionPaths): Promise<void> {
  const home = join(vp.current, '..');
  for (const n of await readdir(home).catch(() => [] as string[]))
    if (n.startsWith('current.tmp-')) await rm(join(home, n), { force: true });
  for (const n of await readdir(vp.versionsDir).catch(() => [] as string[]))
    if (n.startsWith('.tmp-')) await rm(join(vp.versionsDir, n), { recursive: true, force: true });
  for (const n of await readdir(vp.backupsDir).catch(() => [] as string[]))
    if (n.includes('.tmp-')) await rm(join(vp.backupsDir, n), { recursive: true, force: true });
}

export function historyEntry(
  kind: HistoryEntry['kind'],
  from: string | null,
  to: string,
  now: Date,
  extra: { height?: number | null; downtime_ms?: number | null } = {},
): HistoryEntry {
  return {
    kind,
    from,
    to,
    at: now.toISOString(),
    height: extra.height ?? null,
    downtime_ms: extra.downtime_ms ?? null,
  };
}

export type { Trial };

/** activation/request.json: a switch the node asks its supervisor for (then SIGHUP). */
export interface SwitchRequest {
  version: string;
  /** The network height when the node asked. */
  height: number | null;
  /** The plan's activation height (null: not a governed upgrade). */
  activation_height: number | null;
  fork: 'hard' | 'soft' | null;
}

export async function writeSwitchRequest(vp: VersionPaths, r: SwitchRequest): Promise<void> {
  await writeFileAtomic(join(vp.activationDir, 'request.json'), `${JSON.stringify(r)}\n`);
}

/** Takes the pending request (removing it), or null. A malformed one is dropped. */
export async function takeSwitchRequest(vp: VersionPaths): Promise<SwitchRequest | null> {
  const file = join(vp.activationDir, 'request.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  await rm(file, { force: true });
  const r = z
    .object({
      version: versionStr,
      height: z.number().int().nonnegative().nullable(),
      activation_height: z.number().int().nonnegative().nullable(),
      fork: z.enum(['hard', 'soft']).nullable(),
    })
    .safeParse(
      (() => {
        try {
          return JSON.parse(text.slice(0, 4096));
        } catch {
          return null;
        }
      })(),
    );
  return r.success ? r.data : null;
}
