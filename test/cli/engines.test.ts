/**
 * package.json declares `engines.node`, and every bin, started by a Node older than that, prints
 * one line (what it needs, how to get it) and exits 2 (src/cli/node-check.ts). Run against the
 * built bins (dist/) under the machine's system Node, found on the system PATH: a CI machine
 * without an older Node fails this test rather than skipping it, because then nothing checked the
 * path users with a distribution's Node take.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MIN_NODE_MAJOR, nodeTooOld } from '../../src/cli/node-check.ts';
import { REPO_ROOT } from '../helpers/cli.ts';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string };
  bin: Record<string, string>;
};

/** The first `node` on the system PATH (not the pinned one npm scripts put first) older than ours. */
function olderSystemNode(): { path: string; version: string } {
  for (const dir of ['/usr/local/bin', '/usr/bin', '/bin']) {
    const path = join(dir, 'node');
    if (!existsSync(path)) continue;
    const r = spawnSync(path, ['--version'], { encoding: 'utf8' });
    const version = r.stdout.trim().replace(/^v/, '');
    if (r.status === 0 && Number(version.split('.')[0]) < MIN_NODE_MAJOR) return { path, version };
  }
  throw new Error(
    `no Node older than ${MIN_NODE_MAJOR} in /usr/local/bin, /usr/bin or /bin: this test needs one ` +
      '(the machines have the distribution Node 20; apt-get install nodejs)',
  );
}

test('package.json engines.node says what node-check.ts enforces', () => {
  assert.equal(pkg.engines.node, `>=${MIN_NODE_MAJOR}`);
});

test('nodeTooOld: one line naming the need, the found version and how to get Node', () => {
  assert.equal(nodeTooOld('dchat', `${MIN_NODE_MAJOR}.0.0`, '/n'), undefined);
  assert.equal(nodeTooOld('dchat', '25.1.0', '/n'), undefined);
  const m = nodeTooOld('dchat-sign', '22.9.0', '/usr/bin/node') ?? '';
  assert.match(
    m,
    /^error\[E_NODE_VERSION\]: dchat-sign needs Node\.js >= 24, this is 22\.9\.0 \(\/usr\/bin\/node\); /,
  );
  assert.match(m, /nodejs\.org/);
  assert.equal(m.split('\n').length, 2, 'exactly one line');
});

test('every built bin under the system Node 20: one line on stderr, nothing on stdout, exit 2', () => {
  const old = olderSystemNode();
  for (const [name, file] of Object.entries(pkg.bin)) {
    for (const args of [['--version'], ['update', 'check']]) {
      const r = spawnSync(old.path, [join(REPO_ROOT, file), ...args], {
        encoding: 'utf8',
        env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
        cwd: REPO_ROOT,
      });
      assert.equal(r.status, 2, `${name} ${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.equal(
        r.stderr,
        nodeTooOld(name, old.version, old.path),
        `${name}: expected the one-line message, got:\n${r.stderr}`,
      );
    }
  }
});

test('the bins through their node_modules/.bin links with env -i and the system PATH: exit 2 too', () => {
  olderSystemNode();
  for (const name of Object.keys(pkg.bin)) {
    const r = spawnSync(
      '/usr/bin/env',
      ['-i', 'PATH=/usr/local/bin:/usr/bin:/bin', join(REPO_ROOT, 'node_modules', '.bin', name), '--version'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 2, `${name}: ${r.stdout}${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(`^error\\[E_NODE_VERSION\\]: ${name} needs Node\\.js >= ${MIN_NODE_MAJOR}, this is \\d+\\.`),
    );
    assert.equal(r.stderr.split('\n').length, 2);
  }
});
