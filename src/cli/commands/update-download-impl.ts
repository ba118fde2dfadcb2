import {
  type DownloadEvent,
  type DownloadResult,
  downloadPackage,
  type SourceReport,
} from '../../download/engine.ts';
import {
  downloadOutcomes,
  engineSources,
  mergeOutcomes,
  recordHealth,
  SOURCE_FLAG_TYPES,
  SUPPORTED_TYPES,
} from '../../download/mirror-session.ts';
import { DchatError, toDchatError, UsageError } from '../../errors.ts';
import { hostPlatform } from '../../model/platform.ts';
import { findPackage, listPackages } from '../../trust/package-check.ts';
import { intFlag, platformFlag, versionFlag } from '../flags.ts';
import type { CommandEnv } from '../program.ts';
import { metadataJson } from './update-discover-impl.ts';
import {
  discover,
  formatRate,
  formatSize,
  prunedJson,
  rateValue,
  reportPruned,
} from './update-shared-impl.ts';

interface DownloadFlags {
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
 * `dchat update download --version V [--platform P] [--source T]`: refresh trust through the
 * mirrors, then fetch the signed target with the engine (every chunk verified before it is written,
 * whole file verified before it is renamed into packages/). NDJSON progress with --json, a bar on
 * a TTY; health of every mirror recorded and pruning reported.
 */
export async function download(o: DownloadFlags, env: CommandEnv): Promise<number> {
  const version = versionFlag(o.version);
  const platform = platformFlag(o.platform ?? hostPlatform(process.platform, process.arch));
  let type: (typeof SOURCE_FLAG_TYPES)[string] | undefined;
  if (o.source !== undefined) {
    type = SOURCE_FLAG_TYPES[o.source.trim().toLowerCase()];
    if (!type)
      throw new UsageError(
        '--source',
        `'${o.source.slice(0, 40)}' is not one of ${Object.keys(SOURCE_FLAG_TYPES).join(', ')}`,
      );
    if (type === 'Peer') return downloadViaNode(version, platform, env);
    if (!SUPPORTED_TYPES.has(type))
      throw new DchatError(
        'E_NO_SOURCE',
        `--source ${o.source}: this build has no ${type} transport yet (use https)`,
      );
  }
  const flagLimit = rateValue(o.limitRate, '--limit-rate');
  const flagMin = rateValue(o.minRate, '--min-rate');
  const flagWindow = intFlag(o.slowWindow, '--slow-window', 1, 3600);
  const flagParallel = intFlag(o.parallel, '--parallel', 1, 16);

  const d = await discover(env, type);
  const now = () => env.ctx.now();
  let reports: SourceReport[] = [];
  const bar = new ProgressBar(env);
  const ctl = new AbortController();
  let running: Promise<DownloadResult> | undefined;
  // Ctrl-C / SIGTERM: stop the streams and let the engine record what is verified, then exit.
  env.ctx.onShutdown?.(async () => {
    ctl.abort();
    await running?.catch(() => {});
  });
  const log = env.logs.forComponent('download');
  try {
    const settings = d.session.config.settings;
    const targets = d.trusted.requireTargets();
    const target = findPackage(targets, version, platform);
    const limit = flagLimit ?? rateValue(settings.limit_rate, '--limit-rate') ?? 0;
    const minRate = flagMin ?? rateValue(settings.min_rate, '--min-rate') ?? 4096;
    env.out.line(
      `⬇️  Downloading ${target.path} (${formatSize(target.length)}) from ${d.session.live.length} mirror${d.session.live.length === 1 ? '' : 's'}`,
    );
    running = downloadPackage({
      target,
      allTargets: listPackages(targets),
      root: d.trusted.root.signed,
      sources: engineSources(d.session.live),
      paths: env.paths,
      limitRateBps: limit,
      minRateBps: minRate,
      slowWindowMs: (flagWindow ?? settings.slow_window_secs) * 1000,
      parallelSources: flagParallel ?? settings.parallel_sources,
      ...(settings.region ? { preferredRegion: settings.region } : {}),
      signal: ctl.signal,
      onEvent: (e) => {
        if (e.type !== 'progress') log.debug(e, e.type);
        onEvent(e, env, bar);
      },
      onFinish: (r) => {
        reports = r;
      },
    });
    const result = await running;
    bar.done();
    const pruned = await recordHealth(env.paths, mergeOutcomes(d.outcomes, downloadOutcomes(reports)), now());
    if (result.alreadyPresent) {
      env.out.line(`✅ Already downloaded and verified: ${result.path}`);
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
    reportPruned(env, pruned, settings.prune_after_failures);
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
      checks: Object.fromEntries(result.checks.map((c) => [c.name, c.ok])),
      sources: result.sources.map(sourceJson),
      metadata: metadataJson(d),
      pruned: prunedJson(pruned),
    });
    return 0;
  } catch (err) {
    bar.done();
    const pruned = await recordHealth(
      env.paths,
      mergeOutcomes(d.outcomes, downloadOutcomes(reports)),
      now(),
    ).catch(() => []);
    reportPruned(env, pruned, d.session.config.settings.prune_after_failures);
    throw err;
  } finally {
    await d.session.close();
  }
}

function sourceJson(r: SourceReport) {
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
      env.out.note(
        `⚠️  ${e.source}: ${e.code} ${e.message} (${e.action === 'ban' ? 'not used again in this download' : e.action === 'resume' ? 'resuming from the last verified chunk' : 'backing off; other sources take its chunks'})`,
      );
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

/** A one-line bar on stderr, only when stderr is a TTY and --json is off. */
class ProgressBar {
  private readonly env: CommandEnv;
  private shown = false;

  constructor(env: CommandEnv) {
    this.env = env;
  }

  update(done: number, total: number, rate: number): void {
    if (!this.env.out.interactive) return;
    const width = 30;
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const full = Math.round(frac * width);
    const line = `  [${'█'.repeat(full)}${'░'.repeat(width - full)}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatSize(done)}/${formatSize(total)} ${formatRate(rate)}`;
    this.env.ctx.stderr.write(`\r${line}\x1b[K`);
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

/**
 * `--source peer`: peers are the running node's (`dchat node start` on this home), so the node
 * fetches with its peer Source and the download engine, and this command reports the result.
 */
async function downloadViaNode(version: string, platform: string, env: CommandEnv): Promise<number> {
  const { controlRequest } = await import('../../node/control.ts');
  env.out.line(
    `⬇️  Asking the node of ${env.paths.home} to fetch dchat-${version}-${platform} from its peers`,
  );
  let r: { path: string; target: string; source: string; peers: Record<string, number> };
  try {
    r = (await controlRequest(env.paths, 'download', { version, platform }, 660_000)) as typeof r;
  } catch (err) {
    const e = toDchatError(err);
    if (e.code === 'E_NOT_FOUND')
      throw new DchatError(
        'E_NO_SOURCE',
        `--source peer needs a running node on this home (dchat node start): ${e.message}`,
        { cause: e },
      );
    throw e;
  }
  const peers = Object.keys(r.peers);
  env.out.line(
    `✅ Chunks and package verified by the node (${r.source === 'cache' ? 'already held' : `from ${peers.length} peer(s)`})`,
  );
  env.out.line(`✅ Package saved: ${r.path}`);
  env.out.result({ ok: true, version, platform, path: r.path, source: r.source, peers: r.peers });
  return 0;
}
