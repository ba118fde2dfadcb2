/**
 * $DCHAT_HOME/mirrors.toml: where releases may be fetched from, configuration only. Each
 * `[[mirror]]` is a seed DownloadSource (id, source_type, uri, region, priority); what downloads
 * measure (last_success, failure_count, latency_ms, throughput_bps) is state, kept in
 * state/mirror-health.json (store/mirror-health.ts) and merged in on load; `[settings]` holds the
 * download tunables. Edits keep the operator's comments (store/mirrors-toml-edit.ts), are written
 * atomically, and run under the home's mirrors lock (`updateMirrors`). A missing file means the
 * defaults: the seed's three sources for a home on the public network, none for a home whose root
 * came from `trust init` (spec/CLI.md). Bad input is E_CONFIG naming the file, the entry and the
 * field.
 */

import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { parse, TomlError } from 'smol-toml';
import { z } from 'zod';
import { DchatError, UsageError } from '../errors.ts';
import { DownloadSourceSchema } from '../model/download-source.ts';
import { LIMITS } from '../model/limits.ts';
import { isAllowedMirrorUrl } from '../model/loopback.ts';
import { parseRate } from '../model/rate.ts';
import {
  DEFAULT_MIRROR_PRIORITY,
  defaultPriority,
  MIRROR_KINDS,
  parseSourceKind,
  type SeedSourceType,
  SOURCE_KIND_INFO,
} from '../model/source-kind.ts';
import { writeFileAtomic } from './atomic.ts';
import type { HomePaths } from './home.ts';
import { type LockOptions, withHomeLock } from './lock.ts';
import { healthOf, loadMirrorHealth, saveMirrorHealth, withHealth } from './mirror-health.ts';
import { renderMirrorsToml } from './mirrors-toml-edit.ts';
import { readCappedIfExists } from './read-capped.ts';
import { usesPublicNetwork } from './trust-origin.ts';

export const MirrorRecordSchema = z.strictObject({
  ...DownloadSourceSchema.shape,
  /** State (state/mirror-health.json); accepted here from files older versions wrote. */
  failure_count: DownloadSourceSchema.shape.failure_count.default(0),
  /** Measured: moving average of the time to first byte, ms. */
  latency_ms: z.number().int().nonnegative().max(3_600_000).optional(),
  /** Measured: moving average of the transfer rate, bytes/s. */
  throughput_bps: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
});
export type MirrorRecord = z.infer<typeof MirrorRecordSchema>;

const rate = z.union([z.number().int().nonnegative(), z.string().max(32)]);

export const MirrorSettingsSchema = z.strictObject({
  /** A mirror failing this many times in a row is removed (0: never). */
  prune_after_failures: z.number().int().min(0).max(10_000).default(5),
  /** Mirrors in this region are preferred within their priority. */
  region: z.string().max(64).optional(),
  /** Bandwidth limit for downloads, bytes/s or "10M" (binary units: 10 MiB/s, model/rate.ts; 0: none). */
  limit_rate: rate.default(0),
  /** Slow-retrieval guard: a source below this rate over `slow_window_secs` is dropped. */
  min_rate: rate.default(4096),
  slow_window_secs: z.number().int().min(1).max(3600).default(20),
  /** Sources fetched from at the same time. */
  parallel_sources: z.number().int().min(1).max(16).default(3),
});
export type MirrorSettings = z.infer<typeof MirrorSettingsSchema>;

export const DEFAULT_SETTINGS: MirrorSettings = MirrorSettingsSchema.parse({});

export interface MirrorConfig {
  settings: MirrorSettings;
  mirrors: MirrorRecord[];
  /** False when nothing was read from disk (defaults in use). */
  fromFile: boolean;
}

