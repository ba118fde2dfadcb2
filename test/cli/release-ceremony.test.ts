/**
 * The key ceremony of docs/maintainer-keys.md, run as four people would on four machines: three
 * maintainers (alice, bob, carol), each in their own directory holding ONLY their own private key
 * (encrypted at rest for alice and bob), and a release coordinator who holds the repository and
 * the online key. Files move between them only by explicit copies (what e-mail or a USB stick
 * would carry): public keys, staged metadata, signed copies.
 *
 * Shown end to end with the real executables: root 2-of-3 and targets 2-of-3 with one online
 * snapshot/timestamp key; `release finish` refuses below the threshold (exit 3 E_THRESHOLD,
 * nothing published) and publishes at it; a stock tuf-js client (over HTTPS from nginx) and
 * `dchat update verify` accept the release; the online key alone keeps the metadata fresh; a
 * detached rotation of the online key that a node pinned to root v1 follows.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CliResult, dchat, dchatSign, describeRun, publishArgs } from '../helpers/cli.ts';
import { type NginxServer, startNginx } from '../helpers/nginx.ts';
import { at, DAY, makeTempDir, packageBytes } from '../helpers/repo.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

const CLIENT = join(import.meta.dirname, '..', 'fixtures', 'tuf-js-client.ts');
const MAINTAINERS = ['alice', 'bob', 'carol'] as const;
type Who = (typeof MAINTAINERS)[number] | 'coord';
const PKG = packageBytes('ceremony 1.0.0', 300_000);

let tmp: { path: string; cleanup(): Promise<void> };
const home = (who: Who) => join(tmp.path, who);
/** How each maintainer unlocks their key: alice a passphrase file, bob the CI variable, carol none. */
const unlock: Record<Who, { args: string[]; env: Record<string, string> }> = {
  alice: { args: ['--passphrase-file', 'passphrase'], env: {} },
  bob: { args: [], env: { DCHAT_KEY_PASSPHRASE: 'bob passphrase 2' } },
  carol: { args: [], env: {} },
  coord: { args: [], env: {} },
};
/** `dchat ARGS` on WHO's machine (cwd and --home there); `days` moves the clock on. */
const on = (who: Who, args: string[], days = 0): Promise<CliResult> =>
  dchat(['--home', join(home(who), 'home'), ...args], {
    cwd: home(who),
    env: {
      ...unlock[who].env,
      ...(days ? { DCHAT_FAKE_NOW: at(new Date(), days * DAY).toISOString() } : {}),
    },
  });
const ok = (r: CliResult) => {
  assert.equal(r.code, 0, describeRun(r));
  return r;
};
/** Carries a file from one machine to another. */
const carry = (from: Who, name: string, to: Who, as = name) =>
  copyFile(join(home(from), name), join(home(to), as));
const repo = () => join(home('coord'), 'repo');
/** The coordinator runs `release finish` with the online key and the signatures carried back. */
const finish = (...signatures: string[]) =>
  on('coord', [
    'release',
    'finish',
    '--out',
    'repo',
    '--key',
    'online.key',
    '--signatures',
    ...signatures,
    '--json',
  ]);
/** Node operator alice (her home, the root she pinned) verifies 1.0.0 from the coordinator's repository. */
const aliceVerifies = (days = 0) =>
  on(
    'coord',
    [
      ...['--home', join(home('alice'), 'home'), 'update', 'verify'],
      ...['--package', 'repo/packages/dchat-1.0.0-linux-x64', '--version', '1.0.0', '--metadata', 'repo'],
    ],
    days,
  );

/** Maintainer WHO reviews and signs FILE (carried to them) and carries the signed copy back. */
async function signOnOwnMachine(who: Who, staged: string, back: string): Promise<CliResult> {
  await copyFile(join(repo(), 'staging', staged), join(home(who), staged));
  const r = ok(
    await on(who, [
      'release',
      'sign',
      '--metadata',
      staged,
      '--key',
      `${who}.key`,
      '--output',
      `signed-${staged}`,
      ...unlock[who].args,
    ]),
  );
  await carry(who, `signed-${staged}`, 'coord', back);
  return r;
}

