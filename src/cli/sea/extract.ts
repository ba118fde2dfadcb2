/**
 * The files the single executable cannot run from memory: the native BLAKE3 addon and the worker
 * bundles (Worker and dlopen take paths). The build embeds them as SEA assets with their SHA-256
 * in a manifest; on first need they are written to `<home>/cache/sea/<manifest hash>/` (temp dir,
 * then rename, so a half-written set is never used) and every file is checked against the manifest
 * before anything from it is loaded. The directory is per data directory (spec/CLI.md: every file
 * the program writes lives under --home), never a shared one: its code runs in this process.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface SeaManifest {
  /** SHA-256 over the sorted file list and hashes: the cache directory's name. */
  id: string;
  /** Relative path -> SHA-256 (hex) of each embedded file. */
  files: Record<string, string>;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function intact(dir: string, m: SeaManifest): boolean {
  for (const [rel, hash] of Object.entries(m.files)) {
    const p = join(dir, rel);
    if (!existsSync(p) || sha256(readFileSync(p)) !== hash) return false;
  }
  return true;
}

/** Writes (if needed) and checks the embedded files; returns their directory. */
export function extractSeaFiles(
  home: string,
  m: SeaManifest,
  getAsset: (name: string) => ArrayBuffer,
): string {
  const dir = join(home, 'cache', 'sea', m.id);
  if (intact(dir, m)) return dir;
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    for (const [rel, hash] of Object.entries(m.files)) {
      const bytes = new Uint8Array(getAsset(rel));
      if (sha256(bytes) !== hash) throw new Error(`embedded ${rel} does not match its hash`);
      mkdirSync(dirname(join(tmp, rel)), { recursive: true, mode: 0o700 });
      writeFileSync(join(tmp, rel), bytes, { mode: 0o600 });
    }
    rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another process of the same executable won the race: use its copy if it is whole.
      if (!intact(dir, m)) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (!intact(dir, m)) throw new Error(`${dir}: extracted files do not match the executable`);
  return dir;
}
