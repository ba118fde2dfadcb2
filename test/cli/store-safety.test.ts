/**
 * The home's state under concurrent commands, and the CLI's file flags under hostile files, as an
 * operator meets them (real processes):
 *  - 20 concurrent `add-mirror` keep all 20; `remove-mirror` beside `add-mirror` resurrects
 *    nothing; two concurrent `configure-auto-update` both land (one writer per kind of state);
 *  - /dev/zero and a 2 GB sparse file given to every file flag: a coded error within a second of
 *    CPU time (the whole process, start-up included; wall time is only bounded loosely, the test
 *    machine being shared) and under 100 MB of memory (regular files only, capped reads);
 *  - error lines escape what they echo (no forged second `error[...]` line, no raw ESC);
 *  - unknown keys in both configuration files are E_CONFIG naming the key;
 *  - a private key readable by others is refused unless --allow-insecure-key-permissions.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadAutoUpdateConfig } from '../../src/store/auto-update-config.ts';
import { homePaths } from '../../src/store/home.ts';
import { addMirror, loadMirrors, updateMirrors } from '../../src/store/mirrors.ts';
import { writeTrustOrigin } from '../../src/store/trust-origin.ts';
import { type CliResult, REPO_ROOT, runBin, runInProcess, runProcess } from '../helpers/cli.ts';
import { makeTempDir, packageBytes } from '../helpers/repo.ts';

const DIST = {
  dchat: join(REPO_ROOT, 'dist', 'cli', 'dchat.js'),
  'dchat-sign': join(REPO_ROOT, 'dist', 'cli', 'dchat-sign.js'),
};
const USAGE = fileURLToPath(new URL('../fixtures/report-usage.ts', import.meta.url));

let dir: { path: string; cleanup(): Promise<void> };
before(async () => {
  dir = await makeTempDir('dchat-store-safety-');
});
after(() => dir.cleanup());

let homes = 0;
/** A home whose root came from `trust init` (no default mirrors). */
async function privateHome(): Promise<string> {
  const home = join(dir.path, `home-${++homes}`);
  mkdirSync(home, { recursive: true });
  await writeTrustOrigin(homePaths(home), { origin: 'trust-init', at: new Date().toISOString() });
  return home;
}

const url = (i: number | string) => `https://m${i}.example.com/dchat`;

describe('one writer per kind of state', () => {
  test('20 concurrent add-mirror calls: all exit 0 and all 20 mirrors are kept', async () => {
    const home = await privateHome();
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        runBin('dchat', ['--home', home, 'update', 'add-mirror', '--url', url(i), '--mirror-type', 'https'], {
          timeoutMs: 120_000,
        }),
      ),
    );
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const kept = (await loadMirrors(homePaths(home))).mirrors.map((m) => m.uri).sort();
    assert.deepEqual(kept, Array.from({ length: 20 }, (_, i) => url(i)).sort());
  });

  test('remove-mirror beside add-mirror: the removed one never comes back, the added one stays (10 rounds)', async () => {
    for (let round = 0; round < 10; round++) {
      const home = await privateHome();
      await updateMirrors(homePaths(home), (cfg) => {
        const a = addMirror(cfg.mirrors, { url: url('a'), mirrorType: 'https' });
        return {
          settings: cfg.settings,
          mirrors: addMirror(a.mirrors, { url: url('b'), mirrorType: 'https' }).mirrors,
        };
      });
      const [rm, add] = await Promise.all([
        runBin('dchat', ['--home', home, 'update', 'remove-mirror', '--url', url('a')]),
        runBin('dchat', [
          '--home',
          home,
          'update',
          'add-mirror',
          '--url',
          url('c'),
          '--mirror-type',
          'https',
        ]),
      ]);
      assert.equal(rm.code, 0, rm.stderr);
      assert.equal(add.code, 0, add.stderr);
      const kept = (await loadMirrors(homePaths(home))).mirrors.map((m) => m.uri).sort();
      assert.deepEqual(kept, [url('b'), url('c')], `round ${round}`);
    }
  });

  test('two concurrent configure-auto-update calls both land (8 rounds)', async () => {
    for (let round = 0; round < 8; round++) {
      const home = await privateHome();
      const [a, b] = await Promise.all([
        runBin('dchat', ['--home', home, 'update', 'configure-auto-update', '--check-interval', '12']),
        runBin('dchat', ['--home', home, 'update', 'configure-auto-update', '--auto-restart', 'true']),
      ]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const { config } = await loadAutoUpdateConfig(homePaths(home));
      assert.equal(config.check_interval_hours, 12, `round ${round}`);
      assert.equal(config.auto_restart, true, `round ${round}`);
    }
  });
});

