/**
 * The auto-update service in a real node process (src/node/activation-node.ts over the policy in
 * activation/schedule/policy.ts): the settings saved by `update configure-auto-update` are what
 * the node acts on. Against a loopback mirror with a stable release, a stable security release and
 * a beta one: security-only takes the security release and downloads it in the background (log
 * line and `node status` say so); channel beta without security-only takes the beta;
 * background_download false notifies without downloading; a pin takes the pinned release;
 * disabled does nothing.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startStaticServer } from '../../src/mirror/static-server.ts';
import { publishRelease } from '../../src/release/publish.ts';
import {
  addMirror,
  CHUNK,
  type MirrorRepo,
  makeHome,
  makeMirrorRepo,
  PLATFORM,
  runDchat,
} from '../download/fixture.ts';
import { BINS, REPO_ROOT } from '../helpers/cli.ts';
import { packageBytes } from '../helpers/repo.ts';

let repo: MirrorRepo;
let mirror: { url: string; close(): Promise<void> };

before(async () => {
  repo = await makeMirrorRepo();
  await repo.publish('1.0.0', 2 * CHUNK + 10);
  await repo.publish('1.1.0', 2 * CHUNK + 20, { security: true });
  const beta = join(repo.base, 'beta-pkg');
  writeFileSync(beta, packageBytes('dchat 1.2.0-beta.1', 2 * CHUNK + 30));
  await publishRelease({
    dir: repo.dir,
    packagePath: beta,
    version: '1.2.0-beta.1',
    platform: PLATFORM,
    keys: repo.keys,
    now: new Date(),
    chunkSize: CHUNK,
    channel: 'beta',
  });
  mirror = await startStaticServer({ root: repo.dir, host: '127.0.0.1', port: 0 });
});
after(async () => {
  await mirror?.close();
});

interface AutoStatus {
  enabled: boolean;
  available: string | null;
  reason: string;
  last_check: string | null;
}

async function runNode(
  settings: string[],
  o: { checkFirst?: boolean } = {},
): Promise<{ home: string; auto: AutoStatus; stderr: string }> {
  const home = (await makeHome(repo)).home;
  await addMirror(home, mirror.url);
  // A pin is checked against trusted metadata: refresh it first.
  if (o.checkFirst) assert.equal((await runDchat(['--home', home, 'update', 'check'])).code, 0);
  const cfg = await runDchat(['--home', home, 'update', 'configure-auto-update', ...settings]);
  assert.equal(cfg.code, 0, cfg.stderr);
  const proc: ChildProcess = spawn(
    process.execPath,
    [BINS.dchat, '--home', home, '--json', 'node', 'start', '--listen', '/ip4/127.0.0.1/tcp/0'],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  proc.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const exited = new Promise((r) => proc.once('exit', r));
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no start: ${stderr}`)), 60_000);
      proc.stdout?.on('data', (b: Buffer) => {
        if (b.toString().includes('"started"')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const st = await runDchat(['--home', home, '--json', 'node', 'status']);
      assert.equal(st.code, 0, st.stderr);
      const auto = (JSON.parse(st.stdout) as { activation: { auto_update: AutoStatus } }).activation
        .auto_update;
      // 'not checked yet' until the node has read the settings and (when enabled) checked once.
      const settled = auto.reason !== 'not checked yet';
      const downloading =
        auto.available !== null && settings.join(' ').includes('--background-download true');
      const file = auto.available ? join(home, 'packages', `dchat-${auto.available}-${PLATFORM}`) : '';
      if (settled && (!downloading || existsSync(file))) return { home, auto, stderr };
      if (Date.now() > deadline)
        throw new Error(`auto-update did not settle: ${JSON.stringify(auto)} ${stderr}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    proc.kill('SIGTERM');
    await exited;
  }
}

const pkg = (home: string, v: string) => existsSync(join(home, 'packages', `dchat-${v}-${PLATFORM}`));

describe('auto-update in the node honours every saved setting', () => {
  test('security-only (default) + background download: the security release, downloaded, notified', async () => {
    const r = await runNode(['--enabled', 'true', '--background-download', 'true']);
    assert.equal(r.auto.available, '1.1.0');
    assert.ok(pkg(r.home, '1.1.0'));
    assert.ok(!pkg(r.home, '1.2.0-beta.1'));
    assert.match(r.stderr, /update available: dchat 1\.1\.0/);
  });

  test('beta channel, not security-only, no background download: the beta, notified only', async () => {
    const r = await runNode([
      '--enabled',
      'true',
      '--security-only',
      'false',
      '--channel',
      'beta',
      '--background-download',
      'false',
    ]);
    assert.equal(r.auto.available, '1.2.0-beta.1', JSON.stringify(r.auto));
    assert.ok(!pkg(r.home, '1.2.0-beta.1'));
    assert.match(r.stderr, /update available: dchat 1\.2\.0-beta\.1/);
  });

  test('a pin takes the pinned release whatever the channel offers', async () => {
    const r = await runNode(
      ['--enabled', 'true', '--security-only', 'false', '--channel', 'nightly', '--pin', '1.0.0'],
      { checkFirst: true },
    );
    assert.equal(r.auto.available, '1.0.0', JSON.stringify(r.auto));
    assert.match(r.auto.reason, /pinned to 1\.0\.0/);
  });

  test('disabled: no check, nothing downloaded', async () => {
    const r = await runNode(['--enabled', 'false']);
    assert.equal(r.auto.enabled, false);
    assert.equal(r.auto.available, null);
    assert.deepEqual(
      ['1.0.0', '1.1.0', '1.2.0-beta.1'].filter((v) => pkg(r.home, v)),
      [],
    );
  });
});
