/**
 * `dchat release init|publish|rotate-keys|refresh` end to end, as a release maintainer runs them,
 * checked from the outside: the mirror directory (TUF metadata that parses and verifies, packages,
 * chunk tables, SHA256SUMS that `sha256sum -c` accepts from the directory, BLAKE3SUMS), several
 * versions and platforms accumulating, key rotation that a node pinned to the OLD root follows,
 * refresh of an expired timestamp, and usage errors that exit 2 naming the flag.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { digestBytes } from '../../src/crypto/hash.ts';
import { parseChunkTable } from '../../src/model/chunks.ts';
import { DirectoryFetcher } from '../../src/sources/directory-fetcher.ts';
import { checkChunkTable, listPackages } from '../../src/trust/package-check.ts';
import { updateTrust } from '../../src/trust/updater.ts';
import { type CliResult, dchat, describeRun, publishArgs, runInProcess } from '../helpers/cli.ts';
import { at, DAY, InMemoryTrustStore, makeTempDir, packageBytes } from '../helpers/repo.ts';

const RELEASES = [
  { version: '1.0.0', platform: 'linux-x64', bytes: packageBytes('rel 1.0.0 linux', 200_000) },
  { version: '1.0.0', platform: 'windows-x64', bytes: packageBytes('rel 1.0.0 windows', 210_000) },
  { version: '1.1.0', platform: 'linux-x64', bytes: packageBytes('rel 1.1.0 linux', 2_500_000) },
];

let dir: { path: string; cleanup(): Promise<void> };
/** The real executable (what these tests are about). */
const run = (args: string[], env?: Record<string, string>) => dchat(args, { cwd: dir.path, env });
/** Set-up and intermediate steps: the same program in process (no start-up cost). */
const local = (args: string[], now?: Date) => runInProcess('dchat', args, { cwd: dir.path, now });
const ok = (r: CliResult) => assert.equal(r.code, 0, describeRun(r));
const fakeNow = (days: number) => ({ DCHAT_FAKE_NOW: at(new Date(), days * DAY).toISOString() });

function verifyArgs(home: string, version: string, platform: string, metadata = 'repo'): string[] {
  return [
    '--home',
    home,
    'update',
    'verify',
    '--package',
    `repo/packages/dchat-${version}-${platform}`,
    '--version',
    version,
    '--metadata',
    metadata,
  ];
}

before(async () => {
  dir = await makeTempDir('dchat-cli-release-');
  await Promise.all(
    ['k1', 'k2', 'k3'].map(async (k) =>
      ok(await runInProcess('dchat-sign', ['keygen', '--out', k], { cwd: dir.path })),
    ),
  );
  for (const r of RELEASES) await writeFile(join(dir.path, `dchat-${r.version}-${r.platform}`), r.bytes);
});
after(() => dir.cleanup());

