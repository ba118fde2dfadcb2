import { DchatError, toDchatError, UsageError } from '../../errors.ts';
import { hostPlatform } from '../../model/platform.ts';
import { formatBinary, formatEta, formatRate } from '../../model/rate.ts';
import { DOWNLOAD_KINDS, parseSourceKind, type SourceKind } from '../../model/source-kind.ts';
import { loadAutoUpdateConfig } from '../../store/auto-update-config.ts';
import type { DownloadEvent, SourceReport } from '../../update/download.ts';
import { intFlag, platformFlag, versionFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';
import { metadataJson } from './update-discover-impl.ts';
import {
  formatSize,
  logIgnored,
  prunedJson,
  rateValue,
  reportPruned,
  updateService,
} from './update-shared-impl.ts';

export interface DownloadFlags {
  version: string;
  platform?: string;
  source?: string;
  limitRate?: string;
  minRate?: string;
  slowWindow?: string;
  parallel?: string;
}

const CHECK_LINES: Record<string, string> = {
  sha256: 'Hash verification passed (SHA-256)',
  blake3: 'Hash verification passed (BLAKE3)',
  signature: 'Package signature verification passed (dchat-sign, Ed25519)',
};

/**
 * `dchat update download --version V [--platform P] [--source T]`: the update service refreshes
 * trust through the mirrors and fetches the signed target (every chunk verified before it is
 * written, the whole file before it is renamed into packages/). This body parses flags and
 * renders: NDJSON progress with --json, a bar with ETA on a TTY. SIGINT/SIGTERM end it with
 * E_INTERRUPTED (exit 130/143), the verified chunks kept for the next run to resume from.
 */
export async function download(o: DownloadFlags, env: CommandEnv): Promise<number> {
  const version = versionFlag(o.version);
  const platform = platformFlag(o.platform ?? hostPlatform(process.platform, process.arch));
  const { config } = await loadAutoUpdateConfig(env.paths);
  if (config.pin !== null && config.pin !== version)
    throw new UsageError(
      '--version',
      `${version}: this node is pinned to ${config.pin} (unpin: dchat update configure-auto-update --pin none)`,
    );
  let kind: SourceKind | undefined;
  if (o.source !== undefined) {
    kind = parseSourceKind(o.source);
    if (!kind || !DOWNLOAD_KINDS.includes(kind))
      throw new UsageError(
        '--source',
        `'${o.source.slice(0, 40)}' is not one of ${DOWNLOAD_KINDS.join(', ')}`,
      );
    if (kind === 'peer') return (await downloadViaNode(version, platform, env, 'peer')) as number;
    // IPFS peers (bitswap) are the node's too; with no node running, gateway mirrors still work here.
    if (kind === 'ipfs') {
      const code = await downloadViaNode(version, platform, env, 'ipfs');
      if (code !== undefined) return code;
    }
  }
  const limitRateBps = rateValue(o.limitRate, '--limit-rate');
  const minRateBps = rateValue(o.minRate, '--min-rate');
  const slowWindowSecs = intFlag(o.slowWindow, '--slow-window', 1, 3600);
  const parallelSources = intFlag(o.parallel, '--parallel', 1, 16);

  const bar = new ProgressBar(env);
  const log = env.logs.forComponent('download');
  const signal = env.ctx.interrupt?.();
  try {
    const d = await updateService(env).download({
      version,
      platform,
      ...(kind ? { kind } : {}),
      ...(limitRateBps !== undefined ? { limitRateBps } : {}),
      ...(minRateBps !== undefined ? { minRateBps } : {}),
      ...(slowWindowSecs !== undefined ? { slowWindowSecs } : {}),
      ...(parallelSources !== undefined ? { parallelSources } : {}),
      ...(signal ? { signal } : {}),
      onStart: ({ target, mirrors }) =>
        env.out.line(
          `⬇️  Downloading ${target.path} (${formatSize(target.length)}) from ${mirrors} mirror${mirrors === 1 ? '' : 's'}`,
        ),
      onEvent: (e) => {
        if (e.type !== 'progress') log.debug(e, e.type);
        onEvent(e, env, bar);
      },
      onPruned: (p, after) => reportPruned(env, p, after),
      onDeltaWarning: (w) => {
        log.warn(w, 'delta fallback');
        if (env.out.json) env.out.record({ type: 'warning', ...w });
        else {
          bar.clear();
          env.out.note(
            `warning[${w.code}]: ${w.target} not used (${w.cause}: ${w.message}); fetching the full package`,
          );
        }
      },
    });
    bar.done();
    if (d.discovery) logIgnored(env, d.discovery);
    const { result } = d;
    if (result.alreadyPresent) {
      env.out.line(`✅ Already downloaded and verified: ${result.path}`);
    } else if (d.delta) {
      const u = d.delta;
      env.out.line(
        `✅ ${u.from ? `Patch from ${u.from}` : 'Compressed package'} used: ${u.target} (${u.algorithm}), its chunks verified against its signed chunk table (BLAKE3)`,
      );
      env.out.line(
        `   Fetched ${formatSize(u.bytes)} instead of ${formatSize(result.size)}: saved ${formatSize(u.savedBytes)} (${((100 * u.savedBytes) / result.size).toFixed(1)}%)`,
      );
    } else {
      if (result.resumedChunks > 0)
        env.out.line(
          `   Resumed: ${result.resumedChunks} chunk(s) (${formatSize(result.resumedBytes)}) verified by an earlier run`,
        );
      env.out.line(
        `✅ Chunks verified: ${result.chunks}/${result.chunks} against the signed chunk table (BLAKE3)`,
      );
    }
    for (const c of result.checks) {
      const line = CHECK_LINES[c.name];
      if (line && c.ok) env.out.line(`✅ ${line}`);
    }
    env.out.line(`✅ Package saved: ${result.path}`);
    if (d.attestations?.from)
      env.out.line(`   Rebuild attestations: ${d.attestations.lines} kept (check them with update verify)`);
    reportPruned(env, d.pruned, d.settings.prune_after_failures);
    env.out.result({
      type: 'result',
      ok: true,
      version,
      platform,
      path: result.path,
      size: result.size,
      sha256: result.sha256,
      blake3: result.blake3,
      already_present: result.alreadyPresent,
      chunks: result.chunks,
      resumed_chunks: result.resumedChunks,
      resumed_bytes: result.resumedBytes,
      fetched_bytes: result.fetchedBytes,
      duration_ms: Math.round(result.durationMs),
      chunk_table_from: result.chunkTableFrom,
      delta: d.delta
        ? {
            used: true,
            target: d.delta.target,
            algorithm: d.delta.algorithm,
            from: d.delta.from ?? null,
            bytes: d.delta.bytes,
            saved_bytes: d.delta.savedBytes,
            apply_ms: Math.round(d.delta.applyMs),
          }
        : { used: false, saved_bytes: 0 },
      warnings: d.deltaWarnings,
      checks: Object.fromEntries(result.checks.map((c) => [c.name, c.ok])),
      sources: result.sources.map(sourceJson),
      ...(d.discovery ? { metadata: metadataJson(d.discovery) } : {}),
      pruned: prunedJson(d.pruned),
    });
    return 0;
  } finally {
    bar.done();
  }
}

export function sourceJson(r: SourceReport) {
  return {
    url: r.uri,
    type: r.type,
    bytes: r.bytes,
    fetched: r.fetched,
    chunks: r.chunks,
    ok: r.ok && !r.banned,
    banned: r.banned,
    latency_ms: r.latencyMs ?? null,
    throughput_bps: r.throughputBps ?? null,
    failures: r.failures.map((f) => ({ code: f.code, message: f.message, action: f.action })),
  };
}

/** What a source's first failure means for this download (one warning per source per run). */
const ACTION_TEXT = {
  ban: 'not used again in this download',
  resume: 'retrying it; other sources take its chunks if it stays down',
  backoff: 'backing off; other sources take its chunks',
} as const;

function onEvent(e: DownloadEvent, env: CommandEnv, bar: ProgressBar): void {
  if (env.out.json) {
    env.out.record(e);
    return;
  }
  switch (e.type) {
    case 'progress':
      bar.update(e.bytes_done, e.bytes_total, e.rate_bps);
      break;
    case 'start':
      if (e.resumed_chunks > 0)
        env.out.note(
          `   Resuming: ${e.resumed_chunks}/${e.chunks} chunks (${formatSize(e.resumed_bytes)}) already verified`,
        );
      break;
    case 'source-failed':
      bar.clear();
      env.out.note(`⚠️  ${e.source}: ${e.code} ${e.message} (${ACTION_TEXT[e.action]})`);
      break;
    case 'cache-invalid':
      env.out.note(`⚠️  ${e.path} failed verification (${e.code}); fetching again, reusing its good chunks`);
      break;
    case 'chunk-recheck-failed':
      env.out.note(`⚠️  chunk ${e.chunk} of the partial download no longer verifies; fetching it again`);
      break;
    default:
      break;
  }
}

/**
 * A one-line bar on stderr, only when stderr is a TTY and --json is off: bytes done of total,
 * the rate and the time left, in binary units (model/rate.ts, as --limit-rate reads them).
 */
class ProgressBar {
  private readonly env: CommandEnv;
  private shown = false;

  constructor(env: CommandEnv) {
    this.env = env;
  }

  update(done: number, total: number, rate: number): void {
    if (!this.env.out.interactive) return;
    this.env.ctx.stderr.write(`\r${barLine(done, total, rate)}\x1b[K`);
    this.shown = true;
  }

  clear(): void {
    if (!this.shown) return;
    this.env.ctx.stderr.write('\r\x1b[K');
    this.shown = false;
  }

  done(): void {
    this.clear();
  }
}

/** `  [█████░░░]  42% 3.4 MiB/8.0 MiB 1.2 MiB/s ETA 0:04` */
export function barLine(done: number, total: number, rate: number): string {
  const width = 30;
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const full = Math.round(frac * width);
  return `  [${'█'.repeat(full)}${'░'.repeat(width - full)}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBinary(done)}/${formatBinary(total)} ${formatRate(rate)} ETA ${formatEta(total - done, rate)}`;
}

/**
 * `--source peer` and `--source ipfs`: peers (and IPFS's bitswap peers) are the running node's
 * (`dchat node start` on this home), so the node fetches with the update service (those sources
 * only) and this command reports the result. For IPFS with no node running: undefined (the caller
 * goes on with the gateway mirrors this process can use itself).
 */
async function downloadViaNode(
  version: string,
  platform: string,
  env: CommandEnv,
  only: 'peer' | 'ipfs',
): Promise<number | undefined> {
  const { controlRequest } = await import('../../node/control.ts');
  if (only === 'ipfs') {
    const running = await controlRequest(env.paths, 'status', {}, 5000).then(
      () => true,
      (err: unknown) => toDchatError(err).code !== 'E_NOT_FOUND',
    );
    if (!running) return undefined;
  }
  let r: Awaited<ReturnType<typeof controlRequest<'download'>>>;
  try {
    env.out.line(
      `⬇️  Asking the node of ${env.paths.home} to fetch dchat-${version}-${platform} from its ${only === 'peer' ? 'peers' : 'IPFS peers and mirrors'}`,
    );
    r = await controlRequest(env.paths, 'download', { version, platform, only }, 660_000);
  } catch (err) {
    const e = toDchatError(err);
    if (e.code === 'E_NOT_FOUND')
      throw new DchatError(
        'E_NO_SOURCE',
        `--source ${only} needs a running node on this home (dchat node start): ${e.message}`,
        { cause: e },
      );
    throw e;
  }
  const peers = Object.keys(r.peers);
  env.out.line(
    `✅ Chunks and package verified by the node (${r.source === 'cache' ? 'already held' : only === 'peer' ? `from ${peers.length} peer(s)` : `over ${r.sources.map((s) => s.url).join(', ') || r.source}`})`,
  );
  env.out.line(`✅ Package saved: ${r.path}`);
  env.out.result({
    ok: true,
    version,
    platform,
    path: r.path,
    source: r.source,
    peers: r.peers,
    sources: r.sources,
  });
  return 0;
}
