/**
 * The F-Droid channel's set-up for `npm run bench -- channels`: dchat's release as a real signed APK
 * of about the bench's size (the random bytes as one stored, uncompressed asset: aapt -0 '', then
 * zipalign and apksigner, as test/fixtures/fdroid/regenerate.sh makes its small ones), and an
 * F-Droid repository made from it by Debian's fdroidserver (`fdroid init`, `fdroid update
 * --create-metadata`: signed entry.jar, index-v2.json, index-v1.jar), laid out for a web server
 * with dchat's TUF metadata and chunk tables under `repo/dchat/` (where the F-Droid source reads
 * them, src/sources/fdroid.ts). fdroidserver and its Java tooling (~1 GB) are installed by no test
 * script, so a missing tool is reported with the exact apt-get line, and that row fails.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { DCHAT_APP_ID } from '../src/sources/fdroid.ts';
import type { Published } from './download-fixture.ts';
import { timeCommand, writeRandomFile } from './util.ts';

const FRAMEWORK = '/usr/share/android-framework-res/framework-res.apk';
const TOOLS = ['fdroid', 'aapt', 'zipalign', 'apksigner', 'keytool'] as const;
/** What installs them (Debian/Ubuntu); fdroidserver brings apksigner and a JDK (keytool). */
export const FDROID_APT = 'sudo apt-get install -y fdroidserver aapt zipalign android-framework-res';
/** Only to sign the bench's throw-away keys. */
const PASS = 'dchat-bench-only';

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, tool)));
}

/** Why the F-Droid channel cannot be set up here (the missing tools and how to install them), or undefined. */
export function fdroidToolsMissing(): string | undefined {
  const missing: string[] = TOOLS.filter((t) => !onPath(t));
  if (!existsSync(FRAMEWORK)) missing.push(FRAMEWORK);
  if (missing.length === 0) return undefined;
  return `the F-Droid channel needs ${missing.join(', ')} (not installed by npm test; install with: ${FDROID_APT})`;
}

/** F-Droid's versionCode of a dchat version (as the fixture numbers them: 1.1.0 -> 1010000). */
function versionCode(version: string): number {
  const [a = 0, b = 0, c = 0] = version.split('.').map(Number);
  return a * 1_000_000 + b * 10_000 + c;
}

/**
 * A signed APK of dchat `version` in `work` holding `size` random bytes as an uncompressed asset
 * (so the file is incompressible and about `size` bytes, like every other row's package). Returns
 * its path, F-Droid's canonical name `<app id>_<versionCode>.apk`.
 */
export function buildApk(work: string, size: number, version: string): string {
  mkdirSync(join(work, 'assets'), { recursive: true });
  mkdirSync(join(work, 'res'), { recursive: true });
  const code = versionCode(version);
  writeFileSync(
    join(work, 'AndroidManifest.xml'),
    `<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android"
    package="${DCHAT_APP_ID}" android:versionCode="${code}" android:versionName="${version}">
  <uses-sdk android:minSdkVersion="24" android:targetSdkVersion="29"/>
  <application android:hasCode="false" android:label="dchat"/>
</manifest>
`,
  );
  writeRandomFile(join(work, 'assets', 'payload.bin'), size);
  const ks = join(work, 'app.jks');
  timeCommand('keytool', [
    '-genkeypair',
    ...['-keystore', ks, '-storepass', PASS, '-keypass', PASS, '-alias', 'app'],
    ...['-keyalg', 'EC', '-groupname', 'secp256r1', '-validity', '3650', '-dname', 'CN=dchat bench app'],
  ]);
  const unaligned = join(work, 'unaligned.apk');
  // -0 '': store every file uncompressed (random bytes do not compress; zipalign aligns them).
  timeCommand('aapt', [
    ...['package', '-f', '-0', '', '-M', join(work, 'AndroidManifest.xml'), '-S', join(work, 'res')],
    ...['-A', join(work, 'assets'), '-I', FRAMEWORK, '-F', unaligned],
  ]);
  rmSync(join(work, 'assets'), { recursive: true });
  const aligned = join(work, 'aligned.apk');
  timeCommand('zipalign', ['-f', '4', unaligned, aligned]);
  rmSync(unaligned);
  const apk = join(work, `${DCHAT_APP_ID}_${code}.apk`);
  timeCommand('apksigner', [
    ...['sign', '--ks', ks, '--ks-pass', `pass:${PASS}`, '--ks-key-alias', 'app', '--out', apk, aligned],
  ]);
  rmSync(aligned);
  return apk;
}

export interface FdroidRepo {
  /** The web root: the repository is `<root>/fdroid/repo`. */
  root: string;
  /** The repository key's SHA-256 fingerprint, as F-Droid prints it and an operator pins it. */
  fingerprint: string;
}

/**
 * An F-Droid repository of `apk` (moved into it) made by fdroidserver in `work`, under `root`
 * ready to serve, with `pub`'s TUF metadata and chunk tables beside the index.
 */
export function buildFdroidRepo(work: string, root: string, apk: string, pub: Published): FdroidRepo {
  mkdirSync(work, { recursive: true });
  timeCommand('fdroid', ['init'], { cwd: work });
  writeFileSync(
    join(work, 'config.yml'),
    `${readFileSync(join(work, 'config.yml'), 'utf8')}
repo_url: https://127.0.0.1/fdroid/repo
repo_name: dchat bench repository
repo_description: The channels benchmark's F-Droid repository. Not for use.
`,
  );
  mkdirSync(join(work, 'repo'), { recursive: true });
  renameSync(apk, join(work, 'repo', apk.split('/').at(-1) as string));
  timeCommand('fdroid', ['update', '--create-metadata'], { cwd: work });
  const config = readFileSync(join(work, 'config.yml'), 'utf8');
  const field = (k: string) =>
    config
      .match(new RegExp(`^${k}: *(.*)$`, 'm'))?.[1]
      ?.trim()
      .replace(/^['"]|['"]$/g, '') ?? '';
  // The keystore path in config.yml is relative to the repository's working directory.
  const exported = spawnSync(
    'keytool',
    [
      ...['-exportcert', '-rfc', '-keystore', field('keystore'), '-storepass', field('keystorepass')],
      ...['-alias', field('repo_keyalias')],
    ],
    { cwd: work, encoding: 'utf8' },
  );
  if (exported.status !== 0)
    throw new Error(`keytool -exportcert of the F-Droid repository key failed: ${exported.stderr}`);
  const pem = exported.stdout;
  const fingerprint = new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase();
  const repo = join(root, 'fdroid', 'repo');
  mkdirSync(join(root, 'fdroid'), { recursive: true });
  renameSync(join(work, 'repo'), repo);
  // F-Droid has no place for TUF metadata: the source reads it from <repository>/dchat/.
  cpSync(join(pub.repo, 'metadata'), join(repo, 'dchat', 'metadata'), { recursive: true });
  mkdirSync(join(repo, 'dchat', 'packages'), { recursive: true });
  for (const f of readdirSync(join(pub.repo, 'packages')).filter((f) => f.endsWith('.chunks')))
    cpSync(join(pub.repo, 'packages', f), join(repo, 'dchat', 'packages', f));
  return { root, fingerprint };
}
