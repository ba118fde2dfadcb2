/**
 * The update layer's source registry and run health (src/update/): one source-kind vocabulary and
 * priority table decide transports and defaults; extra sources (a node's peers) join the mirrors;
 * placeholders of the shipped defaults are ignored on a `trust init` home; health is written once
 * per run and never materialises the defaults into a mirrors.toml that did not exist.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  DEFAULT_MIRROR_PRIORITY,
  defaultPriority,
  MIRROR_KINDS,
  parseSourceKind,
  SOURCE_KIND_INFO,
  SOURCE_KINDS,
} from '../../src/model/source-kind.ts';
import type { Source } from '../../src/sources/source.ts';
import { homePaths } from '../../src/store/home.ts';
import { DEFAULT_SETTINGS, defaultMirrors, loadMirrors, serializeMirrors } from '../../src/store/mirrors.ts';
import { writeTrustOrigin } from '../../src/store/trust-origin.ts';
import { RunHealth } from '../../src/update/health.ts';
import { engineSources, hasTransport, openRegistry } from '../../src/update/registry.ts';

const REPO = new URL('../../src/', import.meta.url);

/** Every file below `dir` (a directory URL ending in '/'), at any depth. */
function filesUnder(dir: URL): URL[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(new URL(`${e.name}/`, dir)) : [new URL(e.name, dir)],
  );
}

test('one vocabulary: the seed spelling, the flags and the priorities come from one table', () => {
  assert.deepEqual(
    SOURCE_KINDS.map((k) => [k, defaultPriority(k)]),
    [
      ['cache', 0],
      ['https', 10],
      ['ipfs', 20],
      ['peer', 30],
      ['bittorrent', 40],
      ['github', 50],
      ['fdroid', 50],
      ['gossip', 30],
    ],
  );
  assert.equal(DEFAULT_MIRROR_PRIORITY, 10);
  assert.deepEqual(MIRROR_KINDS, ['https', 'ipfs', 'bittorrent', 'github', 'fdroid']);
  for (const k of SOURCE_KINDS) {
    assert.equal(parseSourceKind(k.toUpperCase()), k);
    const seed = SOURCE_KIND_INFO[k].seed;
    if (seed) assert.equal(parseSourceKind(seed), k);
  }
  assert.equal(parseSourceKind('pigeon'), undefined);
  assert.ok(hasTransport('https') && hasTransport('ipfs'));
});

test('no other module spells a source priority or a kind list of its own', () => {
  const offenders: string[] = [];
  for (const url of filesUnder(REPO)) {
    if (!url.pathname.endsWith('.ts') || url.pathname.endsWith('model/source-kind.ts')) continue;
    const text = readFileSync(url, 'utf8');
    if (
      /priority: (10|20|30|40),|PRIORITY = \d+;|'cache' \| 'https' \||'HttpsMirror',\s*\n\s*'Ipfs'/.test(text)
    )
      offenders.push(url.pathname);
  }
  assert.deepEqual(offenders, []);
});

test('cli/ asks update/: it imports neither download/ nor sources/ (DESIGN.md layers)', () => {
  const bad: string[] = [];
  for (const url of filesUnder(new URL('cli/', REPO)))
    if (/from '(\.\.\/)+(download|sources)\//.test(readFileSync(url, 'utf8'))) bad.push(url.pathname);
  assert.deepEqual(bad, []);
});

const fakeSource = (type: Source['type'], id: string): Source => ({
  id,
  type,
  uri: `${type}://${id}`,
  fetchMetadata: async () => undefined,
  fetchChunkTable: async () => undefined,
  fetchRange: async () => new Uint8Array(),
});

test('registry: mirrors and extra sources together, --source narrows both; defaults ignored after trust init', async () => {
  const home = mkdtempSync(join(tmpdir(), 'dchat-reg-'));
  const paths = homePaths(home);
  const mine = {
    id: '11111111-1111-4111-8111-111111111111',
    source_type: 'HttpsMirror' as const,
    uri: 'https://127.0.0.1:9',
    priority: 5,
    failure_count: 0,
    origin: 'configured' as const,
  };
  writeFileSync(
    paths.mirrorsToml,
    serializeMirrors({ settings: DEFAULT_SETTINGS, mirrors: [...defaultMirrors(), mine] }),
  );
  const peer = fakeSource('peer', 'peer');
  // Public network (no trust origin): the defaults in the file are the operator's to keep.
  let reg = await openRegistry(paths, { now: 0, extra: [{ source: peer }] });
  assert.deepEqual(
    reg.live.map((l) => l.record.uri),
    ['https://127.0.0.1:9', 'https://releases.dchat.network'],
  );
  assert.deepEqual(
    engineSources(reg).map((s) => [s.source.type, s.priority]),
    [
      ['https', 5],
      ['https', 10],
      ['peer', 30],
    ],
  );
  assert.deepEqual(
    reg.skipped.map((s) => s.record.source_type),
    ['Ipfs', 'Gossip'],
  );
  await reg.close();
  // After trust init: the placeholders are not contacted.
  await writeTrustOrigin(paths, { origin: 'trust-init', at: new Date().toISOString() });
  reg = await openRegistry(paths, { now: 0, extra: [{ source: peer }] });
  assert.deepEqual(
    reg.live.map((l) => l.record.uri),
    ['https://127.0.0.1:9'],
  );
  assert.deepEqual(reg.skipped, []);
  await reg.close();
  reg = await openRegistry(paths, { now: 0, kind: 'peer', extra: [{ source: peer }] });
  assert.deepEqual(
    engineSources(reg).map((s) => s.source.type),
    ['peer'],
  );
  await reg.close();
});

test('run health: one write per run, merged per mirror; nothing written without a mirrors.toml', async () => {
  const home = mkdtempSync(join(tmpdir(), 'dchat-health-'));
  const paths = homePaths(home);
  const fresh = new RunHealth();
  fresh.add([{ id: defaultMirrors()[0]?.id as string, ok: false, error: 'E_NETWORK down' }]);
  assert.deepEqual(await fresh.commit(paths, new Date()), []);
  assert.ok(!existsSync(paths.mirrorsToml), 'the shipped defaults were not written out');

  const m = {
    id: '22222222-2222-4222-8222-222222222222',
    source_type: 'HttpsMirror' as const,
    uri: 'https://127.0.0.1:9',
    priority: 10,
    failure_count: 0,
    origin: 'configured' as const,
  };
  writeFileSync(
    paths.mirrorsToml,
    serializeMirrors({ settings: { ...DEFAULT_SETTINGS, prune_after_failures: 2 }, mirrors: [m] }),
  );
  const h = new RunHealth();
  // The refresh failed on it, then the download too: one failure for the run, not two.
  h.add([{ id: m.id, ok: false, error: 'E_NETWORK refused' }]);
  h.add([{ id: m.id, ok: false, error: 'E_NETWORK refused again', latencyMs: 3 }]);
  assert.deepEqual(h.merged(), [{ id: m.id, ok: false, latencyMs: 3, error: 'E_NETWORK refused again' }]);
  const first = h.commit(paths, new Date());
  assert.equal(h.commit(paths, new Date()), first, 'a second commit is the first one');
  assert.deepEqual(await first, []);
  assert.equal((await loadMirrors(paths)).mirrors[0]?.failure_count, 1);
});
