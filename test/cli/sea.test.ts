/**
 * `dchat release build` makes the single executable (src/release/build.ts), and that executable
 * works on a machine with no Node: run with a PATH that holds no `node` at all, it answers
 * `--version` (stamped at build time), checks for updates and downloads a release (native BLAKE3
 * addon and worker threads from the embedded assets) from a local mirror, and runs a node that
 * stops gracefully on SIGTERM. Two builds from different directories, umasks and time zones give
 * identical bytes (the recipe's determinism, which release packages and rebuild checks rely on).
 * The executable is built once for the file (about 10 s).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startStaticServer } from '../../src/mirror/static-server.ts';
import { addMirror, CHUNK, type MirrorRepo, makeHome, makeMirrorRepo } from '../download/fixture.ts';
import { BINS, downloadArgs, REPO_ROOT, runProcess } from '../helpers/cli.ts';

const STAMP = '1.1.0';
/** A PATH with the usual system tools and no node (checked below). */
const NO_NODE_PATH = '/nonexistent-bin';

/** Runs the executable asynchronously (the test's own mirror must keep serving meanwhile). */
function run(
  exe: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return runProcess(exe, args, { env: { PATH: NO_NODE_PATH, ...env }, timeoutMs: 60_000 }).then((r) => ({
    status: r.code,
    stdout: r.stdout,
    stderr: r.stderr,
  }));
}

