/**
 * Test releases for the harness: a fresh release key, a repository (`release init`), packages of
 * random bytes published into it (`release publish`), exactly as a release maintainer does, plus
 * the TUF bundles that honest and malicious nodes put in announcements.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TufBundle } from '../model/announcement.ts';
import { packageName } from '../model/platform.ts';
import { writeNewKeyPair } from '../release/key-files.ts';
import { loadRepo, mirrorPaths, writeRepoRoles, writeSums } from '../release/mirror-dir.ts';
import { DEFAULT_EXPIRY, initRepository, publishRelease } from '../release/publish.ts';
import type { SigningKey } from '../trust/keys.ts';
import { publishTargets } from '../trust/repository.ts';

export interface TestRelease {
  repoDir: string;
  keyFile: string;
  key: SigningKey;
  version: string;
  platform: string;
  packageFile: string;
  /** Bundle of the repository as it was right after `version` was published. */
  bundle: TufBundle;
}

export async function readBundle(repoDir: string): Promise<TufBundle> {
  const p = mirrorPaths(repoDir);
  const ts = await readFile(p.meta('timestamp.json'));
  const repo = await loadRepo(repoDir);
  const snap = await readFile(p.meta(`${repo.snapshot.signed.version}.snapshot.json`));
  const targets = await readFile(p.meta(`${repo.targets.signed.version}.targets.json`));
  return {
    roots: [],
    timestamp: ts.toString('base64'),
    snapshot: snap.toString('base64'),
    targets: targets.toString('base64'),
  };
}

export interface PrepareOptions {
  dir: string;
  versions: string[];
  platform: string;
  packageBytes: number;
  chunkSize: number;
  now: Date;
}

/** A repository with `versions` published in order. Returns one TestRelease per version. */
export async function prepareReleases(o: PrepareOptions): Promise<TestRelease[]> {
  const repoDir = join(o.dir, 'mirror');
  const keyFile = join(o.dir, 'keys', 'release.key');
  await mkdir(join(o.dir, 'keys'), { recursive: true });
  await mkdir(join(o.dir, 'packages'), { recursive: true });
  const key = await writeNewKeyPair(keyFile, true);
  await initRepository({ dir: repoDir, keys: [key], threshold: 1, now: o.now });
  const out: TestRelease[] = [];
  for (const version of o.versions) {
    const packageFile = join(o.dir, 'packages', packageName(version, o.platform));
    await writeFile(packageFile, randomBytes(o.packageBytes));
    await publishRelease({
      dir: repoDir,
      packagePath: packageFile,
      version,
      platform: o.platform,
      keys: [key],
      now: o.now,
      chunkSize: o.chunkSize,
    });
    out.push({
      repoDir,
      keyFile,
      key,
      version,
      platform: o.platform,
      packageFile,
      bundle: await readBundle(repoDir),
    });
  }
  return out;
}

/** A release signed by a key nobody trusts (its own fresh repository). */
export async function prepareUntrustedRelease(o: PrepareOptions): Promise<TestRelease> {
  const [r] = await prepareReleases({ ...o, versions: o.versions.slice(0, 1) });
  return r as TestRelease;
}

/**
 * A genuine bundle whose targets document was altered after signing (the claimed version and
 * the package hash changed): what a forger who has no release key can produce.
 */
export function forgeBundle(bundle: TufBundle, version: string): TufBundle {
  const doc = JSON.parse(Buffer.from(bundle.targets, 'base64').toString('utf8')) as {
    signed: { targets: Record<string, { hashes: Record<string, string>; custom: Record<string, unknown> }> };
  };
  const forged: typeof doc.signed.targets = {};
  for (const t of Object.values(doc.signed.targets)) {
    const platform = String(t.custom.platform);
    const evil = 'e'.repeat(64);
    forged[packageName(version, platform)] = {
      ...t,
      hashes: { sha256: evil },
      custom: { ...t.custom, version, sha256: evil },
    };
  }
  doc.signed.targets = forged;
  return { ...bundle, targets: Buffer.from(`${JSON.stringify(doc, null, 1)}\n`).toString('base64') };
}
