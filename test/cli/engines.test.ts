/**
 * package.json declares `engines.node`; every bin started by an older Node runs its command again
 * under the checkout's pinned Node, or, where there is none, prints one line (what it needs, how to
 * get it) and exits 2 (src/cli/node-check.ts). Run against the built bins (dist/) under the
 * machine's system Node, found on the system PATH: a CI machine without an older Node fails this
 * test rather than skipping it, because then nothing checked the path users with a distribution's
 * Node take.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { MIN_NODE_MAJOR, nodeTooOld } from '../../src/cli/node-check.ts';
import { REPO_ROOT } from '../helpers/cli.ts';
import { alive } from '../helpers/node-procs.ts';

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

const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';
const PINNED = join(REPO_ROOT, 'node_modules', 'node', 'bin', 'node');

test('every built bin under the system Node: the command runs under the pinned Node, as if started by it', () => {
  const old = olderSystemNode();
  const home = mkdtempSync(join(tmpdir(), 'dchat-engines-'));
  try {
    for (const [name, file] of Object.entries(pkg.bin)) {
      for (const args of [['--version'], ['update', 'check', '--home', home]]) {
        const run = (node: string) =>
          spawnSync(node, [join(REPO_ROOT, file), ...args], {
            encoding: 'utf8',
            env: { PATH: SYSTEM_PATH },
            cwd: REPO_ROOT,
          });
        const [viaOld, direct] = [run(old.path), run(PINNED)];
        const what = `${name} ${args.join(' ')}`;
        assert.doesNotMatch(viaOld.stderr, /E_NODE_VERSION/, what);
        assert.deepEqual(
          [viaOld.status, viaOld.stdout, viaOld.stderr],
          [direct.status, direct.stdout, direct.stderr],
          what,
        );
      }
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('the bins through their node_modules/.bin links with env -i and the system PATH: they run', () => {
  olderSystemNode();
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string })
    .version;
  for (const name of Object.keys(pkg.bin)) {
    const r = spawnSync(
      '/usr/bin/env',
      ['-i', `PATH=${SYSTEM_PATH}`, join(REPO_ROOT, 'node_modules', '.bin', name), '--version'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, `${name}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, `${version}\n`);
  }
});

test('with no pinned Node beside it: one line on stderr, nothing on stdout, exit 2', () => {
  const old = olderSystemNode();
  // The built check, two levels below a directory with no node_modules (a global install's layout).
  const root = mkdtempSync(join(tmpdir(), 'dchat-engines-'));
  try {
    const cli = join(root, 'dist', 'cli');
    mkdirSync(cli, { recursive: true });
    copyFileSync(join(REPO_ROOT, 'dist', 'cli', 'node-check.js'), join(cli, 'node-check.js'));
    writeFileSync(join(cli, 'package.json'), '{"type":"module"}');
    writeFileSync(
      join(cli, 'bin.js'),
      "import { checkNode } from './node-check.js';\nif (checkNode('dchat')) console.log('ran');\n",
    );
    const r = spawnSync(old.path, [join(cli, 'bin.js'), 'update', 'check'], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, nodeTooOld('dchat', old.version, old.path));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** `dchat node start` under the system Node, until its started record; the two processes. */
async function startedUnderOld(home: string) {
  const old = olderSystemNode();
  // Its own process group, so a test can send what Ctrl-C sends: SIGINT to the whole group.
  const parent = spawn(
    old.path,
    [
      join(REPO_ROOT, pkg.bin.dchat as string),
      'node',
      'start',
      '--home',
      home,
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--json',
    ],
    { env: { PATH: SYSTEM_PATH, HOME: home }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    parent.on('exit', (code, signal) => resolve([code, signal])),
  );
  const lines = createInterface({ input: parent.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    const record = JSON.parse(line) as { event: string; pid: number };
    if (record.event === 'started') return { parent, child: record.pid, exited };
  }
  throw new Error('node start ended before its started record');
}

test('a signal to the waiting process: SIGTERM is passed on; on Ctrl-C it waits for the command, which exits as it does on SIGINT', {
  timeout: 60_000,
}, async () => {
  for (const [send, want] of [
    ['SIGTERM', [0, null]],
    ['SIGINT', [130, null]],
  ] as const) {
    const home = mkdtempSync(join(tmpdir(), 'dchat-engines-'));
    try {
      const { parent, child, exited } = await startedUnderOld(home);
      assert.notEqual(child, parent.pid, 'the node runs in a process of its own, under the pinned Node');
      if (send === 'SIGTERM') process.kill(parent.pid as number, 'SIGTERM');
      else process.kill(-(parent.pid as number), 'SIGINT');
      assert.deepEqual(await exited, want, `${send}: the exit of the command, as the node ends on it`);
      assert.equal(alive(child), false, `${send}: the node is gone`);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }
});
