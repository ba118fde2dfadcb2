/**
 * The data directory ($DCHAT_HOME, default ~/.dchat). Every path the program writes is named here,
 * so the layout is documented in one place:
 *   trust/trusted-set.json                         trusted TUF metadata (anti-rollback state):
 *                                                  root, timestamp, snapshot, targets as one set
 *   trust/{root,timestamp,snapshot,targets}.json   the same, as older homes kept it (migrated)
 *   trust/origin.json                              where the root came from (default | trust-init)
 *   trust/roots/<N>.root.json                      every root version trusted here, for the chain
 *                                                  this node hands peers in gossip bundles
 *   packages/dchat-<v>-<p>                         verified packages (only complete, verified files)
 *   packages/dchat-<v>-<p>.target.json             the signed target entry kept beside it
 *   packages/dchat-<v>-<p>.chunks                  its chunk table
 *   packages/auto_update_config.json               seed AutoUpdateConfig
 *   partial/                                       downloads in progress with their resume state
 *   mirrors.toml                                   DownloadSource records
 *   governance/genesis.json                        the pinned network genesis (store/governance-store.ts)
 *   governance/objects/<kind>-<id>.json            proposals, votes, approvals, certificates held
 *   node/                                          node identity, control socket, runtime state
 *   state/mirror-health.json                       what downloads measured about each mirror
 *   locks/<kind>.lock                              one writer per kind of state (store/lock.ts)
 *   versions/, current, activation/                installed versions and the supervisor's journal
 *                                                  (their layout: activation/versions.ts)
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { packageName } from '../model/platform.ts';
import type { RoleName } from '../trust/metadata.ts';

export interface HomePaths {
  home: string;
  trustDir: string;
  /** The trusted metadata set (store/trust-store.ts). */
  trustSetFile: string;
  /** A role's file in the layout of older homes (read once, then migrated into the set file). */
  trustFile(role: RoleName): string;
  trustOrigin: string;
  /** A root version this home trusted (kept so the node can hand peers the whole chain). */
  rootHistoryFile(version: number): string;
  packagesDir: string;
  packageFile(version: string, platform: string): string;
  targetFile(version: string, platform: string): string;
  chunkTableFile(version: string, platform: string): string;
  autoUpdateConfig: string;
  partialDir: string;
  mirrorsToml: string;
  /** Mirror health (failures, last success, measurements): state, kept out of mirrors.toml. */
  mirrorHealth: string;
  nodeDir: string;
  runDir: string;
}

export function resolveHome(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return resolve(flag ?? env.DCHAT_HOME ?? join(homedir(), '.dchat'));
}

export function homePaths(home: string): HomePaths {
  const trustDir = join(home, 'trust');
  const packagesDir = join(home, 'packages');
  return {
    home,
    trustDir,
    trustSetFile: join(trustDir, 'trusted-set.json'),
    trustFile: (role) => join(trustDir, `${role}.json`),
    trustOrigin: join(trustDir, 'origin.json'),
    rootHistoryFile: (v) => join(trustDir, 'roots', `${v}.root.json`),
    packagesDir,
    packageFile: (v, p) => join(packagesDir, packageName(v, p)),
    targetFile: (v, p) => join(packagesDir, `${packageName(v, p)}.target.json`),
    chunkTableFile: (v, p) => join(packagesDir, `${packageName(v, p)}.chunks`),
    autoUpdateConfig: join(packagesDir, 'auto_update_config.json'),
    partialDir: join(home, 'partial'),
    mirrorsToml: join(home, 'mirrors.toml'),
    mirrorHealth: join(home, 'state', 'mirror-health.json'),
    nodeDir: join(home, 'node'),
    runDir: join(home, 'run'),
  };
}