function build(out: string, extra: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(
    process.execPath,
    [BINS.dchat, 'release', 'build', '--source', REPO_ROOT, '--out', out, '--version-stamp', STAMP, '--json'],
    {
      encoding: 'utf8',
      cwd: extra.cwd ?? REPO_ROOT,
      env: { ...process.env, ...extra.env },
      timeout: 300_000,
    },
  );
  assert.equal(r.status, 0, `release build failed:\n${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as { sha256: string; size: number; version: string; out: string };
}

describe('the single executable (dchat release build)', () => {
  let dir: string;
  let exe: string;
  let built: { sha256: string; size: number; version: string };
  let repo: MirrorRepo;
  let mirror: { url: string; close(): Promise<void> };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dchat-sea-'));
    exe = join(dir, 'out', 'dchat');
    built = build(exe, { env: { SOURCE_DATE_EPOCH: '1767225600' } });
    repo = await makeMirrorRepo();
    await repo.publish('1.0.0', 3 * CHUNK + 123);
    mirror = await startStaticServer({ root: repo.dir, host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await mirror?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('it is one executable file with the build reported: version stamp, size, hash, SOURCE_DATE_EPOCH mtime', () => {
    const st = statSync(exe);
    assert.equal(st.mode & 0o777, 0o755);
    assert.equal(st.size, built.size);
    assert.equal(createHash('sha256').update(readFileSync(exe)).digest('hex'), built.sha256);
    assert.equal(built.version, STAMP);
    assert.equal(Math.floor(st.mtimeMs / 1000), 1767225600);
  });

  test('--version with no node on PATH prints the stamped version and writes nothing', async () => {
    const home = join(dir, 'home-version');
    assert.notEqual(
      spawnSync('/bin/sh', ['-c', 'command -v node'], { env: { PATH: NO_NODE_PATH } }).status,
      0,
    );
    const r = await run(exe, ['--version'], { DCHAT_HOME: home, HOME: join(dir, 'nohome') });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${STAMP}\n`);
    assert.equal(existsSync(home), false);
    assert.equal(existsSync(join(dir, 'nohome')), false);
  });

  test('NODE_OPTIONS cannot change what it does (execArgvExtension none)', async () => {
    const r = await run(exe, ['--version'], { NODE_OPTIONS: '--require /nonexistent/evil.js' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${STAMP}\n`);
  });

  test('update check and update download against a local mirror, no node on PATH', async () => {
    const home = (await makeHome(repo)).home;
    await addMirror(home, mirror.url);
    const check = await run(exe, ['--home', home, 'update', 'check', '--current', '0.9.0']);
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stdout, /Newest trusted version: 1\.0\.0 \(update available\)/);
    const dl = await run(exe, ['--home', home, '--json', ...downloadArgs('1.0.0', 'linux-x64')]);
    assert.equal(dl.status, 0, dl.stderr);
    const pkg = join(home, 'packages', 'dchat-1.0.0-linux-x64');
    assert.deepEqual(readFileSync(pkg), repo.packages.get('1.0.0')?.bytes);
    // The embedded addon and worker bundles were written under the home, nowhere else.
    const seaDirs = readdirSync(join(home, 'cache', 'sea'));
    assert.equal(seaDirs.length, 1);
    assert.ok(existsSync(join(home, 'cache', 'sea', seaDirs[0] as string, 'blake.node')));
  });

  test('a tampered extracted addon is replaced before it is loaded', async () => {
    const home = (await makeHome(repo)).home;
    await addMirror(home, mirror.url);
    assert.equal((await run(exe, ['--home', home, 'update', 'check'])).status, 0);
    const [id] = readdirSync(join(home, 'cache', 'sea'));
    const addon = join(home, 'cache', 'sea', id as string, 'blake.node');
    const good = readFileSync(addon);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(addon, Buffer.from('not an addon'));
    const dl = await run(exe, ['--home', home, ...downloadArgs('1.0.0', 'linux-x64')]);
    assert.equal(dl.status, 0, dl.stderr);
    assert.deepEqual(readFileSync(addon), good);
  });

  test('node start runs with no node on PATH, restarts in place with its malloc tuning, serves its dashboard from the executable, stops on SIGTERM', async () => {
    const home = join(dir, 'node-home');
    mkdirSync(home);
    const child: ChildProcess = spawn(
      exe,
      [
        '--home',
        home,
        'node',
        'start',
        '--json',
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--dashboard',
        '127.0.0.1:0',
      ],
      { env: { PATH: NO_NODE_PATH }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let err = '';
    child.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const started = await new Promise<{ peer_id: string; dashboard_url?: string }>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`no start record in 30 s: ${out}${err}`)), 30_000);
      child.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
        for (const line of out.split('\n')) {
          if (!line.includes('"started"')) continue;
          clearTimeout(t);
          resolve(JSON.parse(line));
        }
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}${err}`)));
    });
    assert.match(started.peer_id, /^12D3/);
    // It restarted in place (same pid) with node start's malloc settings, as the npm bin does.
    assert.match(readFileSync(`/proc/${child.pid}/environ`, 'utf8'), /(^|\0)MALLOC_MMAP_THRESHOLD_=65536\0/);
    const status = await run(exe, ['--home', home, '--json', 'node', 'status']);
    assert.equal(status.status, 0, status.stderr);
    // The dashboard's page and uPlot come out of the executable (SEA assets), byte for byte the
    // checkout's files, and its state document answers.
    const url = started.dashboard_url as string;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const files: [string, string][] = [
      ['', 'assets/dashboard/index.html'],
      ['dashboard.js', 'assets/dashboard/dashboard.js'],
      ['dashboard.css', 'assets/dashboard/dashboard.css'],
      ['uplot.js', 'node_modules/uplot/dist/uPlot.iife.min.js'],
      ['uplot.css', 'node_modules/uplot/dist/uPlot.min.css'],
    ];
    for (const [path, file] of files) {
      const r = await fetch(`${url}${path}`);
      assert.equal(r.status, 200, `/${path}`);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), readFileSync(join(REPO_ROOT, file)), `/${path}`);
    }
    const state = (await (await fetch(`${url}api/state`)).json()) as {
      format: string;
      nodes: { up: boolean }[];
    };
    assert.equal(state.format, 'dchat.dashboard/1');
    assert.equal(state.nodes[0]?.up, true);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, err);
  });

  test('a second build from another directory, umask and time zone is byte-identical', () => {
    const other = mkdtempSync(join(tmpdir(), 'dchat-sea-b-'));
    try {
      const out = join(other, 'dchat');
      const again = spawnSync(
        'sh',
        [
          '-c',
          `umask 077 && cd / && exec "$0" "$@"`,
          process.execPath,
          BINS.dchat,
          'release',
          'build',
          '--source',
          REPO_ROOT,
          '--out',
          out,
          '--version-stamp',
          STAMP,
          '--json',
        ],
        {
          encoding: 'utf8',
          env: { ...process.env, TZ: 'Pacific/Kiritimati' },
          timeout: 300_000,
        },
      );
      assert.equal(again.status, 0, again.stderr);
      assert.equal(JSON.parse(again.stdout).sha256, built.sha256);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  test('usage errors: not a checkout, another platform, a bad stamp (exit 2, flag named)', () => {
    for (const [args, flag] of [
      [['--source', dir], '--source'],
      [['--source', REPO_ROOT, '--platform', 'windows-x64'], '--platform'],
      [['--source', REPO_ROOT, '--version-stamp', 'one'], '--version-stamp'],
    ] as [string[], string][]) {
      const r = spawnSync(
        process.execPath,
        [BINS.dchat, 'release', 'build', ...args, '--out', join(dir, 'x')],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^error\\[E_USAGE\\]: ${flag}: `));
      assert.equal(existsSync(join(dir, 'x')), false);
    }
  });
});
