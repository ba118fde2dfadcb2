/**
 * Sources as the TUF client's metadata channel. `SourceMetadataFetcher` adapts one Source to the
 * updater's MetadataFetcher port (timeouts, caps, measured latency). `updateTrustFromSources` runs
 * the client update through a list of sources in order: a source that fails, or whose metadata the
 * updater rejects (bad signature, rollback, expired, malformed), is skipped and the next one tried.
 * Mirrors that disagree are thus resolved by signatures and the persisted anti-rollback state,
 * never by majority: one honest, fresh mirror is enough, and no number of stale ones can win.
 */
import { DchatError, isSecurityCode, SourceError } from '../errors.ts';
import type { MetadataFetcher, TrustStore, UpdateResult } from '../trust/updater.ts';
import { updateTrust } from '../trust/updater.ts';
import type { Source } from './source.ts';

export interface MetadataFetchOptions {
  signal?: AbortSignal;
  /** Per file (default 20 s). */
  timeoutMs?: number;
}

export class SourceMetadataFetcher implements MetadataFetcher {
  readonly source: Source;
  private readonly opts: MetadataFetchOptions;
  /** Milliseconds of the first request (connection set-up included): a latency sample. */
  firstMs: number | undefined;
  requests = 0;
  bytes = 0;

  constructor(source: Source, opts: MetadataFetchOptions = {}) {
    this.source = source;
    this.opts = opts;
  }

  async fetch(name: string, maxBytes: number): Promise<Uint8Array | undefined> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 20_000);
    const signal = this.opts.signal ? AbortSignal.any([this.opts.signal, timeout]) : timeout;
    const t0 = performance.now();
    try {
      const bytes = await this.source.fetchMetadata(name, { maxBytes, signal });
      this.requests++;
      this.bytes += bytes?.byteLength ?? 0;
      if (this.firstMs === undefined) this.firstMs = performance.now() - t0;
      return bytes;
    } catch (err) {
      if (timeout.aborted && !this.opts.signal?.aborted)
        throw new SourceError('E_TIMEOUT', `${this.source.uri}: ${name} not received in time`, {
          cause: err,
        });
      throw err;
    }
  }
}

export interface SourceAttempt {
  source: Source;
  ok: boolean;
  error?: DchatError;
  latencyMs?: number;
}

export interface SourcesUpdate extends UpdateResult {
  /** The source whose metadata was accepted. */
  source: Source;
  /** Every source tried, in order, with its outcome (for health records and reports). */
  attempts: SourceAttempt[];
}

/**
 * The TUF client update through the first source that yields a complete, fresh, correctly signed
 * set of metadata. Each attempt persists what it proved, so a newer timestamp seen on one mirror
 * makes an older one elsewhere a rollback (refused), and expiry is judged at `now` on every one.
 */
export async function updateTrustFromSources(
  store: TrustStore,
  sources: readonly Source[],
  now: Date,
  opts: MetadataFetchOptions = {},
): Promise<SourcesUpdate> {
  if (sources.length === 0)
    throw new DchatError(
      'E_NO_SOURCE',
      'no mirror to fetch release metadata from: add one with `dchat update add-mirror --url URL --mirror-type https`',
    );
  const attempts: SourceAttempt[] = [];
  for (const source of sources) {
    opts.signal?.throwIfAborted();
    const fetcher = new SourceMetadataFetcher(source, opts);
    try {
      const result = await updateTrust(store, fetcher, now);
      attempts.push({ source, ok: true, ...latency(fetcher) });
      return { ...result, source, attempts };
    } catch (err) {
      const e = err instanceof DchatError ? err : new SourceError('E_NETWORK', String(err), { cause: err });
      // Nothing any mirror says can help without a trusted root.
      if (e.code === 'E_NOT_INITIALIZED' || e.code === 'E_ABORTED') throw e;
      attempts.push({ source, ok: false, error: e, ...latency(fetcher) });
    }
  }
  throw summarize(attempts);
}

function latency(f: SourceMetadataFetcher): { latencyMs?: number } {
  return f.firstMs === undefined ? {} : { latencyMs: Math.round(f.firstMs) };
}

/**
 * One error for a list of failed attempts. A security failure (stale, expired, forged metadata)
 * outranks transport failures: when no mirror is fresh the operator must hear E_EXPIRED, not
 * "network error". A single source's error is passed through as is.
 */
function summarize(attempts: readonly SourceAttempt[]): DchatError {
  const errors = attempts.map((a) => a.error as DchatError);
  const details = {
    failures: attempts.map((a) => ({ source: a.source.uri, code: a.error?.code, message: a.error?.message })),
  };
  const security = errors.find((e) => isSecurityCode(e.code));
  const lines = attempts.map((a) => `${a.source.uri}: ${a.error?.code} ${a.error?.message}`).join('; ');
  if (security) {
    if (attempts.length === 1) return security;
    return new DchatError(security.code, `no mirror served acceptable metadata (${lines})`, {
      cause: security,
      details,
    });
  }
  if (attempts.length === 1) return errors[0] as DchatError;
  return new DchatError('E_NO_SOURCE', `no mirror answered with release metadata (${lines})`, { details });
}