describe('release init and publish', () => {
  test('init: a repository whose root pins the key; DIR/root.json is what nodes pin', async () => {
    const r = await run(['release', 'init', '--out', 'repo', '--key', 'k1', '--expires', '400d']);
    ok(r);
    assert.match(r.stdout, /📦 Initialized release repository/);
    const root = JSON.parse(await readFile(join(dir.path, 'repo', 'root.json'), 'utf8'));
    assert.equal(root.signed._type, 'root');
    assert.equal(root.signed.version, 1);
    assert.ok(Date.parse(root.signed.expires) > Date.now() + 399 * DAY * 1000);
    assert.deepEqual(
      await readFile(join(dir.path, 'repo', 'metadata', '1.root.json')),
      await readFile(join(dir.path, 'repo', 'root.json')),
    );
    // The old root is kept for the rotation test: a node that pinned it must follow the chain.
    await copyFile(join(dir.path, 'repo', 'root.json'), join(dir.path, 'root-v1.json'));
  });

  test('init into an existing repository: exit 2 naming --out', async () => {
    const r = await local(['release', 'init', '--out', 'repo', '--key', 'k1']);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /^error\[E_USAGE\]: --out: /m);
  });

  test('publish three releases (two versions, two platforms): they accumulate', async () => {
    ok(
      await runInProcess(
        'dchat-sign',
        ['--key', 'k1', '--input', 'dchat-1.1.0-linux-x64', '--output', 'dchat-1.1.0-linux-x64.sig'],
        { cwd: dir.path },
      ),
    );
    for (const [i, rel] of RELEASES.entries()) {
      const extra =
        i === 2
          ? [
              '--sig',
              'dchat-1.1.0-linux-x64.sig',
              '--security',
              '--channel',
              'beta',
              '--base-url',
              'https://m.example.org/dchat/',
            ]
          : [];
      const r = await run([
        ...publishArgs({
          package: `dchat-${rel.version}-${rel.platform}`,
          version: rel.version,
          platform: rel.platform,
          out: 'repo',
          key: 'k1',
        }),
        ...extra,
        '--json',
      ]);
      ok(r);
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.name, `dchat-${rel.version}-${rel.platform}`);
      assert.equal(doc.targets_version, i + 2);
      assert.deepEqual(doc.removed_targets, []);
      assert.equal(doc.metadata.sha256, digestBytes(rel.bytes).sha256);
    }
    const store = new InMemoryTrustStore(await readFile(join(dir.path, 'root-v1.json')));
    const { trusted } = await updateTrust(store, new DirectoryFetcher(join(dir.path, 'repo')), new Date());
    const pkgs = listPackages(trusted.requireTargets());
    assert.deepEqual(
      pkgs.map((p) => p.path),
      ['dchat-1.0.0-linux-x64', 'dchat-1.0.0-windows-x64', 'dchat-1.1.0-linux-x64'],
    );
    const sec = pkgs[2]!.custom;
    assert.equal(sec.security, true);
    assert.equal(sec.channel, 'beta');
    assert.deepEqual(sec.sources, ['https://m.example.org/dchat/']);
    assert.ok(sec.signature && sec.signer_pubkey);
    for (const p of pkgs) {
      const rel = RELEASES.find((r) => `dchat-${r.version}-${r.platform}` === p.path)!;
      const onDisk = await readFile(join(dir.path, 'repo', 'packages', p.path));
      assert.ok(onDisk.equals(rel.bytes));
      assert.ok(
        (await readFile(join(dir.path, 'repo', 'targets', `${p.sha256}.${p.path}`))).equals(rel.bytes),
      );
      checkChunkTable(
        p,
        parseChunkTable(await readFile(join(dir.path, 'repo', 'packages', `${p.path}.chunks`))),
      );
    }
    assert.ok((await stat(join(dir.path, 'repo', 'packages', 'dchat-1.1.0-linux-x64.sig'))).isFile());
  });

  test('publish --keep-releases 1: the older release of that platform leaves the targets, and it says so', async () => {
    ok(await local(['release', 'init', '--out', 'repo-keep', '--key', 'k1']));
    const pub = (version: string, platform: string, ...more: string[]) =>
      local([
        ...publishArgs({
          package: `dchat-${version}-${platform}`,
          version,
          platform,
          out: 'repo-keep',
          key: 'k1',
        }),
        ...more,
      ]);
    ok(await pub('1.0.0', 'linux-x64'));
    const r = await pub('1.1.0', 'linux-x64', '--keep-releases', '1');
    ok(r);
    assert.match(
      r.stdout,
      /Left out of the targets \(older than the releases kept\): 1 \(dchat-1\.0\.0-linux-x64\)/,
    );
    const other = await pub('1.0.0', 'windows-x64', '--keep-releases', '1', '--json');
    ok(other);
    assert.deepEqual(JSON.parse(other.stdout).removed_targets, []);
  });

  test('SHA256SUMS passes `sha256sum -c` from the repository directory; BLAKE3SUMS matches', async () => {
    const repo = join(dir.path, 'repo');
    const { stdout } = await promisify(execFile)('sha256sum', ['-c', 'SHA256SUMS'], { cwd: repo });
    assert.deepEqual(
      stdout.trim().split('\n').sort(),
      RELEASES.map((r) => `packages/dchat-${r.version}-${r.platform}: OK`).sort(),
    );
    const b3 = (await readFile(join(repo, 'BLAKE3SUMS'), 'utf8')).trim().split('\n');
    assert.equal(b3.length, RELEASES.length);
    for (const line of b3) {
      const [hash, path] = line.split('  ') as [string, string];
      assert.equal(digestBytes(await readFile(join(repo, path))).blake3, hash, line);
    }
  });

  test('publish --sig for other bytes -> exit 3 E_HASH_MISMATCH; for another version -> E_WRONG_TARGET', async () => {
    const otherVersion = await local([
      ...publishArgs({
        package: 'dchat-1.0.0-linux-x64',
        version: '1.0.0',
        platform: 'linux-x64',
        out: 'repo',
        key: 'k1',
      }),
      '--sig',
      'dchat-1.1.0-linux-x64.sig',
    ]);
    assert.equal(otherVersion.code, 3, describeRun(otherVersion));
    assert.match(otherVersion.stderr, /^error\[E_WRONG_TARGET\]: /m);
    await writeFile(join(dir.path, 'dchat-1.1.0-linux-x64.other'), packageBytes('other', 1000));
    const otherBytes = await run([
      ...publishArgs({
        package: 'dchat-1.1.0-linux-x64.other',
        version: '1.1.0',
        platform: 'linux-x64',
        out: 'repo',
        key: 'k1',
      }),
      '--sig',
      'dchat-1.1.0-linux-x64.sig',
    ]);
    assert.equal(otherBytes.code, 3, describeRun(otherBytes));
    assert.match(otherBytes.stderr, /^error\[E_HASH_MISMATCH\]: /m);
  });
});

