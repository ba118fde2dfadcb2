/**
 * `dchat release publish` records each package's IPFS CID in the signed target's `custom.ipfs_cid`:
 * by default the CIDv0 Kubo's `ipfs add` prints (checked against Debian's independent `ipfs_cid`),
 * with `--cid-version 1` that of `ipfs add --cid-version 1`; a bad `--cid-version` exits 2.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { kuboCid } from '../../src/sources/ipfs/kubo-cid.ts';
import { type CliResult, describeRun, publishArgs, runInProcess } from '../helpers/cli.ts';
import { makeTempDir, packageBytes } from '../helpers/repo.ts';
import { requireTool } from '../helpers/tools.ts';

const ok = (r: CliResult) => assert.equal(r.code, 0, describeRun(r));

test('publish records the Kubo CID of each package in the signed targets', {
  skip: requireTool('ipfs_cid'),
}, async (t) => {
  const dir = await makeTempDir('dchat-cli-cid-');
  t.after(() => dir.cleanup());
  const cwd = dir.path;
  const run = (args: string[]) => runInProcess('dchat', args, { cwd });
  ok(await runInProcess('dchat-sign', ['keygen', '--out', 'k1'], { cwd }));
  ok(await run(['release', 'init', '--out', 'repo', '--key', 'k1']));
  // Three 256 KiB IPFS chunks and a bit: a two-level DAG, not a single block.
  await writeFile(join(cwd, 'pkg-a'), packageBytes('cid a', 3 * 262_144 + 777));
  await writeFile(join(cwd, 'pkg-b'), packageBytes('cid b', 600_000));
  const publish = (pkg: string, version: string, extra: string[] = []) =>
    run([
      ...publishArgs({ package: pkg, version: version, platform: 'linux-x64', out: 'repo', key: 'k1' }),
      '--json',
      ...extra,
    ]);
  const a = await publish('pkg-a', '1.0.0');
  ok(a);
  const tool = JSON.parse(
    execFileSync('ipfs_cid', [join(cwd, 'pkg-a')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
  ) as { CIDv0: string };
  assert.equal(JSON.parse(a.stdout).metadata.ipfs_cid, tool.CIDv0);

  const b = await publish('pkg-b', '1.1.0', ['--cid-version', '1']);
  ok(b);
  const v1 = await kuboCid(join(cwd, 'pkg-b'), 1);
  assert.match(v1, /^bafy/);
  assert.equal(JSON.parse(b.stdout).metadata.ipfs_cid, v1);

  // What nodes read: the signed targets metadata itself.
  const targets = JSON.parse(await readFile(join(cwd, 'repo', 'metadata', '3.targets.json'), 'utf8'));
  assert.equal(targets.signed.targets['dchat-1.0.0-linux-x64'].custom.ipfs_cid, tool.CIDv0);
  assert.equal(targets.signed.targets['dchat-1.1.0-linux-x64'].custom.ipfs_cid, v1);

  const bad = await publish('pkg-b', '1.2.0', ['--cid-version', '2']);
  assert.equal(bad.code, 2, describeRun(bad));
  assert.match(bad.stderr, /E_USAGE\]: --cid-version/);
});