/** The seed's default sources (`dchat update list-mirrors` on the public network). */
export function defaultMirrors(): MirrorRecord[] {
  return [
    {
      id: '6f1c3a52-8d4e-4b7a-9f2e-1a5d3c7b9e01',
      source_type: 'HttpsMirror',
      uri: 'https://releases.dchat.network',
      priority: defaultPriority('https'),
      failure_count: 0,
      origin: 'default',
    },
    {
      id: 'b2e4d6f8-1a3c-4e5f-8a7b-9c0d1e2f3a40',
      source_type: 'Ipfs',
      uri: 'ipns://releases.dchat.network',
      priority: defaultPriority('ipfs'),
      failure_count: 0,
      origin: 'default',
    },
    {
      id: 'c3f5a7b9-2b4d-4f6a-9b8c-0d1e2f3a4b51',
      source_type: 'Gossip',
      uri: 'gossip://',
      priority: defaultPriority('gossip'),
      failure_count: 0,
      origin: 'default',
    },
  ];
}

/** How list-mirrors names a source (the seed prints "Gossip discovery" for the gossip source). */
export function displayName(m: Pick<MirrorRecord, 'source_type' | 'uri'>): string {
  return m.source_type === 'Gossip' ? 'Gossip discovery' : m.uri;
}

export async function loadMirrors(paths: HomePaths): Promise<MirrorConfig> {
  return (await readMirrorsFile(paths)).cfg;
}

interface MirrorsFile {
  /** The configuration with each mirror's health from the state file. */
  cfg: MirrorConfig;
  /** The file as written, when there is one (edits keep its comments). */
  old?: { text: string; cfg: Omit<MirrorConfig, 'fromFile'> };
}

async function readMirrorsFile(paths: HomePaths): Promise<MirrorsFile> {
  const bytes = await readConfigFile(paths.mirrorsToml);
  const health = await loadMirrorHealth(paths);
  const measured = (ms: readonly MirrorRecord[]) => ms.map((m) => withHealth(m, health.get(m.id)));
  if (bytes === undefined) {
    const mirrors = (await usesPublicNetwork(paths)) ? defaultMirrors() : [];
    return { cfg: { settings: { ...DEFAULT_SETTINGS }, mirrors: measured(mirrors), fromFile: false } };
  }
  const text = bytes.toString('utf8');
  const parsed = parseMirrorsToml(text, paths.mirrorsToml);
  return {
    cfg: { settings: parsed.settings, mirrors: measured(parsed.mirrors), fromFile: true },
    old: { text, cfg: parsed },
  };
}

/** Parses the text of a mirrors.toml; every problem is E_CONFIG naming `file` and the field. */
export function parseMirrorsToml(text: string, file = 'mirrors.toml'): Omit<MirrorConfig, 'fromFile'> {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    const where = err instanceof TomlError ? ` line ${err.line}, column ${err.column}` : '';
    throw new DchatError(
      'E_CONFIG',
      `${file}${where}: not valid TOML: ${(err as Error).message.split('\n')[0]}`,
      { cause: err },
    );
  }
  for (const key of Object.keys(doc)) {
    if (key !== 'settings' && key !== 'mirror')
      throw new DchatError(
        'E_CONFIG',
        `${file}: unknown table or key '${key}' (expected [settings], [[mirror]])`,
      );
  }
  const settingsResult = MirrorSettingsSchema.safeParse(doc.settings ?? {});
  if (!settingsResult.success) throw configError(file, 'settings', settingsResult.error);
  const settings = settingsResult.data;
  for (const key of ['limit_rate', 'min_rate'] as const) checkRate(settings[key], `${file}: settings.${key}`);
  const raw = doc.mirror ?? [];
  if (!Array.isArray(raw))
    throw new DchatError('E_CONFIG', `${file}: 'mirror' must be an array of tables ([[mirror]])`);
  if (raw.length > LIMITS.maxMirrors)
    throw new DchatError('E_CONFIG', `${file}: ${raw.length} mirrors, at most ${LIMITS.maxMirrors}`);
  const mirrors: MirrorRecord[] = [];
  const ids = new Set<string>();
  raw.forEach((entry, i) => {
    const r = MirrorRecordSchema.safeParse(datesToStrings(entry));
    if (!r.success) throw configError(file, `mirror ${i + 1}`, r.error);
    if (ids.has(r.data.id))
      throw new DchatError('E_CONFIG', `${file}: mirror ${i + 1}: duplicate id ${r.data.id}`);
    ids.add(r.data.id);
    try {
      r.data.uri = normalizeMirrorUri(r.data.source_type, r.data.uri);
    } catch (err) {
      throw new DchatError('E_CONFIG', `${file}: mirror ${i + 1}: ${(err as Error).message}`, { cause: err });
    }
    mirrors.push(r.data);
  });
  return { settings, mirrors };
}

