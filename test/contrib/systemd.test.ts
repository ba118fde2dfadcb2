/**
 * contrib/systemd/dchat-node.service: systemd accepts it (`systemd-analyze verify`), its
 * ExecStart command with its Environment= lines starts a node that answers `node status`, and
 * the stop systemd performs (KillSignal=SIGTERM) ends it with a status systemd counts as success
 * within TimeoutStopSec, its control socket removed. The data directory and listen address are
 * moved to a temp dir and loopback (tests use loopback only).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BINS, REPO_ROOT, runBin } from '../helpers/cli.ts';
import { waitFor } from '../helpers/node-procs.ts';

const UNIT = join(REPO_ROOT, 'contrib', 'systemd', 'dchat-node.service');
const text = readFileSync(UNIT, 'utf8');
const directives = (key: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));

test('systemd-analyze verify accepts the unit (the executable path stood in by /bin/true)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dchat-unit-'));
  try {
    const copy = join(dir, 'dchat-node.service');
    writeFileSync(copy, text.replaceAll('/usr/local/bin/dchat', '/bin/true'));
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    assert.equal(r.error, undefined, 'systemd-analyze is needed for this test (apt-get install systemd)');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the unit runs as a dedicated user in /var/lib/dchat, hardened, stopped by SIGTERM', () => {
  assert.deepEqual(directives('User'), ['dchat']);
  assert.deepEqual(directives('StateDirectory'), ['dchat']);
  assert.ok(directives('Environment').includes('DCHAT_HOME=/var/lib/dchat'));
  assert.deepEqual(directives('KillSignal'), ['SIGTERM']);
  for (const [k, v] of [
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['ProtectHome', 'yes'],
    ['PrivateTmp', 'yes'],
    ['CapabilityBoundingSet', ''],
  ])
    assert.deepEqual(directives(k as string), [v], k);
});

test('its ExecStart with its environment starts a node; SIGTERM stops it with exit 0, socket gone', async () => {
  const home = mkdtempSync(join(tmpdir(), 'dchat-unit-home-'));
  try {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    for (const e of directives('Environment')) {
      const [k, ...v] = e.split('=');
      env[k as string] = v.join('=').replaceAll('/var/lib/dchat', home);
    }
    const [exe, ...args] = (directives('ExecStart')[0] as string).split(/\s+/);
    assert.equal(exe, '/usr/local/bin/dchat');
    const argv = args.map((a) => (a === '/ip4/0.0.0.0/tcp/4001' ? '/ip4/127.0.0.1/tcp/0' : a));
    assert.ok(argv.includes('/ip4/127.0.0.1/tcp/0'), 'the unit listens on /ip4/0.0.0.0/tcp/4001');
    const child = spawn(process.execPath, [BINS.dchat, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.stdout.resume();
    const sock = join(home, 'run', 'node.sock');
    await waitFor('the node control socket', async () => existsSync(sock), 30_000);
    const status = await runBin('dchat', ['--json', 'node', 'status'], { env: { DCHAT_HOME: home } });
    assert.equal(status.code, 0, status.stderr);
    const t0 = Date.now();
    child.kill('SIGTERM');
    const code = await exited;
    const successes = [0, ...(directives('SuccessExitStatus')[0] ?? '').split(' ').map(Number)];
    assert.ok(successes.includes(code as number), `exit ${code}: ${err}`);
    assert.ok(Date.now() - t0 < Number.parseInt(directives('TimeoutStopSec')[0] as string, 10) * 1000);
    assert.equal(existsSync(sock), false);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
