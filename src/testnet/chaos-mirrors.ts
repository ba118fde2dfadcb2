/**
 * Mirrors that misbehave at a rate (`dchat-test chaos-mirrors --fail-rate P`): K HTTPS fault
 * mirrors (fault-mirror.ts) serving the run's release, behind a CA made for the run, where each
 * package request fails (503), stalls (never answers) or is corrupted (one byte flipped) with
 * probability P. Every honest node has all of them in its mirrors.toml, so a node's download goes
 * through broken mirrors and its peers at once; only verified bytes may end up on disk.
 */
import { createHash } from 'node:crypto';
import type { HomePaths } from '../store/home.ts';
import { addMirror, updateMirrors } from '../store/mirrors.ts';
import { type ChaosCounts, type FaultMirror, startFaultMirror } from './fault-mirror.ts';
import { makeTestCa } from './test-ca.ts';

export interface ChaosMirrors {
  urls: string[];
  /** NODE_EXTRA_CA_CERTS for the nodes. */
  caCert: string;
  counts(): ChaosCounts;
  stop(): Promise<void>;
}

/** A seeded uniform [0, 1) stream (SHA-256 counter mode): a run can be replayed with its seed. */
export function seededRandom(seed: string): () => number {
  let i = 0;
  return () => createHash('sha256').update(`${seed}:${i++}`).digest().readUInt32BE(0) / 2 ** 32;
}

export async function startChaosMirrors(
  repoDir: string,
  count: number,
  rate: number,
  seed: string,
): Promise<ChaosMirrors> {
  const ca = makeTestCa();
  const mirrors: FaultMirror[] = [];
  try {
    for (let k = 0; k < count; k++)
      mirrors.push(await startFaultMirror(repoDir, ca, [], { rate, random: seededRandom(`${seed}/${k}`) }));
  } catch (err) {
    await Promise.all(mirrors.map((m) => m.stop()));
    throw err;
  }
  return {
    urls: mirrors.map((m) => m.url),
    caCert: ca.caCert,
    counts: () => {
      const c: ChaosCounts = { requests: 0, failed: 0, stalled: 0, corrupted: 0 };
      for (const m of mirrors) for (const k of Object.keys(c) as (keyof ChaosCounts)[]) c[k] += m.chaos[k];
      return c;
    },
    stop: async () => {
      await Promise.all(mirrors.map((m) => m.stop()));
    },
  };
}

/**
 * Puts `urls` in the home's mirrors.toml. Broken mirrors stay listed (no pruning) and a stalled
 * request is given up after a few seconds, so the run measures recovery, not patience.
 */
export async function configureMirrors(paths: HomePaths, urls: readonly string[]): Promise<void> {
  await updateMirrors(paths, (cfg) => {
    let list = cfg.mirrors;
    for (const url of urls) list = addMirror(list, { url, mirrorType: 'https' }).mirrors;
    return { settings: { ...cfg.settings, prune_after_failures: 0, slow_window_secs: 3 }, mirrors: list };
  });
}