/**
 * Stores `cfg`: its configuration in mirrors.toml (edited in place, comments kept, and only when
 * the configuration changed) and each mirror's health in state/mirror-health.json. Only for a
 * caller holding the home's mirrors lock: every edit goes through `updateMirrors`, so two
 * commands can never load, change and save over each other.
 */
export async function saveMirrors(
  paths: HomePaths,
  cfg: Pick<MirrorConfig, 'settings' | 'mirrors'>,
): Promise<void> {
  let current: MirrorsFile | undefined;
  try {
    current = await readMirrorsFile(paths);
  } catch {
    // A file its owner broke is replaced by a clean one only through an explicit edit (here).
  }
  const text = renderMirrorsToml(cfg, current?.old, (t) => parseMirrorsToml(t, paths.mirrorsToml));
  const unchanged = current?.old
    ? text === current.old.text
    : current !== undefined && text === serializeMirrors(current.cfg);
  if (!unchanged) await writeFileAtomic(paths.mirrorsToml, text);
  const before = current?.cfg.mirrors.map((m) => [m.id, healthOf(m)]);
  const after = cfg.mirrors.map((m) => [m.id, healthOf(m)]);
  if (!isDeepStrictEqual(before, after)) await saveMirrorHealth(paths, cfg.mirrors);
}

/**
 * The one way to edit mirrors.toml: load, `change`, save, all under the home's mirrors lock (see
 * store/lock.ts), so concurrent `add-mirror`, `remove-mirror`, downloads and the node lose and
 * resurrect nothing. `change` returns the new configuration, or undefined to write nothing.
 * Returns what is stored afterwards.
 */
export function updateMirrors(
  paths: HomePaths,
  change: (cfg: MirrorConfig) => Pick<MirrorConfig, 'settings' | 'mirrors'> | undefined,
  opts: LockOptions = {},
): Promise<MirrorConfig> {
  return withHomeLock(
    paths,
    'mirrors',
    async () => {
      const cfg = await loadMirrors(paths);
      const next = change(cfg);
      if (next === undefined) return cfg;
      await saveMirrors(paths, next);
      return { ...next, fromFile: true };
    },
    opts,
  );
}

/** mirrors.toml as a fresh file would hold `cfg` (configuration only). */
export function serializeMirrors(cfg: Pick<MirrorConfig, 'settings' | 'mirrors'>): string {
  return renderMirrorsToml(cfg, undefined, () => cfg);
}

export interface AddMirrorInput {
  url: string;
  /** F-Droid: the repository key's SHA-256 fingerprint (added to the URL as ?fingerprint=). */
  fingerprint?: string;
  mirrorType: string;
  region?: string;
  priority?: number;
}

/**
 * Adds a mirror (or updates the priority/region of the one with the same URI). Returns the new
 * list and whether the mirror was new. The flag named in errors is the one the user typed.
 */
