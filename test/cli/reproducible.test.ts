/**
 * Reproducible builds end to end (issue: "anyone can rebuild a release from source and prove it
 * matches"), through the real CLI and real builds of this source:
 * - two checkouts of the same commit in different directories, built with a different TZ, umask
 *   and user-visible time (libfaketime), give byte-identical executables and the same provenance;
 * - the build is published with its provenance in `custom.build`, and `release verify-build`
 *   rebuilds it from the other checkout and finds it identical;
 * - a published package with one byte changed makes verify-build fail with E_BUILD_MISMATCH
 *   naming the file inside the package (the bundle module) that differs;
 * - `release attest` adds a signed in-toto/SLSA attestation beside the package; `update verify`
 *   counts it, and with `--min-attestations` a forged or duplicate line never makes up the number.
 * Each build takes about 10 s of CPU; the file builds four times.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BINS, publishArgs, REPO_ROOT, runBin } from '../helpers/cli.ts';
import { requireTool } from '../helpers/tools.ts';

const VERSION = '1.4.0';
const PLATFORM = 'linux-x64';
const NAME = `dchat-${VERSION}-${PLATFORM}`;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * A checkout of this source at `dir`: the tracked and new files as they are now, committed with a
 * fixed author and date (so every checkout has the same commit id), dependencies hard-linked.
 */
function checkout(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const files = execFileSync(
    'git',
    ['-C', REPO_ROOT, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      encoding: 'utf8',
    },
  )
    .split('\0')
    .filter((f) => f !== '' && !f.startsWith('node_modules/'));
  for (const f of files) {
    const from = join(REPO_ROOT, f);
    try {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      copyFileSync(from, join(dir, f));
    } catch {
      // Deleted in the work tree but still in the index: not part of this source.
    }
  }
  execFileSync('cp', ['-al', join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules')]);
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@example.invalid',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@example.invalid',
    GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
    GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
  };
  const git = (...a: string[]) => execFileSync('git', ['-C', dir, ...a], { env, stdio: 'ignore' });
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '--no-gpg-sign', '-m', 'release');
}

