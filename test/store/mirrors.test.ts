import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DEFAULT_AUTO_UPDATE } from '../../src/model/auto-update.ts';
import { loadAutoUpdateConfig, saveAutoUpdateConfig } from '../../src/store/auto-update-config.ts';
import { homePaths } from '../../src/store/home.ts';
import {
  addMirror,
  DEFAULT_SETTINGS,
  defaultMirrors,
  loadMirrors,
  normalizeMirrorUri,
  parseMirrorsToml,
  removeMirror,
  saveMirrors,
  serializeMirrors,
} from '../../src/store/mirrors.ts';
import { writeTrustOrigin } from '../../src/store/trust-origin.ts';
import { assertCode } from '../helpers/repo.ts';

const home = () => homePaths(mkdtempSync(join(tmpdir(), 'dchat-mirrors-')));
const ids = () => {
  let n = 0;
  return () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
};

describe('mirrors.toml', () => {
  test('no file: the seed defaults on the public network, nothing for a trust-init home', async () => {
    const pub = home();
    const cfg = await loadMirrors(pub);
    assert.equal(cfg.fromFile, false);
    assert.deepEqual(
      cfg.mirrors.map((m) => [m.source_type, m.uri, m.priority]),
      [
        ['HttpsMirror', 'https://releases.dchat.network', 10],
        ['Ipfs', 'ipns://releases.dchat.network', 20],
        ['Gossip', 'gossip://', 30],
      ],
    );
    assert.deepEqual(cfg.settings, DEFAULT_SETTINGS);
    const priv = home();
    await writeTrustOrigin(priv, { origin: 'trust-init', at: new Date().toISOString() });
    assert.deepEqual((await loadMirrors(priv)).mirrors, []);
  });

  test('round trip through the file keeps every seed field and the measurements', async () => {
    const p = home();
    const mirrors = [
      ...defaultMirrors(),
      {
        id: '7d0b7a3e-2f1c-4a55-9e0d-3b1f2a4c5d6e',
        source_type: 'HttpsMirror' as const,
        uri: 'https://mirror.example.com/dchat',
        region: 'us-west',
        priority: 15,
        last_success: '2026-01-02T03:04:05Z',
        failure_count: 2,
        origin: 'configured' as const,
        latency_ms: 42,
        throughput_bps: 12_345_678,
      },
    ];
    const settings = { ...DEFAULT_SETTINGS, prune_after_failures: 3, region: 'us-west', limit_rate: '10M' };
    await saveMirrors(p, { settings, mirrors });
    const text = readFileSync(p.mirrorsToml, 'utf8');
    assert.match(text, /\[\[mirror\]\]/);
    assert.match(text, /source_type = "HttpsMirror"/);
    const back = await loadMirrors(p);
    assert.equal(back.fromFile, true);
    assert.deepEqual(back.mirrors, mirrors);
    assert.deepEqual(back.settings, settings);
  });

  test('hand-written TOML: unquoted datetimes, defaults for omitted settings', () => {
    const cfg = parseMirrorsToml(`
[[mirror]]
id = "7d0b7a3e-2f1c-4a55-9e0d-3b1f2a4c5d6e"
source_type = "HttpsMirror"
uri = "https://m.example/"
priority = 10
failure_count = 0
last_success = 2026-01-02T03:04:05Z
`);
    assert.equal(cfg.mirrors[0]?.last_success, '2026-01-02T03:04:05Z');
    assert.equal(cfg.mirrors[0]?.uri, 'https://m.example', 'trailing slash normalised');
    assert.equal(cfg.mirrors[0]?.origin, 'configured');
    assert.equal(cfg.settings.prune_after_failures, 5);
  });

  test('bad input is E_CONFIG naming the file, the entry and the field', async () => {
    const cases: [string, RegExp][] = [
      ['[[mirror]\nid=', /not valid TOML/],
      ['[settings]\nprune_after_failures = "many"', /settings\.prune_after_failures/],
      ['[settings]\nspeed = 3', /settings: unknown key\(s\) 'speed'/],
      ['[settings]\nlimit_rate = "fast"', /settings\.limit_rate: 'fast' is not a rate/],
      ['[mirrors]\nx = 1', /unknown table or key 'mirrors'/],
      [
        '[[mirror]]\nid = "7d0b7a3e-2f1c-4a55-9e0d-3b1f2a4c5d6e"\nsource_type = "HttpsMirror"\nuri = "https://m"\npriority = -1\nfailure_count = 0',
        /mirror 1\.priority/,
      ],
      [
        '[[mirror]]\nid = "7d0b7a3e-2f1c-4a55-9e0d-3b1f2a4c5d6e"\nsource_type = "HttpsMirror"\nuri = "http://m"\npriority = 1\nfailure_count = 0',
        /mirror 1: .*not a https: URL/,
      ],
      [
        '[[mirror]]\nid = "7d0b7a3e-2f1c-4a55-9e0d-3b1f2a4c5d6e"\nsource_type = "Carrier"\nuri = "https://m"\npriority = 1\nfailure_count = 0',
        /mirror 1\.source_type/,
      ],
      [
        '[[mirror]]\nid = "7d0b7a3e-2f1c-4a55-9e0d-3b1f2a4c5d6e"\nsource_type = "HttpsMirror"\nuri = "https://m"\npriority = 1\nfailure_count = 0\nprio = 2',
        /mirror 1: unknown key\(s\) 'prio'/,
      ],
    ];
    const p = home();
    for (const [text, re] of cases) {
      writeFileSync(p.mirrorsToml, text);
      const e = await assertCode(() => loadMirrors(p), 'E_CONFIG');
      assert.match(e.message, re, text);
      assert.ok(e.message.includes('mirrors.toml'), e.message);
    }
    const dup = serializeMirrors({
      settings: DEFAULT_SETTINGS,
      mirrors: [defaultMirrors()[0]!, defaultMirrors()[0]!],
    });
    writeFileSync(p.mirrorsToml, dup);
    await assertCode(() => loadMirrors(p), 'E_CONFIG');
  });

  test('add-mirror validates per type, updates an existing URL, remove-mirror by URL', async () => {
    const next = ids();
    let r = addMirror(
      [],
      { url: 'https://a.example/dchat/', mirrorType: 'https', region: 'eu', priority: 15 },
      next,
    );
    assert.equal(r.added, true);
    assert.deepEqual(
      { uri: r.record.uri, type: r.record.source_type, prio: r.record.priority, region: r.record.region },
      { uri: 'https://a.example/dchat', type: 'HttpsMirror', prio: 15, region: 'eu' },
    );
    r = addMirror(r.mirrors, { url: 'https://a.example/dchat', mirrorType: 'https', priority: 5 }, next);
    assert.equal(r.added, false);
    assert.equal(r.mirrors.length, 1);
    assert.equal(r.record.priority, 5);
    assert.equal(r.record.region, 'eu');
    r = addMirror(r.mirrors, { url: 'ipfs://QmExampleCID', mirrorType: 'ipfs' }, next);
    r = addMirror(
      r.mirrors,
      { url: 'magnet:?xt=urn:btih:abcdef0123456789&dn=dchat', mirrorType: 'bittorrent' },
      next,
    );
    assert.equal(r.mirrors.length, 3);
    assert.equal(r.record.priority, 10, 'default priority');

    const bad: [Parameters<typeof addMirror>[1], string][] = [
      [{ url: 'http://a.example', mirrorType: 'https' }, '--url'],
      [{ url: 'not a url', mirrorType: 'https' }, '--url'],
      [{ url: 'https://a.example', mirrorType: 'carrier-pigeon' }, '--mirror-type'],
      [{ url: 'magnet:?dn=x', mirrorType: 'bittorrent' }, '--url'],
      [{ url: 'https://user:pw@a.example', mirrorType: 'https' }, '--url'],
      [{ url: 'https://b.example', mirrorType: 'https', region: 'us west!' }, '--region'],
    ];
    for (const [input, flag] of bad) {
      const e = await assertCode(() => addMirror(r.mirrors, input, next), 'E_USAGE');
      assert.ok(e.message.startsWith(`${flag}:`), e.message);
    }
    const rm = removeMirror(r.mirrors, 'https://a.example/dchat/');
    assert.equal(rm.removed.uri, 'https://a.example/dchat');
    assert.equal(rm.mirrors.length, 2);
    await assertCode(() => removeMirror(rm.mirrors, 'https://nope.example'), 'E_USAGE');
    assert.equal(normalizeMirrorUri('Gossip', 'gossip://'), 'gossip://');
  });
});

describe('auto_update_config.json', () => {
  test('seed defaults when absent; saved atomically; bad content is E_CONFIG', async () => {
    const p = home();
    const first = await loadAutoUpdateConfig(p);
    assert.equal(first.fromFile, false);
    assert.deepEqual(first.config, {
      enabled: false,
      security_only: true,
      check_interval_hours: 24,
      auto_restart: false,
      background_download: true,
      channel: 'stable',
      pin: null,
      keep_versions: 3,
    });
    await saveAutoUpdateConfig(p, { ...DEFAULT_AUTO_UPDATE, enabled: true, check_interval_hours: 12 });
    assert.equal(JSON.parse(readFileSync(p.autoUpdateConfig, 'utf8')).check_interval_hours, 12);
    assert.equal((await loadAutoUpdateConfig(p)).config.enabled, true);
    writeFileSync(p.autoUpdateConfig, '{"enabled": "yes"}');
    const e = await assertCode(() => loadAutoUpdateConfig(p), 'E_CONFIG');
    assert.match(e.message, /auto_update_config\.json: enabled/);
    writeFileSync(p.autoUpdateConfig, '{not json');
    await assertCode(() => loadAutoUpdateConfig(p), 'E_CONFIG');
  });
});
