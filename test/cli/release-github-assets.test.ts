/**
 * `dchat release publish --github-assets DIR` writes the files to upload to a GitHub release: the
 * package, its chunk table and the TUF metadata current after the publish (timestamp, the latest
 * snapshot and targets, every root), byte-identical to the mirror directory's; with --prepare it
 * is a usage error (nothing is published yet).
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { type CliResult, describeRun, publishArgs, runInProcess } from '../helpers/cli.ts';
import { makeTempDir, packageBytes } from '../helpers/repo.ts';

const ok = (r: CliResult) => assert.equal(r.code, 0, describeRun(r));

test('publish --github-assets writes the asset set of the release', async (t) => {
  const dir = await makeTempDir('dchat-cli-gh-');
  t.after(() => dir.cleanup());
  const cwd = dir.path;
  const run = (args: string[]) => runInProcess('dchat', args, { cwd });
  ok(await runInProcess('dchat-sign', ['keygen', '--out', 'k1'], { cwd }));
  ok(await run(['release', 'init', '--out', 'repo', '--key', 'k1']));
  await writeFile(join(cwd, 'pkg'), packageBytes('gh', 300_000));
  const publish = (version: string, extra: string[]) =>
    run([
      ...publishArgs({ package: 'pkg', version: version, platform: 'linux-x64', out: 'repo', key: 'k1' }),
      '--json',
      ...extra,
    ]);
  const r = await publish('1.0.0', ['--github-assets', 'assets-1.0.0']);
  ok(r);
  const doc = JSON.parse(r.stdout) as { github_assets: { dir: string; files: string[] } };
  const files = (await readdir(join(cwd, 'assets-1.0.0'))).sort();
  assert.deepEqual([...doc.github_assets.files].sort(), files);
  assert.deepEqual(files, [
    '1.root.json',
    '2.snapshot.json',
    '2.targets.json',
    'dchat-1.0.0-linux-x64',
    'dchat-1.0.0-linux-x64.chunks',
    'timestamp.json',
  ]);
  for (const [asset, inRepo] of [
    ['dchat-1.0.0-linux-x64', 'packages/dchat-1.0.0-linux-x64'],
    ['dchat-1.0.0-linux-x64.chunks', 'packages/dchat-1.0.0-linux-x64.chunks'],
    ['timestamp.json', 'metadata/timestamp.json'],
    ['2.targets.json', 'metadata/2.targets.json'],
  ] as const)
    assert.deepEqual(
      await readFile(join(cwd, 'assets-1.0.0', asset)),
      await readFile(join(cwd, 'repo', inRepo)),
    );

  const bad = await publish('1.1.0', ['--github-assets', 'x', '--prepare']);
  assert.equal(bad.code, 2, describeRun(bad));
  assert.match(bad.stderr, /--github-assets/);
});
