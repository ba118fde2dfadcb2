import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { homePaths } from '../../src/store/home.ts';
import { FileTrustStore } from '../../src/store/trust-store.ts';
import {
  addMirror,
  CHUNK,
  type MirrorRepo,
  makeHome,
  makeMirrorRepo,
  runDchat,
} from '../download/fixture.ts';
import { describeRun, runBin } from '../helpers/cli.ts';
import { type FaultMirror, startFaultMirror } from '../helpers/fault-mirror.ts';
import { type NginxServer, startNginx } from '../helpers/nginx.ts';
import { makeTestCa, type TestCa } from '../helpers/tls.ts';
import { requireTool } from '../helpers/tools.ts';

const skip = requireTool('nginx') || requireTool('openssl');
const DAY = 86_400_000;

describe('update check / list-versions through HTTPS mirrors', { skip }, () => {
  const t0 = new Date();
  let ca: TestCa;
  let repo: MirrorRepo;
  let nginx: NginxServer;
  let stale: FaultMirror;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    ca = makeTestCa();
    env = { NODE_EXTRA_CA_CERTS: ca.caCert };
    repo = await makeMirrorRepo(t0);
    await repo.publish('0.2.0', 3 * CHUNK);
    const old = repo.snapshot();
    await repo.publish('1.0.0', 5 * CHUNK, { security: true });
    nginx = await startNginx(repo.dir, ca);
    stale = await startFaultMirror(old, ca);
  });
  after(async () => {
    await nginx?.stop();
    await stale?.stop();
  });

  async function homeWith(...mirrors: [string, number][]): Promise<string> {
    const home = (await makeHome(repo, t0)).home;
    for (const [url, priority] of mirrors) await addMirror(home, url, priority);
    return home;
  }

  test('check: the seed output, the newest trusted version, exit 0 either way', async () => {
    const home = await homeWith([nginx.url, 10]);
    const r = await runDchat(['--home', home, 'update', 'check'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        '🔍 Checking for updates (current version: 0.1.0)',
        '',
        '📦 Available versions:',
        '  0.1.0 (current)',
        '  0.2.0',
        '  1.0.0 (security)',
        '',
        '✨ Newest trusted version: 1.0.0 (update available)',
        '',
      ].join('\n'),
    );
    const j = await runDchat(['--home', home, '--json', 'update', 'check', '--current', '1.0.0'], { env });
    assert.equal(j.code, 0, j.stderr);
    const doc = JSON.parse(j.stdout);
    assert.equal(doc.current_version, '1.0.0');
    assert.equal(doc.newest_version, '1.0.0');
    assert.equal(doc.update_available, false);
    assert.equal(doc.metadata.source, nginx.url);
    assert.deepEqual(
      doc.versions.map((v: { version: string }) => v.version),
      ['0.2.0', '1.0.0'],
    );
    // Trust is persisted in $DCHAT_HOME/trust.
    const targets = JSON.parse(
      Buffer.from((await new FileTrustStore(homePaths(home)).load('targets'))!).toString('utf8'),
    );
    assert.ok(targets.signed.targets['dchat-1.0.0-linux-x64']);
  });

  test('list-versions: one seed block per release', async () => {
    const home = await homeWith([nginx.url, 10]);
    const j = JSON.parse(
      (await runDchat(['--home', home, '--json', 'update', 'list-versions'], { env })).stdout,
    );
    assert.deepEqual(
      j.versions.map((v: { version: string; size_bytes: number }) => [v.version, v.size_bytes]),
      [
        ['0.2.0', 3 * CHUNK],
        ['1.0.0', 5 * CHUNK],
      ],
    );
    const date = j.versions[0].release_date;
    assert.match(date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const r = await runDchat(['--home', home, 'update', 'list-versions'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      r.stdout.startsWith(
        [
          '📋 Discovering available versions...',
          '',
          '📦 Version 0.2.0',
          '   Type: Binary',
          '   Platform: linux-x64',
          '   Size: 197 KB',
          `   Release: ${date}`,
          '',
          '📦 Version 1.0.0',
        ].join('\n'),
      ),
      r.stdout,
    );
    assert.match(r.stdout, /Security release: yes/);
  });

  test('a real process trusts the mirror through NODE_EXTRA_CA_CERTS', async () => {
    const home = await homeWith([nginx.url, 10]);
    const r = await runBin('dchat', ['--home', home, '--json', 'update', 'check'], {
      env: { NODE_EXTRA_CA_CERTS: ca.caCert },
    });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(JSON.parse(r.stdout).newest_version, '1.0.0');
    const untrusted = await runBin('dchat', ['--home', home, 'update', 'check']);
    assert.equal(untrusted.code, 1, describeRun(untrusted));
    assert.match(untrusted.stderr, /error\[E_NETWORK\]: .*certificate/);
  });

  test('a stale mirror cannot roll back what was seen, nor stand in for a fresh one', async () => {
    const home = await homeWith([stale.url, 5], [nginx.url, 10]);
    // The stale copy (timestamp before 1.0.0) is tried first and, on a new node, looks fine...
    const first = JSON.parse((await runDchat(['--home', home, '--json', 'update', 'check'], { env })).stdout);
    assert.equal(first.metadata.source, stale.url);
    assert.equal(first.newest_version, '0.2.0');
    // ...until the node sees the newer signed timestamp from nginx (stale one down for a moment).
    const stop = await runDchat(['--home', home, 'update', 'remove-mirror', '--url', stale.url]);
    assert.equal(stop.code, 0);
    const fresh = JSON.parse((await runDchat(['--home', home, '--json', 'update', 'check'], { env })).stdout);
    assert.equal(fresh.newest_version, '1.0.0');
    await addMirror(home, stale.url, 5);
    // From now on the stale mirror is a rollback: skipped, and never believed.
    const again = JSON.parse((await runDchat(['--home', home, '--json', 'update', 'check'], { env })).stdout);
    assert.equal(again.newest_version, '1.0.0');
    assert.equal(again.metadata.source, nginx.url);
    assert.equal(again.metadata.rejected[0].code, 'E_ROLLBACK');
    // Alone, it is a security failure (exit 3), and the trusted state stays where it was.
    await runDchat(['--home', home, 'update', 'remove-mirror', '--url', nginx.url]);
    const alone = await runDchat(['--home', home, 'update', 'check'], { env });
    assert.equal(alone.code, 3, alone.stderr);
    assert.match(alone.stderr, /error\[E_ROLLBACK\]/);
    const targets = JSON.parse(
      Buffer.from((await new FileTrustStore(homePaths(home)).load('targets'))!).toString('utf8'),
    );
    assert.ok(targets.signed.targets['dchat-1.0.0-linux-x64'], 'still trusts 1.0.0');
  });

  test('expired metadata everywhere: E_EXPIRED (exit 3), the node is not frozen on it', async () => {
    const home = await homeWith([nginx.url, 10]);
    const later = () => new Date(t0.getTime() + 40 * DAY);
    const r = await runDchat(['--home', home, 'update', 'check'], { env, now: later });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /error\[E_EXPIRED\]/);
    const j = await runDchat(['--home', home, '--json', 'update', 'list-versions'], { env, now: later });
    assert.equal(JSON.parse(j.stdout).error.code, 'E_EXPIRED');
  });

  test('no mirror: E_NO_SOURCE (exit 1) telling how to add one; the stale one is pruned in time', async () => {
    const none = await homeWith();
    const r = await runDchat(['--home', none, 'update', 'check'], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error\[E_NO_SOURCE\]: .*add-mirror/);

    const home = await homeWith([nginx.url, 10]);
    await runDchat(['--home', home, 'update', 'check'], { env });
    await addMirror(home, stale.url, 1);
    const toml = join(home, 'mirrors.toml');
    writeFileSync(
      toml,
      readFileSync(toml, 'utf8').replace('prune_after_failures = 5', 'prune_after_failures = 2'),
    );
    const one = await runDchat(['--home', home, 'update', 'check'], { env });
    assert.equal(one.code, 0, one.stderr);
    assert.doesNotMatch(one.stdout, /Pruned/);
    const two = await runDchat(['--home', home, 'update', 'check'], { env });
    assert.match(
      two.stdout,
      new RegExp(`🗑️  Pruned mirror ${stale.url.replace(/\./g, '\\.')}: failed 2 times in a row`),
    );
    assert.doesNotMatch(readFileSync(toml, 'utf8'), new RegExp(stale.url.replace(/\./g, '\\.')));
  });
});
