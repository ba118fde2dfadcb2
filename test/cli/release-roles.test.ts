/**
 * Per-role keys on one machine (every key at hand commits at once), targets re-signed without a new
 * package (`refresh --targets`), a stale staged file refused at `finish`, the expiry warnings of
 * `release` commands and `trust show` (coded stderr line + `warnings` in --json), and the usage
 * errors of the new flags (exit 2, the flag named). The detached, many-machine path is
 * release-ceremony.test.ts.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CliResult, dchat, describeRun, runInProcess } from '../helpers/cli.ts';
import { at, DAY, makeTempDir, packageBytes } from '../helpers/repo.ts';

let dir: { path: string; cleanup(): Promise<void> };
const local = (args: string[], days = 0) =>
  runInProcess('dchat', args, { cwd: dir.path, now: at(new Date(), days * DAY) });
const ok = (r: CliResult) => {
  assert.equal(r.code, 0, describeRun(r));
  return r;
};
const publish = (version: string, keys: string[], extra: string[] = []) =>
  local([
    'release',
    'publish',
    '--package',
    `dchat-${version}-linux-x64`,
    '--version',
    version,
    '--platform',
    'linux-x64',
    '--out',
    'repo',
    ...keys.flatMap((k) => ['--key', k]),
    ...extra,
  ]);
const home = () => join(dir.path, 'node-home');

before(async () => {
  dir = await makeTempDir('dchat-cli-roles-');
  for (const k of ['r1', 'r2', 't1', 'on'])
    ok(await runInProcess('dchat-sign', ['keygen', '--out', k], { cwd: dir.path }));
  for (const v of ['1.0.0', '1.1.0', '1.2.0'])
    await writeFile(join(dir.path, `dchat-${v}-linux-x64`), packageBytes(`roles ${v}`, 40_000));
});
after(() => dir.cleanup());

describe('per-role keys, all at hand', () => {
  test('init: root 2-of-2, targets 1, online key for snapshot+timestamp; commits at once', async () => {
    const r = ok(
      await local([
        'release',
        'init',
        '--out',
        'repo',
        '--root-key',
        'r1',
        '--root-key',
        'r2',
        '--root-threshold',
        '2',
        '--targets-key',
        't1',
        '--online-key',
        'on',
      ]),
    );
    assert.match(r.stdout, /root {6}2 of 2/);
    assert.match(r.stdout, /timestamp 1 of 1/);
    const root = JSON.parse(await readFile(join(dir.path, 'repo', 'root.json'), 'utf8'));
    const roles = root.signed.roles;
    assert.equal(roles.root.keyids.length, 2);
    assert.equal(roles.root.threshold, 2);
    assert.deepEqual(roles.snapshot, roles.timestamp);
    assert.equal(roles.targets.keyids.length, 1);
    assert.notDeepEqual(roles.targets.keyids, roles.timestamp.keyids);
    assert.equal(Object.keys(root.signed.keys).length, 4);
  });

  test('publish needs the targets key AND the online key; neither alone', async () => {
    const targetsOnly = await publish('1.0.0', ['t1']);
    assert.equal(targetsOnly.code, 3, describeRun(targetsOnly));
    assert.match(targetsOnly.stderr, /^error\[E_UNTRUSTED_KEY\]: new snapshot/m);
    const onlineOnly = await publish('1.0.0', ['on']);
    assert.equal(onlineOnly.code, 3, describeRun(onlineOnly));
    assert.match(onlineOnly.stderr, /^error\[E_UNTRUSTED_KEY\]: new targets/m);
    ok(await publish('1.0.0', ['t1', 'on']));
  });

  test('node: trust init + verify, then trust show', async () => {
    ok(await local(['--home', home(), 'trust', 'init', '--root', 'repo/root.json']));
    ok(
      await local([
        '--home',
        home(),
        'update',
        'verify',
        '--package',
        'repo/packages/dchat-1.0.0-linux-x64',
        '--version',
        '1.0.0',
        '--metadata',
        'repo',
      ]),
    );
    const show = JSON.parse(ok(await local(['--home', home(), 'trust', 'show', '--json'])).stdout);
    assert.equal(show.roles.root.threshold, 2);
    assert.deepEqual(show.warnings, []);
  });

  test('refresh --targets re-signs targets (same packages, fresh expiry) with the targets + online keys', async () => {
    const before = JSON.parse(await readFile(join(dir.path, 'repo', 'metadata', '2.targets.json'), 'utf8'));
    const r = JSON.parse(
      ok(
        await local(
          ['release', 'refresh', '--out', 'repo', '--targets', '--key', 't1', '--key', 'on', '--json'],
          3,
        ),
      ).stdout,
    );
    assert.equal(r.targets_version, 3);
    const after = JSON.parse(await readFile(join(dir.path, 'repo', 'metadata', '3.targets.json'), 'utf8'));
    assert.deepEqual(after.signed.targets, before.signed.targets);
    assert.ok(Date.parse(after.signed.expires) > Date.parse(before.signed.expires));
    const noTargetsKey = await local(['release', 'refresh', '--out', 'repo', '--targets', '--key', 'on']);
    assert.equal(noTargetsKey.code, 3, describeRun(noTargetsKey));
    assert.match(noTargetsKey.stderr, /^error\[E_THRESHOLD\]: staged targets: signed by 0 of the 1/m);
  });

  test('a staged targets that a direct publish overtook is stale: finish exits 3 E_VERSION_MISMATCH', async () => {
    ok(await publish('1.1.0', [], ['--prepare']));
    ok(await publish('1.2.0', ['t1', 'on']));
    const r = await local(['release', 'finish', '--out', 'repo', '--key', 't1', '--key', 'on']);
    assert.equal(r.code, 3, describeRun(r));
    assert.match(
      r.stderr,
      /^error\[E_VERSION_MISMATCH\]: staged targets is v4 but the repository is at targets v4/m,
    );
  });

  test('a later --prepare starts from the current targets; a second package joins the same staged file', async () => {
    ok(await publish('1.1.0', [], ['--prepare']));
    const staged = JSON.parse(await readFile(join(dir.path, 'repo', 'staging', 'targets.json'), 'utf8'));
    assert.equal(staged.signed.version, 5);
    assert.deepEqual(Object.keys(staged.signed.targets).sort(), [
      'dchat-1.0.0-linux-x64',
      'dchat-1.1.0-linux-x64',
      'dchat-1.2.0-linux-x64',
    ]);
    const r = JSON.parse(
      ok(await local(['release', 'finish', '--out', 'repo', '--key', 't1', '--key', 'on', '--json'])).stdout,
    );
    assert.equal(r.targets_version, 5);
  });
});

describe('expiry warnings', () => {
  test('release refresh 25 days on: targets within 10 days -> warning[W_EXPIRES_SOON] on stderr and in --json', async () => {
    const r = ok(await local(['release', 'refresh', '--out', 'repo', '--key', 'on', '--json'], 25));
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(
      doc.warnings.map((w: { code: string; role: string }) => [w.code, w.role]),
      [['W_EXPIRES_SOON', 'targets']],
    );
    assert.match(
      r.stderr,
      /^warning\[W_EXPIRES_SOON\]: targets v5 expires in [45] days \(.*\): targets keys must sign/m,
    );
    assert.equal(r.stdout.trim().split('\n').length, 1, 'stdout is one JSON document');
    const human = ok(await local(['release', 'refresh', '--out', 'repo', '--key', 'on'], 25));
    assert.match(human.stderr, /^warning\[W_EXPIRES_SOON\]: targets/m);
    assert.doesNotMatch(human.stdout, /warning\[/);
  });

  test('trust show: metadata the node holds near or past expiry is warned about', async () => {
    // The node last verified at day 0: its timestamp expires on day 7.
    const soon = ok(await local(['--home', home(), 'trust', 'show', '--json'], 6));
    const doc = JSON.parse(soon.stdout);
    const roles = doc.warnings.map((w: { code: string; role: string }) => `${w.code}:${w.role}`).sort();
    assert.deepEqual(roles, ['W_EXPIRES_SOON:snapshot', 'W_EXPIRES_SOON:timestamp']);
    assert.match(soon.stderr, /^warning\[W_EXPIRES_SOON\]: timestamp v\d+ expires within a day/m);
    const late = ok(await local(['--home', home(), 'trust', 'show'], 400));
    assert.match(late.stderr, /^warning\[W_EXPIRED\]: root v1 has expired/m);
    assert.match(late.stderr, /^warning\[W_EXPIRED\]: targets/m);
  });

  test('the real executable prints the warning line too', async () => {
    const r = await dchat(['--home', home(), 'trust', 'show'], {
      cwd: dir.path,
      env: { DCHAT_FAKE_NOW: at(new Date(), 340 * DAY).toISOString() },
    });
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stderr, /^warning\[W_EXPIRES_SOON\]: root v1 expires in 2\d days/m);
  });
});

describe('usage errors of the per-role and detached-signing flags (exit 2, the flag named)', () => {
  const cases: [string, string[], string][] = [
    [
      'init --root-threshold above the root keys',
      ['release', 'init', '--out', 'u1', '--root-key', 'r1', '--root-threshold', '2', '--key', 't1'],
      '--root-threshold',
    ],
    [
      'init: a role with no keys at all',
      ['release', 'init', '--out', 'u2', '--targets-key', 't1', '--online-key', 'on'],
      '--key',
    ],
    [
      'init --online-key with a bad threshold',
      ['release', 'init', '--out', 'u3', '--key', 'r1', '--online-key', 'on', '--timestamp-threshold', '0'],
      '--timestamp-threshold',
    ],
    [
      'sign --metadata that is not metadata',
      ['release', 'sign', '--metadata', 'r1.pub', '--key', 'r1'],
      '--metadata',
    ],
    ['sign without --key', ['release', 'sign', '--metadata', 'repo/root.json'], '--key'],
    [
      'sign with a public key',
      ['release', 'sign', '--metadata', 'repo/root.json', '--key', 'r1.pub', '--output', 'x.json'],
      '--key',
    ],
    ['finish with nothing staged', ['release', 'finish', '--out', 'repo', '--key', 'on'], '--out'],
    ['finish without --key', ['release', 'finish', '--out', 'repo'], '--key'],
    [
      'refresh --prepare without --targets',
      ['release', 'refresh', '--out', 'repo', '--prepare'],
      '--prepare',
    ],
    [
      'rotate-keys --new-key public without --prepare',
      ['release', 'rotate-keys', '--out', 'repo', '--key', 'r1', '--new-key', 'r2.pub'],
      '--new-key',
    ],
  ];
  for (const [what, args, flag] of cases) {
    test(what, async () => {
      const r = await local(args);
      assert.equal(r.code, 2, describeRun(r));
      assert.match(r.stderr, new RegExp(`^error\\[E_USAGE\\]: ${flag}: `, 'm'));
    });
  }

  test('init --prepare twice: the staged root is not overwritten (exit 2 naming --out)', async () => {
    ok(await local(['release', 'init', '--out', 'p1', '--key', 'r1.pub', '--prepare']));
    const staged = await readFile(join(dir.path, 'p1', 'staging', 'root.json'));
    const r = await local(['release', 'init', '--out', 'p1', '--key', 'r2.pub', '--prepare']);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /^error\[E_USAGE\]: --out: .*prepared root/m);
    assert.ok((await readFile(join(dir.path, 'p1', 'staging', 'root.json'))).equals(staged));
  });
});
