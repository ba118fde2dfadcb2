/**
 * mirrors.toml is the operator's file: edits keep their comments and formatting (store/
 * mirrors-toml-edit.ts), and it holds configuration only: what downloads measure goes to
 * state/mirror-health.json, so recording health never rewrites it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { homePaths } from '../../src/store/home.ts';
import {
  addMirror,
  loadMirrors,
  parseMirrorsToml,
  removeMirror,
  updateMirrors,
} from '../../src/store/mirrors.ts';
import { renderMirrorsToml } from '../../src/store/mirrors-toml-edit.ts';

const home = () => homePaths(mkdtempSync(join(tmpdir(), 'dchat-mirrors-comments-')));

const HAND_WRITTEN = `# Our mirrors. Ask ops@ before changing.

# Downloads: keep it gentle on the office link.
[settings]
limit_rate = "10M" # office hours
parallel_sources = 2

# The main mirror, run by us.
[[mirror]]
id = "11111111-1111-4111-8111-111111111111"
source_type = "HttpsMirror"
uri = "https://a.example.com"
priority = 10
# (the priority above is on purpose)

# Backup at the university: slow but always up.
[[mirror]]
id = "22222222-2222-4222-8222-222222222222"
source_type = "HttpsMirror"
uri = "https://b.example.com"
priority = 20
`;

describe("mirrors.toml keeps its owner's comments", () => {
  test('add, change and remove edit only their own entry; every other line stays as written', async () => {
    const p = home();
    writeFileSync(p.mirrorsToml, HAND_WRITTEN);
    await updateMirrors(p, (cfg) => ({
      settings: cfg.settings,
      mirrors: addMirror(cfg.mirrors, { url: 'https://c.example.com', mirrorType: 'https' }).mirrors,
    }));
    const added = readFileSync(p.mirrorsToml, 'utf8');
    assert.ok(added.startsWith(HAND_WRITTEN.trimEnd()), added);
    assert.match(added, /uri = "https:\/\/c\.example\.com"/);

    // Priority of b changes: its comment stays above it, a's block is byte for byte the same.
    await updateMirrors(p, (cfg) => ({
      settings: cfg.settings,
      mirrors: addMirror(cfg.mirrors, { url: 'https://b.example.com', mirrorType: 'https', priority: 5 })
        .mirrors,
    }));
    const changed = readFileSync(p.mirrorsToml, 'utf8');
    assert.match(
      changed,
      /# Backup at the university: slow but always up\.\n\[\[mirror\]\]\n(.*\n)*priority = 5/,
    );
    assert.ok(changed.includes('# The main mirror, run by us.\n[[mirror]]\nid = "11111111'), changed);
    assert.ok(changed.includes('limit_rate = "10M" # office hours'), changed);
    assert.ok(changed.includes('# (the priority above is on purpose)'), changed);

    // Remove a: its block and its own comments go, the rest stays.
    await updateMirrors(p, (cfg) => ({
      settings: cfg.settings,
      mirrors: removeMirror(cfg.mirrors, 'https://a.example.com').mirrors,
    }));
    const removed = readFileSync(p.mirrorsToml, 'utf8');
    assert.doesNotMatch(removed, /a\.example\.com|The main mirror|on purpose/);
    for (const kept of [
      '# Our mirrors. Ask ops@',
      '# Downloads: keep it gentle',
      'limit_rate = "10M" # office hours',
      '# Backup at the university',
    ])
      assert.ok(removed.includes(kept), `${kept} lost:\n${removed}`);
    assert.deepEqual(
      (await loadMirrors(p)).mirrors.map((m) => [m.uri, m.priority]),
      [
        ['https://b.example.com', 5],
        ['https://c.example.com', 10],
      ],
    );
  });

  test('recording health writes the state file and leaves mirrors.toml untouched', async () => {
    const p = home();
    writeFileSync(p.mirrorsToml, HAND_WRITTEN);
    await updateMirrors(p, (cfg) => ({
      settings: cfg.settings,
      mirrors: cfg.mirrors.map((m) => ({
        ...m,
        last_success: '2026-12-01T00:00:00Z',
        failure_count: 0,
        latency_ms: 12,
      })),
    }));
    assert.equal(readFileSync(p.mirrorsToml, 'utf8'), HAND_WRITTEN);
    const health = JSON.parse(readFileSync(p.mirrorHealth, 'utf8'));
    assert.equal(health.mirrors['11111111-1111-4111-8111-111111111111'].latency_ms, 12);
    const back = await loadMirrors(p);
    assert.equal(back.mirrors[1]?.last_success, '2026-12-01T00:00:00Z');
    // A file written by an older version, with health inside, still loads; the state file wins.
    writeFileSync(
      p.mirrorsToml,
      HAND_WRITTEN.replace('priority = 20\n', 'priority = 20\nfailure_count = 3\nlatency_ms = 99\n'),
    );
    assert.equal((await loadMirrors(p)).mirrors[1]?.latency_ms, 12);
  });

  test('property: any sequence of edits parses back to the intended configuration, surviving comments kept', () => {
    const base = parseMirrorsToml(HAND_WRITTEN);
    const parse = (t: string) => parseMirrorsToml(t);
    const edit = fc.oneof(
      fc.record({
        op: fc.constant('add' as const),
        n: fc.integer({ min: 0, max: 5 }),
        priority: fc.integer({ min: 0, max: 99 }),
      }),
      fc.record({ op: fc.constant('remove' as const), n: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ op: fc.constant('rate' as const), rate: fc.constantFrom('1M', '10M', 0) }),
    );
    fc.assert(
      fc.property(fc.array(edit, { maxLength: 8 }), (edits) => {
        let text = HAND_WRITTEN;
        let cfg = base;
        for (const e of edits) {
          let next = cfg;
          if (e.op === 'add')
            next = {
              ...cfg,
              mirrors: addMirror(cfg.mirrors, {
                url: `https://n${e.n}.example.com`,
                mirrorType: 'https',
                priority: e.priority,
              }).mirrors,
            };
          else if (e.op === 'remove' && cfg.mirrors.length > 0)
            next = { ...cfg, mirrors: cfg.mirrors.filter((_, i) => i !== e.n % cfg.mirrors.length) };
          else if (e.op === 'rate') next = { ...cfg, settings: { ...cfg.settings, limit_rate: e.rate } };
          text = renderMirrorsToml(next, { text, cfg }, parse);
          const back = parse(text);
          assert.deepEqual(
            back.mirrors.map((m) => [m.id, m.uri, m.priority]),
            next.mirrors.map((m) => [m.id, m.uri, m.priority]),
          );
          assert.deepEqual(back.settings, next.settings);
          cfg = back;
        }
        assert.ok(text.includes('# Our mirrors. Ask ops@ before changing.'));
        if (cfg.mirrors.some((m) => m.uri === 'https://b.example.com'))
          assert.ok(text.includes('# Backup at the university: slow but always up.'));
      }),
      { numRuns: 200 },
    );
  });
});