export function addMirror(
  mirrors: readonly MirrorRecord[],
  input: AddMirrorInput,
  newId: () => string = randomUUID,
): { mirrors: MirrorRecord[]; record: MirrorRecord; added: boolean } {
  const kind = parseSourceKind(input.mirrorType);
  const type = kind && SOURCE_KIND_INFO[kind].mirror ? SOURCE_KIND_INFO[kind].seed : undefined;
  if (!type)
    throw new UsageError(
      '--mirror-type',
      `'${input.mirrorType.slice(0, 40)}' is not one of ${MIRROR_KINDS.join(', ')}`,
    );
  if (input.fingerprint !== undefined && type !== 'FDroid')
    throw new UsageError('--fingerprint', 'only F-Droid mirrors (--mirror-type fdroid) pin a key');
  let url = input.url;
  if (input.fingerprint !== undefined) {
    try {
      const u = new URL(url.trim());
      u.searchParams.set('fingerprint', input.fingerprint);
      url = u.href;
    } catch {
      // normalizeMirrorUri names the bad URL below.
    }
  }
  let uri: string;
  try {
    uri = normalizeMirrorUri(type, url);
  } catch (err) {
    throw new UsageError('--url', (err as Error).message, { cause: err });
  }
  if (input.region !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(input.region))
    throw new UsageError('--region', `'${input.region.slice(0, 40)}' is not a region name like us-west`);
  const existing = mirrors.find((m) => m.uri === uri);
  if (existing) {
    const record: MirrorRecord = {
      ...existing,
      source_type: type,
      priority: input.priority ?? existing.priority,
      ...(input.region !== undefined ? { region: input.region } : {}),
    };
    return { mirrors: mirrors.map((m) => (m === existing ? record : m)), record, added: false };
  }
  if (mirrors.length >= LIMITS.maxMirrors)
    throw new UsageError('--url', `already ${mirrors.length} mirrors, the most mirrors.toml may hold`);
  const record: MirrorRecord = {
    id: newId(),
    source_type: type,
    uri,
    ...(input.region !== undefined ? { region: input.region } : {}),
    priority: input.priority ?? DEFAULT_MIRROR_PRIORITY,
    failure_count: 0,
    origin: 'configured',
  };
  return { mirrors: [...mirrors, record], record, added: true };
}

/** Removes the mirror with this URL; E_USAGE naming --url when there is none. */
export function removeMirror(
  mirrors: readonly MirrorRecord[],
  url: string,
): { mirrors: MirrorRecord[]; removed: MirrorRecord } {
  const wanted = url.trim().replace(/\/+$/, '');
  const removed = mirrors.find(
    (m) => m.uri === wanted || m.uri === url.trim() || displayName(m) === url.trim(),
  );
  if (!removed)
    throw new UsageError(
      '--url',
      `no mirror with URL ${url.slice(0, 200)} (see \`dchat update list-mirrors\`)`,
    );
  return { mirrors: mirrors.filter((m) => m !== removed), removed };
}

