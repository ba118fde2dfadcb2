/**
 * Test mirrors (spec/CLI.md `update test-mirrors`): every configured mirror probed at once within
 * one deadline (download/probe.ts: fresh signed timestamp, latency, throughput on a sample), with
 * what this home already trusts as the reference; outcomes recorded as health once.
 */
import type { Metadata, Root, Timestamp } from '@tufjs/models';
import { probeMirror } from '../download/probe.ts';
import { openTrustStore } from '../download/trust-session.ts';
import { DchatError } from '../errors.ts';
import type { PackageTarget } from '../model/package.ts';
import type { HomePaths } from '../store/home.ts';
import { type MirrorRecord, sortByPriority } from '../store/mirrors.ts';
import { parseMetadata } from '../trust/metadata.ts';
import { listPackages } from '../trust/package-check.ts';
import { type PrunedMirror, RunHealth } from './health.ts';
import { openRegistry } from './registry.ts';

export type ProbeOutcome =
  | { record: MirrorRecord; ok: true; latencyMs?: number; throughputBps?: number }
  | { record: MirrorRecord; ok: false; error: string; latencyMs?: number; throughputBps?: number };

export interface MirrorTest {
  results: ProbeOutcome[];
  pruned: PrunedMirror[];
  pruneAfter: number;
}

export async function testMirrors(
  paths: HomePaths,
  o: { now: Date; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<MirrorTest> {
  const reg = await openRegistry(paths, { now: o.now.getTime(), ...(o.env ? { env: o.env } : {}) });
  const ordered = sortByPriority(reg.config.mirrors);
  const trust = await trustedContext(paths);
  const deadline = AbortSignal.timeout(o.timeoutMs);
  const health = new RunHealth();
  try {
    const results = await Promise.all(
      ordered.map(async (record): Promise<ProbeOutcome> => {
        const live = reg.live.find((l) => l.record.id === record.id);
        if (!live) {
          const reason = reg.skipped.find((s) => s.record.id === record.id)?.reason ?? 'not testable';
          return { record, ok: false, error: reason };
        }
        // The largest package this source can have (an F-Droid repository: an APK).
        const { packages, ...known } = trust;
        const sample = packages
          .filter((p) => live.source.serves?.(p) ?? true)
          .reduce<PackageTarget | undefined>((a, b) => (!a || b.length > a.length ? b : a), undefined);
        const r = await probeMirror(live.source, {
          ...known,
          ...(sample ? { sample } : {}),
          now: o.now,
          signal: deadline,
        });
        const measured = {
          ...(r.latencyMs !== undefined ? { latencyMs: r.latencyMs } : {}),
          ...(r.throughputBps !== undefined ? { throughputBps: r.throughputBps } : {}),
        };
        if (r.ok) return { record, ok: true, ...measured };
        const error = r.error?.code === 'E_TIMEOUT' ? 'timeout' : (r.error?.message ?? 'failed');
        return { record, ok: false, error, ...measured };
      }),
    );
    health.add(
      results
        .filter((r) => reg.live.some((l) => l.record.id === r.record.id))
        .map((r) => ({
          id: r.record.id,
          ok: r.ok,
          ...(r.latencyMs !== undefined && r.ok ? { latencyMs: r.latencyMs } : {}),
          ...(r.throughputBps !== undefined ? { throughputBps: r.throughputBps } : {}),
          ...(r.ok ? {} : { error: r.error }),
        })),
    );
    const pruned = await health.commit(paths, o.now);
    return { results, pruned, pruneAfter: reg.config.settings.prune_after_failures };
  } finally {
    await reg.close();
  }
}

/** What this node already trusts, to tell a stale or forged mirror from a good one. */
async function trustedContext(
  paths: HomePaths,
): Promise<{ root?: Root; timestamp?: Metadata<Timestamp>; packages: PackageTarget[] }> {
  const store = await openTrustStore(paths);
  const out: { root?: Root; timestamp?: Metadata<Timestamp>; packages: PackageTarget[] } = { packages: [] };
  try {
    const root = await store.load('root');
    if (root) out.root = parseMetadata('root', root).signed;
    const ts = await store.load('timestamp');
    if (ts) out.timestamp = parseMetadata('timestamp', ts);
    const targets = await store.load('targets');
    if (targets) out.packages = listPackages(parseMetadata('targets', targets));
  } catch (err) {
    if (!(err instanceof DchatError)) throw err;
    // Damaged local metadata: probe without it (the next check replaces it).
  }
  return out;
}
