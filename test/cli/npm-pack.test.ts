/**
 * docs/operator-guide.md "Install with npm": the tarball `npm pack` makes installs with
 * `npm install -g` into a fresh prefix, its `dchat` runs on Node 24 (here the pinned one put first
 * on PATH, as a user's own Node 24 would be) and, under the machine's older system Node, says in
 * one line what it needs and exits 2. The dependencies come from a loopback registry serving the
 * locked versions out of npm's cache (test/helpers/local-registry.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT } from '../helpers/cli.ts';
import { type LocalRegistry, startLocalRegistry } from '../helpers/local-registry.ts';

function run(cmd: string, args: string[], o: { cwd?: string; env: Record<string, string> }) {
  return new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd ?? REPO_ROOT, env: o.env, timeout: 240_000 });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('npm pack + npm install -g from the tarball', () => {
  let dir: string;
  let registry: LocalRegistry;
  let prefix: string;
  const node24 = dirname(process.execPath);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dchat-pack-'));
    registry = await startLocalRegistry(join(REPO_ROOT, 'package-lock.json'));
    prefix = join(dir, 'prefix');
  });
  after(async () => {
    await registry?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the tarball installs into a temp prefix; its dchat runs on Node 24 and refuses Node 20 in one line', async () => {
    const env = {
      PATH: `${node24}:${process.env.PATH}`,
      HOME: dir,
      npm_config_cache: process.env.npm_config_cache ?? join(process.env.HOME ?? '/root', '.npm'),
    };
    const pack = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { env });
    assert.equal(pack.code, 0, pack.out);
    const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    assert.ok(tgz, pack.out);
    const install = await run(
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--registry',
        registry.url,
        '--no-audit',
        '--no-fund',
        // As docs/operator-guide.md says: Helia's libp2p stack lists @libp2p/webrtc, whose
        // react-native-webrtc names react-native as a peer; dchat never loads WebRTC.
        '--legacy-peer-deps',
        join(dir, tgz),
      ],
      { env },
    );
    assert.equal(install.code, 0, install.out);
    for (const bin of ['dchat', 'dchat-sign', 'dchat-test'])
      assert.ok(existsSync(join(prefix, 'bin', bin)), bin);
    // The guides and the systemd unit travel with the package.
    const installed = join(prefix, 'lib', 'node_modules', 'dchat');
    for (const f of [
      'LICENSE',
      'docs/operator-guide.md',
      'docs/cli.md',
      'contrib/systemd/dchat-node.service',
    ])
      assert.ok(existsSync(join(installed, f)), f);
    // No devDependencies came along: no pinned Node inside the installation.
    assert.equal(existsSync(join(prefix, 'lib', 'node_modules', 'dchat', 'node_modules', 'node')), false);

    const home = join(dir, 'home');
    const ok = await run(join(prefix, 'bin', 'dchat'), ['--version'], {
      env: { PATH: `${node24}:/usr/bin:/bin`, DCHAT_HOME: home },
    });
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /^\d+\.\d+\.\d+\n$/);
    const help = await run(join(prefix, 'bin', 'dchat-sign'), ['--help'], {
      env: { PATH: `${node24}:/usr/bin:/bin` },
    });
    assert.equal(help.code, 0, help.out);

    const old = await run(join(prefix, 'bin', 'dchat'), ['--version'], {
      env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
    });
    assert.equal(old.code, 2, old.out);
    assert.match(
      old.out,
      /^error\[E_NODE_VERSION\]: dchat needs Node\.js >= 24, this is \d+\.\d+\.\d+ .*\n$/,
    );
  });
});