before(async () => {
  tmp = await makeTempDir('dchat-ceremony-');
  for (const who of [...MAINTAINERS, 'coord'] as const) await mkdir(home(who));
  await writeFile(join(home('alice'), 'passphrase'), 'alice passphrase 1\n', { mode: 0o600 });
  await writeFile(join(home('coord'), 'dchat-1.0.0-linux-x64'), PKG);
});
after(() => tmp.cleanup());

describe('key ceremony: three maintainers, their own machines, an online key', () => {
  test('each maintainer makes their own key (alice and bob encrypted) and sends only the .pub', async () => {
    for (const who of MAINTAINERS) {
      const encrypt = who === 'carol' ? [] : ['--encrypt', ...unlock[who].args];
      const r = await dchatSign(['keygen', '--out', `${who}.key`, ...encrypt], {
        cwd: home(who),
        env: unlock[who].env,
      });
      ok(r);
      const pem = await readFile(join(home(who), `${who}.key`), 'utf8');
      assert.equal(pem.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----'), who !== 'carol');
      await carry(who, `${who}.key.pub`, 'coord', `${who}.pub`);
    }
    ok(await dchatSign(['keygen', '--out', 'online.key'], { cwd: home('coord') }));
  });

  test('init --prepare: root and targets 2-of-3 from public keys, one online key; nothing published yet', async () => {
    const pubs = (flag: string) => MAINTAINERS.flatMap((m) => [flag, `${m}.pub`]);
    const r = ok(
      await on('coord', [
        'release',
        'init',
        '--out',
        'repo',
        ...pubs('--root-key'),
        '--root-threshold',
        '2',
        ...pubs('--targets-key'),
        '--targets-threshold',
        '2',
        '--online-key',
        'online.key',
        '--prepare',
        '--json',
      ]),
    );
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.prepared, true);
    assert.deepEqual(
      doc.staged.map((s: { role: string; thresholds: { valid: number; threshold: number }[] }) => [
        s.role,
        s.thresholds[0]?.valid,
        s.thresholds[0]?.threshold,
      ]),
      [
        ['root', 0, 2],
        ['targets', 0, 2],
      ],
    );
    await assert.rejects(stat(join(repo(), 'metadata', '1.root.json')), 'not published before the threshold');
  });

  test('one signature: `release finish` refuses with exit 3 E_THRESHOLD and publishes nothing', async () => {
    await signOnOwnMachine('alice', 'root.json', 'alice-root.json');
    await signOnOwnMachine('alice', 'targets.json', 'alice-targets.json');
    const r = await on('coord', [
      'release',
      'finish',
      '--out',
      'repo',
      '--key',
      'online.key',
      '--signatures',
      'alice-root.json',
      'alice-targets.json',
    ]);
    assert.equal(r.code, 3, describeRun(r));
    assert.match(
      r.stderr,
      /^error\[E_THRESHOLD\]: new root: signed by 1 of the 2 distinct root keys required/m,
    );
    await assert.rejects(stat(join(repo(), 'metadata', '1.root.json')));
    await assert.rejects(stat(join(repo(), 'metadata', 'timestamp.json')));
  });

  test('a second maintainer signs (the staged file now carries alice too): finish publishes root v1', async () => {
    // bob signs the staged files in turn: they already hold alice's signature, merged by finish.
    await signOnOwnMachine('bob', 'root.json', 'bob-root.json');
    const signedTargets = await signOnOwnMachine('bob', 'targets.json', 'bob-targets.json');
    assert.match(signedTargets.stdout, /Wrote .*signed-targets\.json: 2 signatures/);
    const r = ok(await finish('bob-root.json', 'bob-targets.json'));
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(doc.committed, ['root', 'targets']);
    assert.equal(doc.root_version, 1);
    const root = JSON.parse(await readFile(join(repo(), 'root.json'), 'utf8'));
    assert.equal(root.signed.roles.root.threshold, 2);
    assert.equal(root.signed.roles.targets.threshold, 2);
    assert.equal(root.signed.roles.timestamp.threshold, 1);
    assert.equal(root.signed.roles.root.keyids.length, 3);
    assert.deepEqual(root.signed.roles.snapshot.keyids, root.signed.roles.timestamp.keyids);
    assert.equal(root.signatures.length, 2);
    await assert.rejects(stat(join(repo(), 'staging')), 'staging cleared after the commit');
  });

  test('publish --prepare with no maintainer key; below threshold refuses; carol and alice make it', async () => {
    const prep = ok(
      await on('coord', [
        ...publishArgs({
          package: 'dchat-1.0.0-linux-x64',
          version: '1.0.0',
          platform: 'linux-x64',
          out: 'repo',
        }),
        '--prepare',
      ]),
    );
    assert.match(prep.stdout, /Prepared targets v2: .*staging\/targets\.json \(0 of 2 targets signatures\)/);
    const timestampBefore = await readFile(join(repo(), 'metadata', 'timestamp.json'));

    // What carol reviews before signing: the package name, its length and SHA-256.
    const carol = await signOnOwnMachine('carol', 'targets.json', 'carol-targets.json');
    assert.match(carol.stdout, /dchat-1\.0\.0-linux-x64 {2}300000 bytes {2}sha256:[0-9a-f]{64}/);
    const below = await on('coord', [
      'release',
      'finish',
      '--out',
      'repo',
      '--key',
      'online.key',
      '--signatures',
      'carol-targets.json',
    ]);
    assert.equal(below.code, 3, describeRun(below));
    assert.match(below.stderr, /^error\[E_THRESHOLD\]: staged targets: signed by 1 of the 2/m);
    assert.ok((await readFile(join(repo(), 'metadata', 'timestamp.json'))).equals(timestampBefore));

    // A copy signed for other metadata is refused, not counted.
    const forged = JSON.parse(await readFile(join(home('coord'), 'carol-targets.json'), 'utf8'));
    forged.signed.expires = '2099-01-01T00:00:00Z';
    await writeFile(join(home('coord'), 'forged.json'), JSON.stringify(forged));
    const wrong = await on('coord', [
      'release',
      'finish',
      '--out',
      'repo',
      '--key',
      'online.key',
      '--signatures',
      'forged.json',
    ]);
    assert.equal(wrong.code, 3, describeRun(wrong));
    assert.match(wrong.stderr, /^error\[E_WRONG_TARGET\]: /m);

    await signOnOwnMachine('alice', 'targets.json', 'alice-targets2.json');
    const done = ok(await finish('alice-targets2.json'));
    const doc = JSON.parse(done.stdout);
    assert.equal(doc.targets_version, 2);
    assert.deepEqual(doc.warnings, []);
  });

  test('`dchat update verify` on a node that pinned root v1 accepts the release', async () => {
    await carry('coord', 'repo/root.json', 'alice', 'pinned-root.json');
    ok(await on('alice', ['trust', 'init', '--root', 'pinned-root.json']));
    const r = ok(await aliceVerifies());
    assert.match(r.stdout, /✅ Package verified successfully/);
  });

  describe('a stock tuf-js client over HTTPS (nginx)', {
    skip: requireTool('nginx') || requireTool('openssl'),
  }, () => {
    let ca: TestCa;
    let server: NginxServer;
    before(async () => {
      ca = makeTestCa();
      server = await startNginx(repo(), ca);
    });
    after(async () => {
      await server?.stop();
      if (ca) rmSync(ca.dir, { recursive: true, force: true });
    });

    test('downloads and verifies the package the three maintainers released', () => {
      const metaDir = mkdtempSync(join(tmp.path, 'tufjs-meta-'));
      const targetDir = mkdtempSync(join(tmp.path, 'tufjs-targets-'));
      copyFileSync(join(repo(), 'metadata', '1.root.json'), join(metaDir, 'root.json'));
      const r = spawnSync(
        process.execPath,
        [
          CLIENT,
          `${server.url}/metadata`,
          `${server.url}/targets`,
          metaDir,
          targetDir,
          'dchat-1.0.0-linux-x64',
        ],
        { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: ca.caCert }, timeout: 60_000 },
      );
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split('\n').pop() as string);
      assert.equal(out.ok, true, out.error);
      assert.ok(readFileSync(out.path).equals(PKG));
    });
  });

  test('the online key alone refreshes snapshot and timestamp (cron); a maintainer key cannot', async () => {
    const stale = await aliceVerifies(8);
    assert.equal(stale.code, 3, describeRun(stale));
    assert.match(stale.stderr, /^error\[E_EXPIRED\]: timestamp/m);

    const refresh = ok(
      await on('coord', ['release', 'refresh', '--out', 'repo', '--key', 'online.key', '--json'], 8),
    );
    assert.ok(Date.parse(JSON.parse(refresh.stdout).expires.timestamp) > Date.now() + 14 * DAY * 1000);
    ok(await aliceVerifies(8));

    // carol's key is a targets/root key, not a timestamp key: refused, nothing written.
    const ts = await readFile(join(repo(), 'metadata', 'timestamp.json'));
    const wrongKey = await on('carol', ['release', 'refresh', '--out', repo(), '--key', 'carol.key'], 8);
    assert.equal(wrongKey.code, 3, describeRun(wrongKey));
    assert.match(wrongKey.stderr, /^error\[E_UNTRUSTED_KEY\]: /m);
    assert.ok((await readFile(join(repo(), 'metadata', 'timestamp.json'))).equals(ts));
  });

  test('detached rotation of the online key: old and new root thresholds sign; the pinned node follows', async () => {
    ok(await dchatSign(['keygen', '--out', 'online2.key'], { cwd: home('coord') }));
    const prep = ok(
      await on('coord', [
        'release',
        'rotate-keys',
        '--out',
        'repo',
        '--online-key',
        'online2.key.pub',
        '--prepare',
        '--json',
      ]),
    );
    const staged = JSON.parse(prep.stdout).staged;
    assert.deepEqual(
      staged.map((s: { role: string }) => s.role),
      ['root'],
      'targets keys unchanged: the current targets stays valid, no targets signing needed',
    );
    await signOnOwnMachine('bob', 'root.json', 'bob-root2.json');
    const half = await on('coord', [
      'release',
      'finish',
      '--out',
      'repo',
      '--key',
      'online2.key',
      '--signatures',
      'bob-root2.json',
    ]);
    assert.equal(half.code, 3, describeRun(half));
    assert.match(half.stderr, /^error\[E_THRESHOLD\]: new root \(old keys\): signed by 1 of the 2/m);
    await signOnOwnMachine('carol', 'root.json', 'carol-root2.json');
    const done = ok(
      await on('coord', [
        'release',
        'finish',
        '--out',
        'repo',
        '--key',
        'online2.key',
        '--signatures',
        'carol-root2.json',
        '--json',
      ]),
    );
    assert.equal(JSON.parse(done.stdout).root_version, 2);

    const oldOnline = await on('coord', ['release', 'refresh', '--out', 'repo', '--key', 'online.key']);
    assert.equal(oldOnline.code, 3, describeRun(oldOnline));
    assert.match(oldOnline.stderr, /^error\[E_UNTRUSTED_KEY\]: /m);
    ok(await on('coord', ['release', 'refresh', '--out', 'repo', '--key', 'online2.key']));
    const v = ok(await aliceVerifies());
    assert.match(v.stdout, /✅ Package verified successfully/);
    const show = JSON.parse(ok(await on('alice', ['trust', 'show', '--json'])).stdout);
    assert.equal(show.root.version, 2);
  });

  test('no machine ever held two maintainer keys (the coordinator only the online keys)', () => {
    for (const who of [...MAINTAINERS, 'coord'] as const) {
      const privates = readdirSync(home(who)).filter((f) => {
        const p = join(home(who), f);
        try {
          return /PRIVATE KEY-----/.test(readFileSync(p, 'utf8'));
        } catch {
          return false;
        }
      });
      const expected = who === 'coord' ? ['online.key', 'online2.key'] : [`${who}.key`];
      assert.deepEqual(privates.sort(), expected, who);
    }
  });
});
