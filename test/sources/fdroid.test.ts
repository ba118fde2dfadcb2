/**
 * The F-Droid source against a real F-Droid repository made by Debian's fdroidserver (the fixture
 * in test/fixtures/fdroid, regenerate.sh remakes it), served by nginx: the signed index (entry.jar
 * + index-v2.json, and index-v1.jar) checked against the pinned key, the APK found by version and
 * by the SHA-256 dchat's TUF metadata signs, and `dchat update download --source fdroid` ending in
 * the verified APK. A wrong key, a tampered index and a tampered jar are coded errors.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { unzipSync, zipSync } from 'fflate';
import { sha256Hex } from '../../src/crypto/hash.ts';
import type { PackageTarget } from '../../src/model/package.ts';
import { publishRelease } from '../../src/release/publish.ts';
import { FdroidSource, parseFdroidUrl } from '../../src/sources/fdroid.ts';
import {
  CHUNK,
  type MirrorRepo,
  makeHome,
  makeMirrorRepo,
  type Published,
  runDchat,
} from '../download/fixture.ts';
import { downloadArgs } from '../helpers/cli.ts';
import { freePort, runNginx } from '../helpers/nginx.ts';
import { assertCode } from '../helpers/repo.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/fdroid/', import.meta.url));
const FINGERPRINT = readFileSync(join(FIXTURE, 'fingerprint.txt'), 'utf8').trim();
const APK_110 = readFileSync(join(FIXTURE, 'repo', 'network.dchat.app_1010000.apk'));
const APK_100 = readFileSync(join(FIXTURE, 'repo', 'network.dchat.app_1000000.apk'));

test('F-Droid URLs need the pinned fingerprint', () => {
  const fp = FINGERPRINT.toUpperCase().match(/../g)?.join(':') as string;
  assert.equal(
    parseFdroidUrl(`https://f.example/fdroid/repo/?fingerprint=${fp}`).uri,
    `https://f.example/fdroid/repo?fingerprint=${FINGERPRINT}`,
  );
  assert.throws(() => parseFdroidUrl('https://f.example/fdroid/repo'), /fingerprint/);
  assert.throws(() => parseFdroidUrl(`http://f.example/repo?fingerprint=${FINGERPRINT}`), /https/);
  // APKs only, never a patch of one (issue 14): the index lists no patches to serve it from.
  const src = new FdroidSource({ url: `https://f.example/fdroid/repo?fingerprint=${FINGERPRINT}` });
  const apk = (path: string) => ({ path, custom: { package_type: 'APK' } }) as unknown as PackageTarget;
  assert.equal(src.serves(apk('dchat-1.1.0-android-arm64.apk')), true);
  assert.equal(src.serves(apk('dchat-1.1.0-android-arm64.apk.from-1.0.0.bsdb')), false);
});

const skip = requireTool('nginx') || requireTool('openssl');

describe('FdroidSource against an fdroidserver repository on nginx', { skip }, () => {
  let ca: TestCa;
  let repo: MirrorRepo;
  let root: string;
  let base: string;
  let nginx: { stop(): Promise<void> };
  let log: string;
  let linux: Published;
  let mirrorUrl: string;
  const name = 'dchat-1.1.0-android-arm64';

  before(async () => {
    ca = makeTestCa();
    repo = await makeMirrorRepo();
    // dchat's release of the APK: a TUF target like any package (package_type APK).
    const apk = join(repo.base, 'app.apk');
    writeFileSync(apk, APK_110);
    await publishRelease({
      dir: repo.dir,
      packagePath: apk,
      version: '1.1.0',
      platform: 'android-arm64',
      keys: repo.keys,
      now: new Date(),
      chunkSize: CHUNK,
      packageType: 'APK',
    });
    // A linux package too: an F-Droid repository never has it, and is not asked for it.
    linux = await repo.publish('1.0.0', 2 * CHUNK + 77);
    root = join(repo.base, 'www');
    const served = (sub: string, edit?: (dir: string) => void) => {
      const dir = join(root, sub, 'repo');
      cpSync(join(FIXTURE, 'repo'), dir, { recursive: true });
      // The TUF metadata and chunk tables beside the index (not the package: bytes come from the APK).
      cpSync(join(repo.dir, 'metadata'), join(dir, 'dchat', 'metadata'), { recursive: true });
      mkdirSync(join(dir, 'dchat', 'packages'), { recursive: true });
      for (const f of readdirSync(join(repo.dir, 'packages')).filter((f) => f.endsWith('.chunks')))
        cpSync(join(repo.dir, 'packages', f), join(dir, 'dchat', 'packages', f));
      edit?.(dir);
    };
    served('fdroid');
    served('tampered-index', (d) => {
      const p = join(d, 'index-v2.json');
      writeFileSync(p, readFileSync(p, 'utf8').replace('"1.1.0"', '"1.1.1"'));
    });
    served('tampered-jar', (d) => {
      const files = unzipSync(readFileSync(join(d, 'entry.jar')));
      const entry = JSON.parse(Buffer.from(files['entry.json'] as Uint8Array).toString());
      entry.index.sha256 = '0'.repeat(64);
      files['entry.json'] = Buffer.from(JSON.stringify(entry));
      writeFileSync(join(d, 'entry.jar'), zipSync(files));
    });
    served('v1-only', (d) => {
      rmSync(join(d, 'entry.jar'));
      rmSync(join(d, 'index-v2.json'));
    });
    const port = await freePort();
    const mirrorPort = await freePort();
    log = join(repo.base, 'access.log');
    const tls = `ssl_certificate ${ca.serverCert}; ssl_certificate_key ${ca.serverKey};`;
    nginx = await runNginx(
      `  log_format u '$uri';
  server { listen 127.0.0.1:${port} ssl; ${tls} access_log ${log} u; root ${root}; location / { try_files $uri =404; } }
  server { listen 127.0.0.1:${mirrorPort} ssl; ${tls} root ${repo.dir}; location / { try_files $uri =404; } }`,
      port,
    );
    mirrorUrl = `https://127.0.0.1:${mirrorPort}`;
    base = `https://127.0.0.1:${port}`;
  });
  after(async () => {
    await nginx?.stop();
  });

  const src = (sub: string, fp = FINGERPRINT) =>
    new FdroidSource({ url: `${base}/${sub}/repo?fingerprint=${fp}`, ca: ca.caPem });
  const req = (start: number, end: number) => ({
    target: name,
    sha256: sha256Hex(APK_110),
    start,
    end,
    maxBytes: end - start,
  });

  test('the verified index lists both versions; the 1.1.0 APK comes by range; metadata from dchat/', async () => {
    for (const sub of ['fdroid', 'v1-only']) {
      const s = src(sub);
      try {
        const apks = await s.apks();
        assert.deepEqual(apks.map((a) => [a.versionName, a.versionCode, a.sha256]).sort(), [
          ['1.0.0', 1000000, sha256Hex(APK_100)],
          ['1.1.0', 1010000, sha256Hex(APK_110)],
        ]);
        assert.deepEqual(Buffer.from(await s.fetchRange(req(0, APK_110.byteLength))), APK_110);
        assert.deepEqual(Buffer.from(await s.fetchRange(req(100, 4000))), APK_110.subarray(100, 4000));
        assert.ok(await s.fetchMetadata('timestamp.json', { maxBytes: 16_384 }));
        assert.ok(await s.fetchChunkTable(name, { maxBytes: 1_000_000 }));
        // A version the index has, but not with the file dchat's metadata signs.
        await assertCode(
          () => s.fetchRange({ ...req(0, 10), target: 'dchat-1.0.0-android-arm64' }),
          'E_NOT_FOUND',
        );
      } finally {
        await s.close();
      }
    }
  });

  test('another key, a tampered index and a tampered jar are refused', async () => {
    const other = src('fdroid', 'ab'.repeat(32));
    await assertCode(() => other.apks(), 'E_UNTRUSTED_KEY');
    await other.close();
    const index = src('tampered-index');
    await assertCode(() => index.apks(), 'E_HASH_MISMATCH');
    await index.close();
    const jar = src('tampered-jar');
    await assertCode(() => jar.apks(), 'E_SIGNATURE');
    await jar.close();
  });

  test('update add-mirror --mirror-type fdroid --fingerprint + update download --source fdroid', async () => {
    const paths = await makeHome(repo);
    const env = { NODE_EXTRA_CA_CERTS: ca.caCert };
    const home = ['--home', paths.home];
    const bad = await runDchat(
      [...home, 'update', 'add-mirror', '--url', `${base}/fdroid/repo`, '--mirror-type', 'fdroid'],
      { env },
    );
    assert.equal(bad.code, 2, bad.stdout);
    const add = await runDchat(
      [
        ...home,
        'update',
        'add-mirror',
        '--url',
        `${base}/fdroid/repo`,
        '--mirror-type',
        'fdroid',
        '--fingerprint',
        FINGERPRINT,
      ],
      { env },
    );
    assert.equal(add.code, 0, add.stderr);
    writeFileSync(log, '');
    const dl = await runDchat([...home, ...downloadArgs('1.1.0', 'android-arm64'), '--source', 'fdroid'], {
      env,
    });
    assert.equal(dl.code, 0, dl.stderr + dl.stdout);
    assert.deepEqual(readFileSync(join(paths.packagesDir, name)), APK_110);
    assert.match(readFileSync(log, 'utf8'), /\/fdroid\/repo\/network\.dchat\.app_1010000\.apk/);
  });

  test('beside an HTTPS mirror, the F-Droid repository is not asked for (nor blamed for) a linux package', async () => {
    const paths = await makeHome(repo);
    const env = { NODE_EXTRA_CA_CERTS: ca.caCert };
    const home = ['--home', paths.home];
    const add = (args: string[]) => runDchat([...home, 'update', 'add-mirror', ...args], { env });
    assert.equal(
      (
        await add([
          '--url',
          `${base}/fdroid/repo`,
          '--mirror-type',
          'fdroid',
          '--fingerprint',
          FINGERPRINT,
          '--priority',
          '1',
        ])
      ).code,
      0,
    );
    assert.equal((await add(['--url', mirrorUrl, '--mirror-type', 'https', '--priority', '5'])).code, 0);
    writeFileSync(log, '');
    const dl = await runDchat(
      [...home, '--json', 'update', 'download', '--version', '1.0.0', '--platform', 'linux-x64'],
      {
        env,
      },
    );
    assert.equal(dl.code, 0, dl.stderr + dl.stdout);
    assert.deepEqual(readFileSync(join(paths.packagesDir, linux.name)), linux.bytes);
    const result = JSON.parse(dl.stdout.trim().split('\n').at(-1) as string) as {
      sources: { type: string }[];
    };
    assert.deepEqual(
      result.sources.map((s) => s.type),
      ['https'],
    );
    assert.doesNotMatch(readFileSync(log, 'utf8'), /\.apk|entry\.jar/);
    // test-mirrors probes each with a package it can have: the F-Droid repository with the APK.
    const probe = await runDchat([...home, '--json', 'update', 'test-mirrors'], { env });
    assert.equal(probe.code, 0, probe.stderr + probe.stdout);
    const results = JSON.parse(probe.stdout) as { url: string; ok: boolean; error: string | null }[];
    assert.equal(results.length, 2);
    assert.ok(
      results.every((r) => r.ok),
      probe.stdout,
    );
    assert.match(readFileSync(log, 'utf8'), /network\.dchat\.app_1010000\.apk/);
  });
});
