/**
 * Mirrors learned from peers in mirrors.toml: origin 'learned', capped, ranked below every mirror
 * the operator has, and never able to make the file unreadable.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { DownloadSource } from '../../src/model/download-source.ts';
import { LIMITS } from '../../src/model/limits.ts';
import { homePaths } from '../../src/store/home.ts';
import {
  MAX_LEARNED_MIRRORS,
  mergeLearnedMirrors,
  persistLearnedMirrors,
} from '../../src/store/learned-mirrors.ts';
import {
  addMirror,
  DEFAULT_SETTINGS,
  loadMirrors,
  type MirrorRecord,
  saveMirrors,
} from '../../src/store/mirrors.ts';
import { writeTrustOrigin } from '../../src/store/trust-origin.ts';
import { assertCode } from '../helpers/repo.ts';

const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

const learned = (n: number, over: Partial<DownloadSource> = {}): DownloadSource => ({
  id: uuid(1000 + n),
  source_type: 'HttpsMirror',
  uri: `https://m${n}.example.org/dchat`,
  priority: 1010,
  failure_count: 0,
  origin: 'learned',
  ...over,
});

const operator = (): MirrorRecord[] =>
  addMirror([], { url: 'https://own.example.org/r', mirrorType: 'https', priority: 5000 }, () => uuid(1))
    .mirrors;

const privateHome = async () => {
  const paths = homePaths(mkdtempSync(join(tmpdir(), 'dchat-learned-')));
  await writeTrustOrigin(paths, { origin: 'trust-init', at: new Date().toISOString() });
  return paths;
};

describe('learned mirrors in mirrors.toml', () => {
  test('ranked below every configured mirror, whatever priority the peer claimed', () => {
    const out = mergeLearnedMirrors(operator(), [learned(1, { priority: 0 }), learned(2)]);
    const own = out.find((m) => m.origin === 'configured') as MirrorRecord;
    const got = out.filter((m) => m.origin === 'learned');
    assert.equal(got.length, 2);
    for (const m of got) assert.ok(m.priority > own.priority, `${m.uri} ${m.priority}`);
  });

  test("what cannot be a mirror record is left out; the operator's URIs and ids are never taken", () => {
    const out = mergeLearnedMirrors(
      operator(),
      [
        learned(1, { uri: 'https://m1.example.org/dchat?token=x' }), // query: not a mirror URL
        learned(2, { uri: 'https://own.example.org/r/' }), // the operator's mirror, spelled otherwise
        learned(3, { id: uuid(1) }), // the operator's id
        learned(4, { origin: 'configured' }), // not learned
        learned(5, { source_type: 'Gossip' }), // https URI is no gossip source
      ],
      MAX_LEARNED_MIRRORS,
      () => uuid(99),
    );
    const got = out.filter((m) => m.origin === 'learned');
    assert.deepEqual(
      got.map((m) => [m.uri, m.id]),
      [['https://m3.example.org/dchat', uuid(99)]],
    );
    assert.equal(out.filter((m) => m.uri === 'https://own.example.org/r').length, 1);
  });

  test('capped: at most MAX_LEARNED_MIRRORS, current ones first, and never past the file cap', () => {
    const many = Array.from({ length: 50 }, (_, i) => learned(i));
    assert.equal(mergeLearnedMirrors([], many).length, MAX_LEARNED_MIRRORS);
    const earlier = mergeLearnedMirrors([], [learned(100)]);
    const now = mergeLearnedMirrors(earlier, many.slice(0, MAX_LEARNED_MIRRORS));
    assert.ok(!now.some((m) => m.uri === learned(100).uri), 'the old one made room for current ones');
    const full = Array.from(
      { length: LIMITS.maxMirrors - 1 },
      (_, i) =>
        addMirror([], { url: `https://o${i}.example.org`, mirrorType: 'https' }, () => uuid(2000 + i)).record,
    );
    assert.equal(mergeLearnedMirrors(full, many).length, LIMITS.maxMirrors);
  });

  test('saved beside the configured mirrors; measurements kept; no rewrite when nothing changed', async () => {
    const paths = await privateHome();
    await saveMirrors(paths, { settings: DEFAULT_SETTINGS, mirrors: operator() });
    assert.equal(await persistLearnedMirrors(paths, [learned(1), learned(2)]), true);
    let cfg = await loadMirrors(paths);
    assert.deepEqual(
      cfg.mirrors.map((m) => m.origin),
      ['configured', 'learned', 'learned'],
    );
    // A download measured learned mirror 1; the node, restarted, knows only mirror 3 now.
    cfg.mirrors[1] = { ...(cfg.mirrors[1] as MirrorRecord), latency_ms: 42, failure_count: 1 };
    await saveMirrors(paths, cfg);
    assert.equal(await persistLearnedMirrors(paths, [learned(3), learned(1)]), true);
    cfg = await loadMirrors(paths);
    const m1 = cfg.mirrors.find((m) => m.uri === learned(1).uri);
    assert.equal(m1?.latency_ms, 42);
    assert.equal(m1?.failure_count, 1);
    assert.ok(
      cfg.mirrors.some((m) => m.uri === learned(2).uri),
      'earlier ones are kept while there is room',
    );
    const text = readFileSync(paths.mirrorsToml, 'utf8');
    assert.equal(await persistLearnedMirrors(paths, [learned(3), learned(1)]), false);
    assert.equal(readFileSync(paths.mirrorsToml, 'utf8'), text);
  });

  test('a mirrors.toml its owner broke is left alone (E_CONFIG); a home with nothing learned gets no file', async () => {
    const paths = await privateHome();
    assert.equal(await persistLearnedMirrors(paths, []), false);
    assert.throws(() => readFileSync(paths.mirrorsToml));
    writeFileSync(paths.mirrorsToml, 'this is = = not toml');
    await assertCode(() => persistLearnedMirrors(paths, [learned(1)]), 'E_CONFIG');
    assert.equal(readFileSync(paths.mirrorsToml, 'utf8'), 'this is = = not toml');
  });
});