/** Checks and canonicalises a mirror URI for its type; throws with a message naming the problem. */
export function normalizeMirrorUri(type: SeedSourceType, input: string): string {
  const s = input.trim();
  if (s.length === 0 || s.length > LIMITS.maxString) throw new Error('URL is empty or too long');
  const url = (what: string, protocols: string[]): URL => {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw new Error(`'${s.slice(0, 100)}' is not a URL (${what})`);
    }
    if (!protocols.includes(u.protocol))
      throw new Error(`'${s.slice(0, 100)}' is not a ${protocols.join(' or ')} URL (${what})`);
    return u;
  };
  switch (type) {
    case 'FDroid': {
      // F-Droid's own form: the repository URL with the pinned key, ?fingerprint=SHA256HEX.
      const u = url('F-Droid', ['https:', 'http:']);
      if (!isAllowedMirrorUrl(u))
        throw new Error(`'${s.slice(0, 100)}' is not a https: URL (plain http: only on loopback)`);
      const fp = (u.searchParams.get('fingerprint') ?? '').replace(/[:\s]/g, '').toLowerCase();
      if (u.username || u.password || u.hash || [...u.searchParams.keys()].some((k) => k !== 'fingerprint'))
        throw new Error(`${u.origin}: only ?fingerprint= may follow an F-Droid repository URL`);
      if (!/^[0-9a-f]{64}$/.test(fp))
        throw new Error(
          `${u.origin}${u.pathname}: give the SHA-256 fingerprint of the repository's signing key (--fingerprint HEX)`,
        );
      return `${u.origin}${u.pathname.replace(/\/+$/, '')}?fingerprint=${fp}`;
    }
    case 'HttpsMirror':
    case 'GitHub': {
      const u = url(type === 'HttpsMirror' ? 'HTTPS mirror' : type, ['https:', 'http:']);
      // Plain http only for dchat's embedded mirror on loopback (see model/loopback.ts).
      if (!isAllowedMirrorUrl(u))
        throw new Error(`'${s.slice(0, 100)}' is not a https: URL (plain http: only on loopback)`);
      if (u.username || u.password || u.search || u.hash)
        throw new Error(`${u.origin}: credentials, query or fragment are not allowed in a mirror URL`);
      return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
    }
    case 'Ipfs': {
      // An HTTP path gateway serving the package: https://GATEWAY/ipfs/CID (http only on loopback).
      if (/^https?:/i.test(s)) {
        const u = url('IPFS gateway', ['https:', 'http:']);
        if (!isAllowedMirrorUrl(u))
          throw new Error(`'${s.slice(0, 100)}' is not a https: URL (plain http: only on loopback)`);
        if (u.username || u.password || u.search || u.hash)
          throw new Error(`${u.origin}: credentials, query or fragment are not allowed in a gateway URL`);
        if (!/\/ipfs\/[A-Za-z0-9]{2,512}\/?$/.test(u.pathname))
          throw new Error(`'${s.slice(0, 100)}' is not a gateway URL ending in /ipfs/CID`);
        return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
      }
      url('IPFS', ['ipfs:', 'ipns:']);
      if (!/^ip[fn]s:\/\/[A-Za-z0-9._-]+(\/[A-Za-z0-9._\-/]*)?$/.test(s))
        throw new Error(`'${s.slice(0, 100)}' is not ipfs://CID or ipns://NAME`);
      return s.replace(/\/+$/, '');
    }
    case 'BitTorrent': {
      if (/^magnet:\?/.test(s)) {
        if (!/[?&]xt=urn:bt(ih|mh):[A-Za-z0-9]+/.test(s))
          throw new Error('magnet link has no xt=urn:btih:... info hash');
        return s;
      }
      url('BitTorrent', ['https:']);
      return s;
    }
    case 'Gossip':
      if (s !== 'gossip://') throw new Error(`gossip source URI must be gossip://`);
      return s;
    case 'Peer':
      if (!/^\/[A-Za-z0-9]/.test(s) && !/^peer:\/\//.test(s))
        throw new Error('peer source must be a multiaddr');
      return s;
    default:
      throw new Error(`unknown source type ${type as string}`);
  }
}

/** Mirrors in the seed's list order: by priority, then as written. */
export function sortByPriority(mirrors: readonly MirrorRecord[]): MirrorRecord[] {
  return mirrors
    .map((m, i) => ({ m, i }))
    .sort((a, b) => a.m.priority - b.m.priority || a.i - b.i)
    .map((x) => x.m);
}

function configError(file: string, where: string, err: z.ZodError): DchatError {
  const issue = err.issues[0];
  const path = issue?.path.length ? `.${issue.path.join('.')}` : '';
  let msg = issue?.message ?? 'invalid';
  if (issue?.code === 'unrecognized_keys')
    msg = `unknown key(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  return new DchatError('E_CONFIG', `${file}: ${where}${path}: ${msg}`, { cause: err });
}

function checkRate(v: number | string, where: string): void {
  if (typeof v === 'number') return;
  if (parseRate(v) === undefined)
    throw new DchatError('E_CONFIG', `${where}: '${v}' is not a rate like 500K, 10M or 1048576`);
}

/** TOML datetimes parse as Date objects; the schema wants the seed's ISO strings. */
function datesToStrings(entry: unknown): unknown {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return entry;
  return Object.fromEntries(
    Object.entries(entry).map(([k, v]) => [
      k,
      v instanceof Date && !Number.isNaN(v.getTime()) ? v.toISOString().replace(/\.\d{3}Z$/, 'Z') : v,
    ]),
  );
}

/** A config file of the home: capped, regular; too large is E_CONFIG naming the file. */
export async function readConfigFile(file: string): Promise<Buffer | undefined> {
  try {
    return await readCappedIfExists(file, LIMITS.configBytes);
  } catch (err) {
    if (err instanceof DchatError && err.code === 'E_TOO_LARGE')
      throw new DchatError('E_CONFIG', `${err.message} for a configuration file`, { cause: err });
    throw err;
  }
}
