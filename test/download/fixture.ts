/**
 * Fixtures for the download, sources and `dchat update` tests: a real mirror directory made by the
 * publisher (src/release/publish.ts) with small packages and 64 KiB chunks, homes pinned to its
 * root (as `trust init` does), and an in-process runner of the `dchat` program.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { buildDchat } from '../../src/cli/dchat-program.ts';
import { runProgram } from '../../src/cli/program.ts';
import { sha256Hex } from '../../src/crypto/hash.ts';
import { initRepository, publishRelease, refreshRepository } from '../../src/release/publish.ts';
import { type HomePaths, homePaths } from '../../src/store/home.ts';
import { writeTrustOrigin } from '../../src/store/trust-origin.ts';
import { FileTrustStore } from '../../src/store/trust-store.ts';
import type { SigningKey } from '../../src/trust/keys.ts';
import { makeKeys, packageBytes } from '../helpers/repo.ts';

export const CHUNK = 64 * 1024;
export const PLATFORM = 'linux-x64';

export interface Published {
  version: string;
  name: string;
  bytes: Buffer;
  sha256: string;
  /** The package file inside the mirror directory. */
  file: string;
}

export interface MirrorRepo {
  base: string;
  dir: string;
  keys: SigningKey[];
  packages: Map<string, Published>;
  publish(
    version: string,
    size: number,
    o?: { now?: Date; expiresSec?: number; security?: boolean },
  ): Promise<Published>;
  refresh(o?: { now?: Date; expiresSec?: number }): Promise<void>;
  /** A copy of the mirror directory as it is now (a mirror that will go stale). */
  snapshot(): string;
}

/** Every repository made by this test process, removed when it exits (each test file is a process). */
const made = new Set<string>();
process.once('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

export async function makeMirrorRepo(now = new Date()): Promise<MirrorRepo> {
  const base = mkdtempSync(join(tmpdir(), 'dchat-dl-'));
  made.add(base);
  const dir = join(base, 'repo');
  const keys = makeKeys(1);
  await initRepository({ dir, keys, threshold: 1, now });
  const packages = new Map<string, Published>();
  let snaps = 0;
  return {
    base,
    dir,
    keys,
    packages,
    async publish(version, size, o = {}) {
      const bytes = packageBytes(`dchat ${version}`, size);
      const src = join(base, `src-${version}`);
      writeFileSync(src, bytes);
      const r = await publishRelease({
        dir,
        packagePath: src,
        version,
        platform: PLATFORM,
        keys,
        now: o.now ?? now,
        chunkSize: CHUNK,
        ...(o.expiresSec !== undefined ? { expiresSec: o.expiresSec } : {}),
        ...(o.security ? { security: true } : {}),
      });
      const p: Published = {
        version,
        name: r.name,
        bytes,
        sha256: sha256Hex(bytes),
        file: join(dir, 'packages', r.name),
      };
      packages.set(version, p);
      return p;
    },
    async refresh(o = {}) {
      await refreshRepository({
        dir,
        keys,
        now: o.now ?? now,
        ...(o.expiresSec !== undefined ? { expiresSec: o.expiresSec } : {}),
      });
    },
    snapshot() {
      const copy = join(base, `snapshot-${++snaps}`);
      cpSync(dir, copy, { recursive: true });
      return copy;
    },
  };
}

/** A fresh $DCHAT_HOME whose root is the repository's (as `dchat trust init --root` leaves it). */
export async function makeHome(repo: MirrorRepo, now = new Date()): Promise<HomePaths> {
  const home = mkdtempSync(join(repo.base, 'home-'));
  const paths = homePaths(home);
  const root = readFileSync(join(repo.dir, 'root.json'));
  await new FileTrustStore(paths).pinRoot(root);
  await writeTrustOrigin(paths, {
    origin: 'trust-init',
    root_sha256: sha256Hex(root),
    at: now.toISOString(),
  });
  return paths;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `dchat ARGS` in this process (PassThrough streams, injected env and clock). */
/** `update download` of 1.0.0 for linux-x64 from one source kind only, with JSON out, in `home`. */
export function downloadFrom(
  home: string,
  source: string,
  o: { env?: NodeJS.ProcessEnv } = {},
): Promise<CliRun> {
  const args = ['--home', home, '--json', 'update', 'download', '--version', '1.0.0'];
  return runDchat([...args, '--platform', 'linux-x64', '--source', source], o);
}

export async function runDchat(
  args: readonly string[],
  o: { env?: NodeJS.ProcessEnv; now?: () => Date; cwd?: string; ttyStderr?: boolean } = {},
): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr: PassThrough & { isTTY?: boolean } = new PassThrough();
  if (o.ttyStderr) stderr.isTTY = true;
  let out = '';
  let err = '';
  stdout.on('data', (b: Buffer) => {
    out += b.toString('utf8');
  });
  stderr.on('data', (b: Buffer) => {
    err += b.toString('utf8');
  });
  const code = await runProgram(
    buildDchat({
      stdout,
      stderr,
      env: o.env ?? {},
      cwd: o.cwd ?? process.cwd(),
      now: o.now ?? (() => new Date()),
    }),
    [...args],
  );
  return { code, stdout: out, stderr: err };
}

/** NDJSON lines of a --json stream. */
export function ndjson(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** `dchat update add-mirror` of an HTTPS mirror into `home` (with a priority if given); it must succeed. */
export async function addMirror(home: string, url: string, priority?: number): Promise<void> {
  const r = await runDchat([
    '--home',
    home,
    'update',
    'add-mirror',
    '--url',
    url,
    '--mirror-type',
    'https',
    ...(priority === undefined ? [] : ['--priority', String(priority)]),
  ]);
  assert.equal(r.code, 0, r.stderr);
}
