/**
 * Real release builds of this source for the activation tests (`dchat release build`, about 10-30 s
 * each): built once per test process and version, kept in a temp directory removed at exit. A
 * `neverHealthy` build is the deliberately broken one (`--test-never-healthy`): its node runs but
 * never reports healthy. `homeWithVersions` publishes builds to a real repository served by the
 * static mirror, and takes a fresh home through `update download` and `update install`, as an
 * operator would.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../../src/crypto/hash.ts';
import { type StaticServer, startStaticServer } from '../../src/mirror/static-server.ts';
import { hostPlatform } from '../../src/model/platform.ts';
import { initRepository, publishRelease } from '../../src/release/publish.ts';
import { homePaths } from '../../src/store/home.ts';
import { writeTrustOrigin } from '../../src/store/trust-origin.ts';
import { FileTrustStore } from '../../src/store/trust-store.ts';
import { releaseExecutable } from '../../src/testnet/upgrade-builds.ts';
import type { SigningKey } from '../../src/trust/keys.ts';
import { addMirror, runDchat } from '../download/fixture.ts';
import { REPO_ROOT } from './cli.ts';
import { makeKeys } from './repo.ts';

export const PLATFORM = hostPlatform(process.platform, process.arch);

const dir = mkdtempSync(join(tmpdir(), 'dchat-builds-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
/**
 * Where builds go: DCHAT_TEST_BUILDS (scripts/test.sh makes one for the whole run, so the test
 * files that need the same build share it), else this process's temp directory.
 */
export const BUILDS_DIR = process.env.DCHAT_TEST_BUILDS || dir;

/**
 * The executable of `version` built from this checkout, made once per process and shared through
 * BUILDS_DIR by src/testnet/upgrade-builds.ts (the harness's own builder: built in a directory of
 * this process's own and renamed into place, so no process runs a half-written build).
 */
export function releaseBuild(version: string, o: { neverHealthy?: boolean } = {}): Promise<string> {
  return releaseExecutable(
    BUILDS_DIR,
    { version, ...(o.neverHealthy ? { unhealthy: true } : {}) },
    REPO_ROOT,
  );
}

export interface ReleaseRepo {
  dir: string;
  keys: SigningKey[];
  mirror: StaticServer;
  close(): Promise<void>;
}

/** A repository with these builds published, served by a loopback mirror. */
export async function releaseRepo(builds: { version: string; file: string }[]): Promise<ReleaseRepo> {
  const base = mkdtempSync(join(dir, 'repo-'));
  const repoDir = join(base, 'repo');
  const keys = makeKeys(1);
  const now = new Date();
  await initRepository({ dir: repoDir, keys, threshold: 1, now });
  for (const b of builds)
    await publishRelease({
      dir: repoDir,
      packagePath: b.file,
      version: b.version,
      platform: PLATFORM,
      keys,
      now,
    });
  const mirror = await startStaticServer({ root: repoDir, host: '127.0.0.1', port: 0 });
  return { dir: repoDir, keys, mirror, close: () => mirror.close() };
}

/** A fresh home trusting `repo`, with `install` downloaded and installed (the first is current). */
export async function homeWithVersions(repo: ReleaseRepo, install: string[]): Promise<string> {
  const home = mkdtempSync(join(dir, 'home-'));
  const paths = homePaths(home);
  const root = readFileSync(join(repo.dir, 'root.json'));
  await new FileTrustStore(paths).pinRoot(root);
  await writeTrustOrigin(paths, {
    origin: 'trust-init',
    root_sha256: sha256Hex(root),
    at: new Date().toISOString(),
  });
  await addMirror(home, repo.mirror.url);
  for (const v of install) {
    const dl = await runDchat(['--home', home, 'update', 'download', '--version', v, '--platform', PLATFORM]);
    assert.equal(dl.code, 0, dl.stderr);
    const ins = await runDchat(['--home', home, 'update', 'install', '--version', v, '--platform', PLATFORM]);
    assert.equal(ins.code, 0, ins.stderr);
  }
  return home;
}
