/**
 * The bins keep V8's compile cache in the data directory (src/cli/compile-cache.ts;
 * spec/CLI.md: every file the program writes lives under --home/DCHAT_HOME): nothing under
 * $XDG_CACHE_HOME or ~/.cache, nothing when the home does not exist yet, and none at all with
 * Node's NODE_DISABLE_COMPILE_CACHE=1.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { homeFromArgv } from '../../src/cli/compile-cache.ts';
import { describeRun, runBin } from '../helpers/cli.ts';

test('each bin fills its compile cache under --home or DCHAT_HOME, never under XDG_CACHE_HOME or ~', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dchat-compile-cache-'));
  try {
    const xdg = join(dir, 'xdg');
    const fakeHome = join(dir, 'user');
    mkdirSync(fakeHome);
    for (const bin of ['dchat', 'dchat-sign', 'dchat-test'] as const) {
      const home = join(dir, bin);
      mkdirSync(home);
      const r = await runBin(bin, ['--home', home, '--help'], {
        env: { XDG_CACHE_HOME: xdg, HOME: fakeHome },
      });
      assert.equal(r.code, 0, describeRun(r));
      const kept = join(home, 'cache', 'compile');
      assert.ok(existsSync(kept) && readdirSync(kept).length > 0, `${bin}: nothing cached in ${kept}`);
    }
    const viaEnv = join(dir, 'env-home');
    mkdirSync(viaEnv);
    const r = await runBin('dchat', ['--help'], {
      env: { DCHAT_HOME: viaEnv, XDG_CACHE_HOME: xdg, HOME: fakeHome },
    });
    assert.equal(r.code, 0, describeRun(r));
    assert.ok(readdirSync(join(viaEnv, 'cache', 'compile')).length > 0);
    assert.equal(existsSync(xdg), false, 'something was written under XDG_CACHE_HOME');
    assert.deepEqual(readdirSync(fakeHome), [], 'something was written under $HOME');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a home that does not exist yet is not created by --help; NODE_DISABLE_COMPILE_CACHE=1 keeps none', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dchat-compile-cache-'));
  try {
    const missing = join(dir, 'not-yet');
    let r = await runBin('dchat', ['--home', missing, '--help']);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(existsSync(missing), false);
    const off = join(dir, 'off');
    mkdirSync(off);
    r = await runBin('dchat', ['--help'], { env: { DCHAT_HOME: off, NODE_DISABLE_COMPILE_CACHE: '1' } });
    assert.equal(r.code, 0, describeRun(r));
    assert.deepEqual(readdirSync(off), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('homeFromArgv: --home DIR and --home=DIR win over DCHAT_HOME, which wins over ~/.dchat', () => {
  assert.equal(homeFromArgv(['x', '--home', 'h1'], { DCHAT_HOME: '/e' }, '/c'), '/c/h1');
  assert.equal(homeFromArgv(['--home=/abs', 'x'], { DCHAT_HOME: '/e' }, '/c'), '/abs');
  assert.equal(homeFromArgv(['x'], { DCHAT_HOME: '/e' }, '/c'), '/e');
  assert.match(homeFromArgv(['x', '--', '--home', 'no'], {}, '/c'), /\.dchat$/);
});
