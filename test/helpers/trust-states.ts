/**
 * A repository at successive versions, each written as a mirror directory (DIR/metadata/<name>,
 * what DirectoryFetcher and `--metadata DIR` read): state N has timestamp, snapshot and targets
 * version N and lists N-1 releases. Used by the store's concurrency and crash tests, which apply
 * different states to one home and then check what the home kept.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { homePaths } from '../../src/store/home.ts';
import { FileTrustStore } from '../../src/store/trust-store.ts';
import { parseMetadata } from '../../src/trust/metadata.ts';
import type { TrustDocs } from '../../src/trust/updater.ts';
import { bytesOf, makeKeys, makeRepo, packageBytes, publish, targetFor } from './repo.ts';

export interface TrustStates {
  root: Buffer;
  /** dirs[n] is the mirror directory of state n (1..count). */
  dirs: string[];
}

export function writeTrustStates(base: string, count: number, now = new Date()): TrustStates {
  let t = makeRepo({ keys: makeKeys(1), now });
  const dirs: string[] = [];
  const write = (n: number) => {
    const dir = join(base, `state-${n}`);
    const md = join(dir, 'metadata');
    mkdirSync(md, { recursive: true });
    const r = t.repo;
    writeFileSync(join(md, '1.root.json'), bytesOf(r.root));
    writeFileSync(join(md, 'timestamp.json'), bytesOf(r.timestamp));
    writeFileSync(join(md, `${r.snapshot.signed.version}.snapshot.json`), bytesOf(r.snapshot));
    writeFileSync(join(md, `${r.targets.signed.version}.targets.json`), bytesOf(r.targets));
    dirs[n] = dir;
  };
  write(1);
  for (let n = 2; n <= count; n++) {
    t = publish(t, [targetFor(packageBytes(`state ${n}`, 1000 + n), `1.0.${n}`, 'linux-x64')], { now });
    write(n);
  }
  return { root: bytesOf(t.repo.root), dirs };
}

/**
 * The versions of a stored set, and whether it is one consistent set: the snapshot is the one the
 * timestamp names and the targets the one the snapshot names (or all three absent).
 */
export function setVersions(set: TrustDocs): { ts?: number; consistent: boolean } {
  if (!set.timestamp && !set.snapshot && !set.targets) return { consistent: true };
  if (!set.timestamp || !set.snapshot || !set.targets) return { consistent: false };
  const ts = parseMetadata('timestamp', set.timestamp).signed;
  const snap = parseMetadata('snapshot', set.snapshot).signed;
  const targets = parseMetadata('targets', set.targets).signed;
  const consistent =
    ts.snapshotMeta.version === snap.version &&
    snap.meta['targets.json']?.version === targets.version &&
    ts.version === snap.version &&
    snap.version === targets.version;
  return { ts: ts.version, consistent };
}

export function storeAt(home: string): FileTrustStore {
  return new FileTrustStore(homePaths(home));
}
