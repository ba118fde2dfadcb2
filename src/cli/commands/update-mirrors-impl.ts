import { DchatError } from '../../errors.ts';
import { kindOfSeed } from '../../model/source-kind.ts';
import {
  addMirror as addRecord,
  displayName,
  loadMirrors,
  removeMirror as removeRecord,
  sortByPriority,
  updateMirrors,
} from '../../store/mirrors.ts';
import { testMirrors as probeAll } from '../../update/probe.ts';
import { hasTransport, rankRecords } from '../../update/registry.ts';
import { intFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';
import { formatRate, reportPruned } from './update-shared-impl.ts';

export async function addMirror(
  o: { url: string; mirrorType: string; region?: string; priority?: string; fingerprint?: string },
  env: CommandEnv,
): Promise<void> {
  const priority = intFlag(o.priority, '--priority', 0, 1_000_000);
  let r: ReturnType<typeof addRecord> | undefined;
  await updateMirrors(env.paths, (cfg) => {
    r = addRecord(cfg.mirrors, {
      url: o.url,
      mirrorType: o.mirrorType,
      ...(o.fingerprint !== undefined ? { fingerprint: o.fingerprint } : {}),
      ...(o.region !== undefined ? { region: o.region } : {}),
      ...(priority !== undefined ? { priority } : {}),
    });
    return { settings: cfg.settings, mirrors: r.mirrors };
  });
  if (!r) throw new DchatError('E_INTERNAL', 'add-mirror: no result');
  const m = r.record;
  env.out.line(
    `${r.added ? '✅ Added mirror' : '✅ Updated mirror'} ${m.uri} (${m.source_type}, priority: ${m.priority}${m.region ? `, region: ${m.region}` : ''})`,
  );
  if (!hasTransport(kindOfSeed(m.source_type)))
    env.out.line(
      `   Note: this build has no ${m.source_type} transport yet; downloads use the other mirrors.`,
    );
  env.out.result({ ok: true, added: r.added, mirror: m, path: env.paths.mirrorsToml });
}

export async function removeMirror(o: { url: string }, env: CommandEnv): Promise<void> {
  let r: ReturnType<typeof removeRecord> | undefined;
  await updateMirrors(env.paths, (cfg) => {
    r = removeRecord(cfg.mirrors, o.url);
    return { settings: cfg.settings, mirrors: r.mirrors };
  });
  if (!r) throw new DchatError('E_INTERNAL', 'remove-mirror: no result');
  env.out.line(`🗑️  Removed mirror ${displayName(r.removed)}`);
  env.out.result({ ok: true, removed: r.removed, path: env.paths.mirrorsToml });
}

const GROUPS: { origin: string; title: string }[] = [
  { origin: 'default', title: 'Default mirrors:' },
  { origin: 'configured', title: 'Configured mirrors:' },
  { origin: 'learned', title: 'Learned from peers:' },
];

/** The seed's list: numbered, by priority, grouped by where each mirror came from. */
export async function listMirrors(_o: Record<string, never>, env: CommandEnv): Promise<void> {
  const cfg = await loadMirrors(env.paths);
  const sorted = sortByPriority(cfg.mirrors);
  env.out.line('📍 Configured download sources:');
  if (sorted.length === 0) {
    env.out.line('');
    env.out.line('  (none: add one with `dchat update add-mirror --url URL --mirror-type https`)');
  }
  let n = 0;
  for (const g of GROUPS) {
    const ms = sorted.filter((m) => m.origin === g.origin);
    if (ms.length === 0) continue;
    env.out.line('');
    env.out.line(g.title);
    for (const m of ms) {
      n++;
      const extra = [
        `priority: ${m.priority}`,
        ...(m.region ? [`region: ${m.region}`] : []),
        ...(m.latency_ms !== undefined ? [`latency: ${m.latency_ms}ms`] : []),
        ...(m.failure_count > 0 ? [`failures: ${m.failure_count}`] : []),
      ];
      env.out.line(`  ${n}. ${displayName(m)} (${extra.join(', ')})`);
    }
  }
  env.out.result({
    mirrors: sorted,
    order: rankRecords(cfg.mirrors, env.ctx.now().getTime(), cfg.settings.region).map((m) => m.uri),
    settings: cfg.settings,
    path: env.paths.mirrorsToml,
    from_file: cfg.fromFile,
  });
}

/**
 * Probes every mirror concurrently within one deadline. One line per mirror (`✅ URL - 120ms` or
 * `❌ URL - error`), `N/M mirrors operational`; exit 0 if any mirror answered, else 1.
 */
export async function testMirrors(o: { timeout?: string }, env: CommandEnv): Promise<number> {
  const seconds = intFlag(o.timeout, '--timeout', 1, 600) ?? 10;
  env.out.line('🔍 Testing mirror connectivity...');
  env.out.line('');
  const { results, pruned, pruneAfter } = await probeAll(env.paths, {
    now: env.ctx.now(),
    timeoutMs: seconds * 1000,
    env: env.ctx.env,
  });
  for (const r of results) {
    const name = displayName(r.record);
    if (r.ok) {
      const rate = r.throughputBps !== undefined ? ` (${formatRate(r.throughputBps)})` : '';
      env.out.line(`✅ ${name} - ${r.latencyMs ?? '?'}ms${rate}`);
    } else env.out.line(`❌ ${name} - ${r.error}`);
  }
  const ok = results.filter((r) => r.ok).length;
  env.out.line('');
  env.out.line(`${ok}/${results.length} mirrors operational`);
  reportPruned(env, pruned, pruneAfter);
  env.out.result(
    results.map((r) => ({
      url: r.record.uri,
      ok: r.ok,
      latency_ms: r.latencyMs ?? null,
      throughput_bps: r.throughputBps ?? null,
      error: r.ok ? null : r.error,
      ...(pruned.some((p) => p.id === r.record.id) ? { pruned: true } : {}),
    })),
  );
  if (ok === 0) {
    env.ctx.stderr.write(
      `error[E_NO_SOURCE]: ${results.length === 0 ? 'no mirror configured' : 'no mirror answered'}\n`,
    );
    return 1;
  }
  return 0;
}