/** Runs a built bin with the usage reporter preloaded; returns the result and its time and memory. */
function runMeasured(
  bin: keyof typeof DIST,
  args: readonly string[],
  cwd: string,
): Promise<CliResult & { ms: number; cpuMs: number; maxRssKb: number }> {
  return runProcess(process.execPath, ['--import', USAGE, DIST[bin], ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: cwd },
    timeoutMs: 20_000,
  }).then(({ code, signal, stdout, stderr }) => {
    const m = /\nUSAGE (\{.*\})\n/.exec(stderr);
    if (!m) throw new Error(`no usage line (exit ${code}, ${signal}):\n${stderr}`);
    const usage = JSON.parse(m[1]!) as { ms: number; cpuMs: number; maxRssKb: number };
    return { code, signal, stdout, stderr: stderr.replace(m[0], ''), ...usage };
  });
}

describe('file flags read only regular files, capped', () => {
  let work: string;
  const bad: Record<string, string> = {};
  before(async () => {
    work = join(dir.path, 'flags');
    mkdirSync(work, { recursive: true });
    const ok = async (r: Promise<CliResult>) => {
      const x = await r;
      assert.equal(x.code, 0, x.stderr);
    };
    await ok(runInProcess('dchat-sign', ['keygen', '--out', 'k.key'], { cwd: work }));
    await ok(runInProcess('dchat', ['release', 'init', '--out', 'repo', '--key', 'k.key'], { cwd: work }));
    writeFileSync(join(work, 'dchat-1.0.0-linux-x64'), packageBytes('flags', 4096));
    writeFileSync(join(work, 'some.pem'), '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
    bad['/dev/zero'] = '/dev/zero';
    bad['a 2 GB sparse file'] = join(work, 'sparse-2g');
    writeFileSync(bad['a 2 GB sparse file']!, '');
    truncateSync(bad['a 2 GB sparse file']!, 2 * 1024 ** 3);
  });

  const cases: { flag: string; bin: keyof typeof DIST; args: (f: string) => string[] }[] = [
    { flag: 'trust init --root', bin: 'dchat', args: (f) => ['--home', 'h', 'trust', 'init', '--root', f] },
    { flag: 'release init --key', bin: 'dchat', args: (f) => ['release', 'init', '--out', 'r2', '--key', f] },
    {
      flag: 'release rotate-keys --new-key',
      bin: 'dchat',
      args: (f) => ['release', 'rotate-keys', '--out', 'repo', '--key', 'k.key', '--new-key', f],
    },
    {
      flag: 'release refresh --key',
      bin: 'dchat',
      args: (f) => ['release', 'refresh', '--out', 'repo', '--key', f],
    },
    {
      flag: 'release publish --sig',
      bin: 'dchat',
      args: (f) => [
        'release',
        'publish',
        '--out',
        'repo',
        '--key',
        'k.key',
        '--package',
        'dchat-1.0.0-linux-x64',
        '--version',
        '1.0.0',
        '--platform',
        'linux-x64',
        '--sig',
        f,
      ],
    },
    {
      flag: 'dchat-sign --key',
      bin: 'dchat-sign',
      args: (f) => ['--key', f, '--input', 'dchat-1.0.0-linux-x64', '--output', 'x.sig'],
    },
    {
      flag: 'mirror serve --tls-cert',
      bin: 'dchat',
      args: (f) => [
        'mirror',
        'serve',
        '--dir',
        'repo',
        '--listen',
        '127.0.0.1:0',
        '--tls-cert',
        f,
        '--tls-key',
        'some.pem',
      ],
    },
    {
      flag: 'mirror serve --tls-key',
      bin: 'dchat',
      args: (f) => [
        'mirror',
        'serve',
        '--dir',
        'repo',
        '--listen',
        '127.0.0.1:0',
        '--tls-cert',
        'some.pem',
        '--tls-key',
        f,
      ],
    },
  ];

  for (const c of cases) {
    test(`${c.flag}: /dev/zero and a 2 GB file are coded errors within a second, under 100 MB`, async () => {
      for (const [what, file] of Object.entries(bad)) {
        const r = await runMeasured(c.bin, c.args(file), work);
        const where = `${c.flag} ${what}: exit ${r.code}, ${r.ms} ms (${r.cpuMs} ms CPU), ${r.maxRssKb} KiB\n${r.stderr}`;
        assert.notEqual(r.code, 0, where);
        assert.match(r.stderr, /^error\[E_(USAGE|TOO_LARGE)\]: /m, where);
        assert.equal(r.stderr.match(/^error\[/gm)?.length, 1, where);
        if (file === '/dev/zero') assert.match(r.stderr, /not a regular file \(a character device\)/, where);
        else assert.match(r.stderr, /2147483648 bytes, more than/, where);
        assert.ok(r.cpuMs < 1000, where);
        assert.ok(r.ms < 10_000, where);
        assert.ok(r.maxRssKb < 100 * 1024, where);
      }
    });
  }

  test('a private key readable by others is refused (E_USAGE naming the flag), unless overridden', async () => {
    await runInProcess('dchat-sign', ['keygen', '--out', 'loose.key'], { cwd: work });
    chmodSync(join(work, 'loose.key'), 0o644);
    const args = ['--key', 'loose.key', '--input', 'dchat-1.0.0-linux-x64', '--output', 'loose.sig'];
    const r = await runInProcess('dchat-sign', args, { cwd: work });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^error\[E_USAGE\]: --key: .*loose\.key is readable by others \(mode 0644\); run `chmod 600/m,
    );
    const rel = await runInProcess('dchat', ['release', 'refresh', '--out', 'repo', '--key', 'loose.key'], {
      cwd: work,
    });
    assert.equal(rel.code, 2, rel.stderr);
    assert.match(rel.stderr, /readable by others/);
    const forced = await runInProcess('dchat-sign', [...args, '--allow-insecure-key-permissions'], {
      cwd: work,
    });
    assert.equal(forced.code, 0, forced.stderr);
  });
});

describe('error lines and configuration files', () => {
  test('echoed input cannot forge a second error line nor pass terminal escapes', async () => {
    const home = await privateHome();
    const r = await runBin('dchat', [
      '--home',
      home,
      'trust',
      'init',
      '--root',
      'nope\nerror[E_FORGED]: \u001b[31mred\r',
    ]);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^error\[E_USAGE\]: --root: .*nope\\nerror\[E_FORGED\]: \\x1b\[31mred\\r/);
    assert.ok(!r.stderr.includes('\u001b'), 'no raw ESC on the terminal');
  });

  test('unknown keys are E_CONFIG naming the key, in auto_update_config.json and in mirrors.toml', async () => {
    const home = await privateHome();
    const p = homePaths(home);
    mkdirSync(p.packagesDir, { recursive: true });
    writeFileSync(p.autoUpdateConfig, '{"enabled": true, "check_intervall_hours": 6}\n');
    const a = await runBin('dchat', ['--home', home, 'update', 'show-config']);
    assert.equal(a.code, 2, a.stderr);
    assert.match(
      a.stderr,
      /^error\[E_CONFIG\]: .*auto_update_config\.json: .*unknown key\(s\) 'check_intervall_hours'/m,
    );
    writeFileSync(p.mirrorsToml, '[settings]\nparalel_sources = 2\n');
    const m = await runBin('dchat', ['--home', home, 'update', 'list-mirrors']);
    assert.equal(m.code, 2, m.stderr);
    assert.match(
      m.stderr,
      /^error\[E_CONFIG\]: .*mirrors\.toml: settings: unknown key\(s\) 'paralel_sources'/m,
    );
  });
});
