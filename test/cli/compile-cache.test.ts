/**
 * The bins keep V8's compile cache per user (src/cli/compile-cache.ts): under $XDG_CACHE_HOME,
 * never elsewhere, and not at all with Node's NODE_DISABLE_COMPILE_CACHE=1.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeRun, runBin } from '../helpers/cli.ts';

test('each bin fills its compile cache under $XDG_CACHE_HOME; NODE_DISABLE_COMPILE_CACHE=1 keeps none', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dchat-compile-cache-'));
  try {
    for (const bin of ['dchat', 'dchat-sign', 'dchat-test'] as const) {
      const cache = join(dir, bin);
      const r = await runBin(bin, ['--help'], { env: { XDG_CACHE_HOME: cache } });
      assert.equal(r.code, 0, describeRun(r));
      const kept = join(cache, 'dchat', 'compile');
      assert.ok(existsSync(kept) && readdirSync(kept).length > 0, `${bin}: nothing cached in ${kept}`);
    }
    const off = join(dir, 'off');
    const r = await runBin('dchat', ['--help'], {
      env: { XDG_CACHE_HOME: off, NODE_DISABLE_COMPILE_CACHE: '1' },
    });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(existsSync(join(off, 'dchat', 'compile')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
