/**
 * Test releases for the harness: a fresh release key, a repository (`release init`), packages of
 * random bytes published into it (`release publish`), exactly as a release maintainer does, plus
 * the TUF bundles that honest and malicious nodes put in announcements.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TufBundle } from '../model/announcement.ts';
import { packageName } from '../model/platform.ts';
import { writeNewKeyPair } from '../release/key-files.ts';
import { loadRepo, mirrorPaths } from '../release/mirror-dir.ts';
import { initRepository, publishRelease, rotateKeys } from '../release/publish.ts';
import type { SigningKey } from '../trust/keys.ts';

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

/** Releases a running testnet's targets document keeps (release publish --keep-releases). */
export const TESTNET_KEPT_RELEASES = 8;

/** The next release, published into `prev`'s repository with its key (a running testnet's release). */
export async function publishNext(
  prev: Pick<TestRelease, 'repoDir' | 'keyFile' | 'key' | 'platform'>,
  o: { dir: string; version: string; packageBytes: number; chunkSize: number; now: Date },
): Promise<TestRelease> {
  await mkdir(join(o.dir, 'packages'), { recursive: true });
  const packageFile = join(o.dir, 'packages', packageName(o.version, prev.platform));
  await writeFile(packageFile, randomBytes(o.packageBytes));
  await publishRelease({
    dir: prev.repoDir,
    packagePath: packageFile,
    version: o.version,
    platform: prev.platform,
    keys: [prev.key],
    now: o.now,
    chunkSize: o.chunkSize,
    // As a long-running deployment publishes: the targets document lists the newest releases
    // only, so a testnet publishing for hours (the soak) keeps announcing within one gossip
    // message and its nodes do not hold an ever-growing document.
    keepReleases: TESTNET_KEPT_RELEASES,
  });
  return { ...prev, version: o.version, packageFile, bundle: await readBundle(prev.repoDir) };
}

/** A release signed by a key nobody trusts (its own fresh repository). */
export async function prepareUntrustedRelease(o: PrepareOptions): Promise<TestRelease> {
  const [r] = await prepareReleases({ ...o, versions: o.versions.slice(0, 1) });
  return r as TestRelease;
}

/**
 * A genuine bundle whose targets document was altered after signing: its newest target renamed to
 * `version` with another package hash, every other target left as signed. What a forger who has
 * no release key can produce; with a version string as long as the genuine one the document keeps
 * its signed length, so it is the hash the snapshot signed that gives it away.
 */
export function forgeBundle(bundle: TufBundle, version: string): TufBundle {
  const doc = JSON.parse(Buffer.from(bundle.targets, 'base64').toString('utf8')) as {
    signed: { targets: Record<string, { hashes: Record<string, string>; custom: Record<string, unknown> }> };
  };
  const entries = Object.entries(doc.signed.targets);
  const last = entries.at(-1);
  if (last) {
    const t = last[1];
    const evil = 'e'.repeat(64);
    entries[entries.length - 1] = [
      packageName(version, String(t.custom.platform)),
      { ...t, hashes: { ...t.hashes, sha256: evil }, custom: { ...t.custom, version, sha256: evil } },
    ];
  }
  doc.signed.targets = Object.fromEntries(entries);
  return { ...bundle, targets: Buffer.from(`${JSON.stringify(doc, null, 1)}\n`).toString('base64') };
}

export interface RotateOptions {
  /** Key rotations (root versions added), each to one fresh 1-of-1 release key. */
  times: number;
  /** Published after the last rotation, under the newest key. */
  version: string;
  packageBytes: number;
  chunkSize: number;
  now: Date;
}

/**
 * Rotates the release key of `rel`'s repository `times` times (`release rotate-keys`: root N+1
 * signed by the old and the new key), then publishes `version` under the newest key. A node
 * still pinned to the repository's first root must follow the whole chain to trust it.
 */
export async function rotateAndPublish(rel: TestRelease, o: RotateOptions): Promise<TestRelease> {
  let key = rel.key;
  let keyFile = rel.keyFile;
  for (let i = 1; i <= o.times; i++) {
    keyFile = join(dirname(rel.keyFile), `release-${i}.key`);
    const next = await writeNewKeyPair(keyFile, true);
    await rotateKeys({ dir: rel.repoDir, oldKeys: [key], newKeys: [next], threshold: 1, now: o.now });
    key = next;
  }
  const packageFile = join(dirname(rel.packageFile), packageName(o.version, rel.platform));
  await writeFile(packageFile, randomBytes(o.packageBytes));
  await publishRelease({
    dir: rel.repoDir,
    packagePath: packageFile,
    version: o.version,
    platform: rel.platform,
    keys: [key],
    now: o.now,
    chunkSize: o.chunkSize,
  });
  return {
    repoDir: rel.repoDir,
    keyFile,
    key,
    version: o.version,
    platform: rel.platform,
    packageFile,
    bundle: await readBundle(rel.repoDir),
  };
}