describe('release usage errors (exit 2, the flag named)', () => {
  const pub = publishArgs({
    package: 'dchat-1.0.0-linux-x64',
    version: '1.0.0',
    platform: 'linux-x64',
    key: 'k1',
  });
  const cases: [string, string[], string][] = [
    ['publish --out not a repository', [...pub, '--out', 'k1.pub'], '--out'],
    ['publish --out a missing directory', [...pub, '--out', 'nowhere'], '--out'],
    ['refresh --out not a repository', ['release', 'refresh', '--out', '.', '--key', 'k1'], '--out'],
    [
      'rotate-keys --out not a repository',
      ['release', 'rotate-keys', '--out', '.', '--key', 'k1', '--new-key', 'k2'],
      '--out',
    ],
    [
      'publish --version 1.0',
      [...pub.slice(0, 4), '--version', '1.0', '--platform', 'linux-x64', '--key', 'k1', '--out', 'repo'],
      '--version',
    ],
    [
      'publish --platform "Linux X"',
      [...pub.slice(0, 6), '--platform', 'Linux X', '--key', 'k1', '--out', 'repo'],
      '--platform',
    ],
    ['publish --expires 7w', [...pub, '--out', 'repo', '--expires', '7w'], '--expires'],
    ['publish --type exe', [...pub, '--out', 'repo', '--type', 'exe'], '--type'],
    ['publish --channel canary', [...pub, '--out', 'repo', '--channel', 'canary'], '--channel'],
    ['publish --chunk-size 1000', [...pub, '--out', 'repo', '--chunk-size', '1000'], '--chunk-size'],
    [
      'publish --package missing',
      [
        'release',
        'publish',
        '--package',
        'nope',
        '--version',
        '1.0.0',
        '--platform',
        'linux-x64',
        '--key',
        'k1',
        '--out',
        'repo',
      ],
      '--package',
    ],
    [
      'publish without --key',
      [
        'release',
        'publish',
        '--package',
        'dchat-1.0.0-linux-x64',
        '--version',
        '1.0.0',
        '--platform',
        'linux-x64',
        '--out',
        'repo',
      ],
      '--key',
    ],
    [
      'init --threshold 0',
      ['release', 'init', '--out', 'new1', '--key', 'k1', '--threshold', '0'],
      '--threshold',
    ],
    [
      'init --threshold 2 with one key',
      ['release', 'init', '--out', 'new2', '--key', 'k1', '--threshold', '2'],
      '--threshold',
    ],
    ['init with a key that is not a key', ['release', 'init', '--out', 'new3', '--key', 'k1.pub'], '--key'],
    [
      'publish --keep-releases not a count',
      [
        ...publishArgs({
          package: 'dchat-1.0.0-linux-x64',
          version: '1.0.0',
          platform: 'linux-x64',
          out: 'repo',
        }),
        ...['--key', 'k1', '--keep-releases', 'some'],
      ],
      '--keep-releases',
    ],
  ];
  // The table runs in process (same program, captured streams); the process itself below.
  for (const [what, args, flag] of cases) {
    test(what, async () => {
      const r = await runInProcess('dchat', args, { cwd: dir.path });
      assert.equal(r.code, 2, describeRun(r));
      assert.match(r.stderr, new RegExp(`^error\\[E_USAGE\\]: ${flag}: `, 'm'));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'stack trace on a usage error');
    });
  }

  test('end to end: `release publish --out` not a repository -> exit 2 naming --out', async () => {
    const r = await run([
      'release',
      'publish',
      '--package',
      'dchat-1.0.0-linux-x64',
      '--version',
      '1.0.0',
      '--platform',
      'linux-x64',
      '--key',
      'k1',
      '--out',
      'k1.pub',
    ]);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /^error\[E_USAGE\]: --out: .* is not a release repository/m);
    assert.equal(r.stdout, '');
  });

  test('a missing required flag (commander): exit 2 naming it, also as the --json document', async () => {
    const r = await run([
      'release',
      'publish',
      '--version',
      '1.0.0',
      '--platform',
      'linux-x64',
      '--out',
      'repo',
      '--json',
    ]);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /^error\[E_USAGE\]: .*--package/m);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.error.code, 'E_USAGE');
    assert.match(doc.error.message, /--package/);
  });
});