function build(source: string, out: string, shell: string) {
  const r = spawnSync(
    'sh',
    [
      '-c',
      `${shell} "$0" "$@"`,
      process.execPath,
      BINS.dchat,
      'release',
      'build',
      '--source',
      source,
      '--out',
      out,
      '--version-stamp',
      VERSION,
      '--json',
    ],
    { encoding: 'utf8', cwd: dirname(out), timeout: 600_000 },
  );
  assert.equal(r.status, 0, `release build failed:\n${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as { sha256: string; source_commit: string; source_date_epoch: number };
}

describe('reproducible builds: rebuild, compare, attest', {
  skip: requireTool('faketime') || requireTool('git'),
}, () => {
  let dir: string;
  let srcA: string;
  let srcB: string;
  let exeA: string;
  let exeB: string;
  let builtA: { sha256: string; source_commit: string; source_date_epoch: number };
  let builtB: typeof builtA;
  let repo: string;
  let home: string;
  const dchat = (args: string[], h = home) => runBin('dchat', ['--home', h, ...args], { timeoutMs: 600_000 });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dchat-repro-'));
    srcA = join(dir, 'a', 'dchat');
    srcB = join(dir, 'b', 'elsewhere', 'deeper', 'checkout');
    checkout(srcA);
    checkout(srcB);
    exeA = join(dir, 'a', 'out', NAME);
    exeB = join(dir, 'b', NAME);
    mkdirSync(dirname(exeA), { recursive: true });
    builtA = build(srcA, exeA, 'umask 022 && TZ=UTC exec');
    builtB = build(srcB, exeB, "umask 077 && TZ=Pacific/Chatham exec faketime '2031-07-08 09:10:11'");
    repo = join(dir, 'repo');
    home = join(dir, 'home');
    const key = join(dir, 'release.key');
    assert.equal((await runBin('dchat-sign', ['keygen', '--out', key])).code, 0);
    assert.equal((await dchat(['release', 'init', '--out', repo, '--key', key])).code, 0);
    const pub = await dchat([
      ...publishArgs({ package: exeA, version: VERSION, platform: PLATFORM, out: repo, key: key }),
      '--json',
    ]);
    assert.equal(pub.code, 0, pub.stderr);
    assert.equal((await dchat(['trust', 'init', '--root', join(repo, 'root.json')])).code, 0);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('two checkouts in different directories, TZ, umask and clock build identical bytes and provenance', () => {
    assert.equal(builtA.sha256, builtB.sha256);
    assert.deepEqual(readFileSync(exeA), readFileSync(exeB));
    assert.match(builtA.source_commit, /^[0-9a-f]{40}$/);
    assert.equal(builtA.source_commit, builtB.source_commit);
    // SOURCE_DATE_EPOCH defaults to the commit's time, not the clock of either build.
    assert.equal(builtA.source_date_epoch, Date.parse('2026-01-01T00:00:00Z') / 1000);
    const infoA = JSON.parse(readFileSync(`${exeA}.buildinfo.json`, 'utf8'));
    const infoB = JSON.parse(readFileSync(`${exeB}.buildinfo.json`, 'utf8'));
    assert.deepEqual(infoA, infoB);
    assert.equal(infoA.toolchain.node, 'v24.21.0');
  });

  test('publish signs the provenance into custom.build; verify-build from the other checkout matches', async () => {
    // Consistent snapshots: the newest N.targets.json is the published targets.
    const newest = readdirSync(join(repo, 'metadata'))
      .map((f) => /^(\d+)\.targets\.json$/.exec(f)?.[1])
      .filter((v) => v !== undefined)
      .map(Number)
      .sort((a, b) => b - a)[0];
    const targets = JSON.parse(readFileSync(join(repo, 'metadata', `${newest}.targets.json`), 'utf8'));
    const custom = targets.signed.targets[NAME].custom;
    assert.equal(custom.build.source_commit, builtA.source_commit);
    assert.equal(
      custom.build.toolchain.lockfile_sha256,
      sha256(readFileSync(join(srcA, 'package-lock.json'))),
    );
    const r = await dchat([
      '--json',
      'release',
      'verify-build',
      '--version',
      VERSION,
      '--source',
      srcB,
      '--metadata',
      repo,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.match, true);
    assert.equal(doc.rebuilt_sha256, builtA.sha256);
    assert.deepEqual(doc.provenance_differences, []);
  });

  test('one byte changed in a published package: E_BUILD_MISMATCH names the file inside it that differs', async () => {
    const bad = Buffer.from(readFileSync(exeA));
    // A byte inside the bundled source of src/cli/version.ts (the stamped version string).
    const at = bad.indexOf(Buffer.from(`VERSION = "${VERSION}"`));
    assert.ok(at > 0, 'the stamped version is in the bundle');
    bad[at + 'VERSION = "'.length] = '9'.charCodeAt(0);
    const badExe = join(dir, 'tampered', NAME);
    mkdirSync(dirname(badExe), { recursive: true });
    writeFileSync(badExe, bad, { mode: 0o755 });
    const repo2 = join(dir, 'repo2');
    const home2 = join(dir, 'home2');
    const key2 = join(dir, 'release2.key');
    assert.equal((await runBin('dchat-sign', ['keygen', '--out', key2])).code, 0);
    assert.equal((await dchat(['release', 'init', '--out', repo2, '--key', key2], home2)).code, 0);
    const pub = await dchat(
      [...publishArgs({ package: badExe, version: VERSION, platform: PLATFORM, out: repo2, key: key2 })],
      home2,
    );
    assert.equal(pub.code, 0, pub.stderr);
    assert.equal((await dchat(['trust', 'init', '--root', join(repo2, 'root.json')], home2)).code, 0);
    const r = await dchat(
      ['--json', 'release', 'verify-build', '--version', VERSION, '--source', srcB, '--metadata', repo2],
      home2,
    );
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /error\[E_BUILD_MISMATCH\]: .*first differing file: dchat\.cjs: src\/cli\/version\.ts/,
    );
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.error.code, 'E_BUILD_MISMATCH');
    assert.equal(doc.error.details.first_difference, 'dchat.cjs: src/cli/version.ts');
  });

  test('release attest adds a signed attestation; update verify counts independent builders only', async () => {
    const builder = join(dir, 'builder.key');
    assert.equal((await runBin('dchat-sign', ['keygen', '--out', builder])).code, 0);
    const a = await dchat([
      '--json',
      'release',
      'attest',
      '--version',
      VERSION,
      '--key',
      builder,
      '--out',
      repo,
      '--source',
      srcB,
    ]);
    assert.equal(a.code, 0, a.stderr);
    const bundle = join(repo, 'packages', `${NAME}.intoto.jsonl`);
    const lines = readFileSync(bundle, 'utf8').trim().split('\n');
    assert.equal(lines.length, 1);
    const env = JSON.parse(lines[0] as string);
    assert.equal(env.payloadType, 'application/vnd.in-toto+json');
    const st = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8'));
    assert.equal(st._type, 'https://in-toto.io/Statement/v1');
    assert.equal(st.predicateType, 'https://slsa.dev/provenance/v1');
    assert.deepEqual(st.subject[0], {
      name: NAME,
      digest: { sha256: builtA.sha256, blake3: st.subject[0].digest.blake3 },
    });
    assert.equal(st.predicate.buildDefinition.externalParameters.source.commit, builtA.source_commit);

    const verify = (extra: string[]) =>
      dchat([
        '--json',
        'update',
        'verify',
        '--package',
        exeA,
        '--version',
        VERSION,
        '--metadata',
        repo,
        ...extra,
      ]);
    const one = await verify(['--min-attestations', '1', '--builder-key', `${builder}.pub`]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(JSON.parse(one.stdout).attestations.matching, 1);
    // The same builder again, and a forged copy (payload edited), do not make two.
    const forged = {
      ...env,
      payload: Buffer.from(
        JSON.stringify({ ...st, subject: [{ name: NAME, digest: { sha256: 'f'.repeat(64) } }] }),
      ).toString('base64'),
    };
    writeFileSync(bundle, `${lines[0]}\n${lines[0]}\n${JSON.stringify(forged)}\n`);
    const two = await verify(['--min-attestations', '2']);
    assert.equal(two.code, 3, two.stderr);
    assert.match(two.stderr, /error\[E_ATTESTATIONS\]: 1 of the required 2/);
    const reasons = JSON.parse(two.stdout).error.details.rejected.map((x: { reason: string }) => x.reason);
    assert.deepEqual(reasons.sort(), ['duplicate_builder', 'forged']);
    // Another builder key than the one named: nothing counts.
    const other = join(dir, 'other.key');
    assert.equal((await runBin('dchat-sign', ['keygen', '--out', other])).code, 0);
    const none = await verify(['--min-attestations', '1', '--builder-key', `${other}.pub`]);
    assert.equal(none.code, 3);
    assert.match(none.stderr, /E_ATTESTATIONS/);
  });
});
