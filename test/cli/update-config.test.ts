import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runDchat } from '../download/fixture.ts';

const newHome = () => mkdtempSync(join(tmpdir(), 'dchat-cfg-'));

test('show-config: the seed output and defaults, before anything was configured', async () => {
  const home = newHome();
  const r = await runDchat(['--home', home, 'update', 'show-config']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      '⚙️  Auto-Update Configuration:',
      '',
      '  Enabled: false',
      '  Security patches only: true',
      '  Check interval: 24 hours',
      '  Auto-restart after update: false',
      '  Background download: true',
      '  Channel: stable',
      '  Pinned version: none',
      '  Installed versions kept: 3',
      '',
      '💡 Enable with: dchat update configure-auto-update --enabled true',
      '',
    ].join('\n'),
  );
  const j = await runDchat(['--home', home, '--json', 'update', 'show-config']);
  assert.deepEqual(JSON.parse(j.stdout), {
    enabled: false,
    security_only: true,
    check_interval_hours: 24,
    auto_restart: false,
    background_download: true,
    channel: 'stable',
    pin: null,
    keep_versions: 3,
  });
});

test('configure-auto-update stores the seed fields in packages/auto_update_config.json', async () => {
  const home = newHome();
  const r = await runDchat([
    '--home',
    home,
    'update',
    'configure-auto-update',
    '--enabled',
    'true',
    '--security-only',
    'false',
    '--check-interval',
    '12',
    '--auto-restart',
    'true',
    '--channel',
    'beta',
    '--keep-versions',
    '5',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /✅ Auto-update configuration saved/);
  const file = join(home, 'packages', 'auto_update_config.json');
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  assert.deepEqual(saved, {
    enabled: true,
    security_only: false,
    check_interval_hours: 12,
    auto_restart: true,
    background_download: true,
    channel: 'beta',
    pin: null,
    keep_versions: 5,
  });
  // A pin must name a trusted release (none here: nothing is trusted yet), and changes nothing.
  const untrusted = await runDchat(['--home', home, 'update', 'configure-auto-update', '--pin', '1.2.3']);
  assert.equal(untrusted.code, 2);
  assert.match(untrusted.stderr, /^error\[E_PIN_UNTRUSTED\]: --pin 1\.2\.3: not a trusted release/);
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).pin, null);
  // Later changes keep what they do not touch; `--pin none` unpins.
  const again = await runDchat([
    '--home',
    home,
    '--json',
    'update',
    'configure-auto-update',
    '--pin',
    'none',
  ]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).pin, null);
  assert.equal(JSON.parse(again.stdout).check_interval_hours, 12);
  const show = await runDchat(['--home', home, 'update', 'show-config']);
  assert.match(show.stdout, /Enabled: true\n/);
  assert.match(show.stdout, /Check interval: 12 hours/);
  assert.doesNotMatch(show.stdout, /Enable with/);
});

test('bad values exit 2 naming the flag and change nothing', async () => {
  const home = newHome();
  await runDchat(['--home', home, 'update', 'configure-auto-update', '--check-interval', '6']);
  const file = join(home, 'packages', 'auto_update_config.json');
  const before = readFileSync(file, 'utf8');
  const cases: [string[], string][] = [
    [['--enabled', 'maybe'], '--enabled'],
    [['--security-only', '2'], '--security-only'],
    [['--check-interval', '0'], '--check-interval'],
    [['--check-interval', 'daily'], '--check-interval'],
    [['--auto-restart', ''], '--auto-restart'],
    [['--background-download', 'nope'], '--background-download'],
    [['--channel', 'canary'], '--channel'],
    [['--pin', '1.x'], '--pin'],
    [['--keep-versions', '0'], '--keep-versions'],
    [['--enabled', 'true', '--check-interval', '100000'], '--check-interval'],
  ];
  for (const [args, flag] of cases) {
    const r = await runDchat(['--home', home, 'update', 'configure-auto-update', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^error\\[E_USAGE\\]: ${flag}:`), r.stderr);
    assert.equal(readFileSync(file, 'utf8'), before);
  }
  const j = await runDchat(['--home', home, '--json', 'update', 'configure-auto-update', '--channel', 'x']);
  assert.equal(JSON.parse(j.stdout).error.code, 'E_USAGE');
  // A damaged file is reported, not silently replaced.
  writeFileSync(file, '{"enabled": 1}');
  const bad = await runDchat(['--home', home, 'update', 'show-config']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /error\[E_CONFIG\]: .*auto_update_config\.json: enabled/);
});