describe('rotate-keys and refresh', () => {
  const homeOld = () => join(dir.path, 'home-pinned-v1');

  test('a node pins root v1 and verifies before the rotation', async () => {
    ok(await local(['--home', homeOld(), 'trust', 'init', '--root', 'root-v1.json']));
    ok(await local(verifyArgs(homeOld(), '1.0.0', 'linux-x64')));
  });

  test('rotate-keys to k2+k3 (2-of-2): old key refused afterwards, new keys publish', async () => {
    const r = await run([
      'release',
      'rotate-keys',
      '--out',
      'repo',
      '--key',
      'k1',
      '--new-key',
      'k2',
      '--new-key',
      'k3',
      '--threshold',
      '2',
    ]);
    ok(r);
    assert.match(r.stdout, /root v2 trusts 2 key\(s\), threshold 2/);
    const root2 = JSON.parse(await readFile(join(dir.path, 'repo', 'metadata', '2.root.json'), 'utf8'));
    assert.equal(root2.signed.version, 2);
    assert.equal(root2.signatures.length, 3, 'signed by the old key and both new keys');

    await writeFile(join(dir.path, 'dchat-1.2.0-linux-x64'), packageBytes('rel 1.2.0', 90_000));
    const publish = (...keys: string[]) =>
      local([
        'release',
        'publish',
        '--package',
        'dchat-1.2.0-linux-x64',
        '--version',
        '1.2.0',
        '--platform',
        'linux-x64',
        '--out',
        'repo',
        ...keys.flatMap((k) => ['--key', k]),
      ]);
    const old = await publish('k1');
    assert.equal(old.code, 3, describeRun(old));
    assert.match(old.stderr, /^error\[E_UNTRUSTED_KEY\]: /m);
    const half = await publish('k2');
    assert.equal(half.code, 3, describeRun(half));
    assert.match(half.stderr, /^error\[E_THRESHOLD\]: /m);
    ok(await publish('k2', 'k3'));
  });

  test('the node pinned to the OLD root follows the chain: verify exit 0, trust show says root v2', async () => {
    const r = await run(verifyArgs(homeOld(), '1.2.0', 'linux-x64'));
    ok(r);
    assert.match(r.stdout, /✅ Package verified successfully/);
    assert.match(r.stdout, /2 of 2 release keys/);
    const show = await run(['--home', homeOld(), 'trust', 'show', '--json']);
    ok(show);
    const doc = JSON.parse(show.stdout);
    assert.equal(doc.root.version, 2);
    assert.equal(doc.roles.targets.threshold, 2);
    // A brand-new node that pins the old root copy verifies an old release the same way.
    const fresh = join(dir.path, 'home-fresh');
    ok(await local(['--home', fresh, 'trust', 'init', '--root', 'root-v1.json']));
    ok(await run(verifyArgs(fresh, '1.0.0', 'windows-x64')));
  });

  test('expired timestamp -> exit 3 E_EXPIRED; `release refresh` makes it fresh again; targets expire on their own', async () => {
    const home = homeOld();
    const expired = await run(verifyArgs(home, '1.0.0', 'linux-x64'), fakeNow(10));
    assert.equal(expired.code, 3, describeRun(expired));
    assert.match(expired.stderr, /^error\[E_EXPIRED\]: timestamp/m);

    const r = await run(
      ['release', 'refresh', '--out', 'repo', '--key', 'k2', '--key', 'k3', '--json'],
      fakeNow(10),
    );
    ok(r);
    const doc = JSON.parse(r.stdout);
    assert.ok(Date.parse(doc.expires.timestamp) > Date.now() + 16 * DAY * 1000);
    ok(await run(verifyArgs(home, '1.0.0', 'linux-x64'), fakeNow(10)));

    // refresh re-signs snapshot and timestamp only: 35 days on, fresh ones still sit on top of
    // targets that expired after their 30 days.
    ok(
      await local(
        ['release', 'refresh', '--out', 'repo', '--key', 'k2', '--key', 'k3'],
        at(new Date(), 35 * DAY),
      ),
    );
    const late = await run(verifyArgs(home, '1.0.0', 'linux-x64'), fakeNow(35));
    assert.equal(late.code, 3, describeRun(late));
    assert.match(late.stderr, /^error\[E_EXPIRED\]: targets/m);
  });

  test('refresh with keys below the threshold -> exit 3, nothing written', async () => {
    const ts = await readFile(join(dir.path, 'repo', 'metadata', 'timestamp.json'));
    const r = await local(['release', 'refresh', '--out', 'repo', '--key', 'k2']);
    assert.equal(r.code, 3, describeRun(r));
    assert.match(r.stderr, /^error\[E_THRESHOLD\]: /m);
    assert.ok((await readFile(join(dir.path, 'repo', 'metadata', 'timestamp.json'))).equals(ts));
  });
});
